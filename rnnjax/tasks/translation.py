"""A generated translation task: numbers written in digits to English words.

    source  "4 0 1 7"   ->   target  "four thousand seventeen </s>"

Numbers ``0 ≤ n < 1 000 000``; the source is the decimal digits (no leading zeros), the target
the English words without "and" (``zero`` … ``nineteen``, ``twenty`` … ``ninety``, ``hundred``,
``thousand``) followed by the end token. The mapping is many-to-many with reordering and
variable lengths on both sides (1–6 digits -> 1–9 words), which is what an encoder–decoder is for:
"1 5" -> "fifteen" but "5 1" -> "fifty one"; the first word depends on the *number* of digits,
which only the whole source tells.

Vocabularies: :data:`SRC_VOCAB` = ``<pad>`` + digits; :data:`TGT_VOCAB` = ``<pad>``, ``<s>``
(start), ``</s>`` (end), then the words. Targets hold the words and the end token; a decoder's
teacher-forced input is the target shifted right behind the start token
(:func:`rnnjax.models.seq2seq.shift_right`). :func:`pairs` is a pure, jittable function of the
numbers, :func:`split` a fixed train/test split of the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

PAD, BOS, EOS = 0, 1, 2
ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
SRC_VOCAB: tuple[str, ...] = ("<pad>", *"0123456789")
TGT_VOCAB: tuple[str, ...] = ("<pad>", "<s>", "</s>", *ONES, *TEENS, *TENS, "hundred", "thousand")
MAX_NUMBER = 1_000_000
SRC_LEN = 6
# nine words at most ("seven hundred seventy seven thousand seven hundred seventy seven") + </s>
TGT_LEN = 10

_T = {w: i for i, w in enumerate(TGT_VOCAB)}
_ONES = jnp.array([_T[w] for w in ONES], jnp.int32)
_TEENS = jnp.array([_T[w] for w in TEENS], jnp.int32)
_TENS = jnp.array([0, 0, *(_T[w] for w in TENS)], jnp.int32)  # indexed by the tens digit


class Pairs(NamedTuple):
    """Source/target pairs, right-padded with ``PAD``.

    Attributes:
      src: ``(N, SRC_LEN)`` digit ids (``SRC_VOCAB``), most significant first.
      src_lengths: ``(N,)`` number of digits.
      tgt: ``(N, TGT_LEN)`` word ids (``TGT_VOCAB``), ending with ``EOS``.
      tgt_lengths: ``(N,)`` number of words including ``EOS``.
      numbers: ``(N,)`` the numbers.
    """

    src: jax.Array
    src_lengths: jax.Array
    tgt: jax.Array
    tgt_lengths: jax.Array
    numbers: jax.Array


def _compact(slots: jax.Array, present: jax.Array) -> tuple[jax.Array, jax.Array]:
    order = jnp.argsort(~present, stable=True)
    length = present.sum().astype(jnp.int32)
    return jnp.where(jnp.arange(slots.shape[0]) < length, slots[order], PAD), length


def _group(g: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Slots and presence of a three-digit group ``0 < g < 1000`` (nothing when ``g == 0``):
    ``[<hundreds> hundred] [<tens> | <teen>] [<ones>]``."""
    h, t, o = g // 100, g // 10 % 10, g % 10
    slots = jnp.stack([_ONES[h], jnp.int32(_T["hundred"]),
                       jnp.where(t == 1, _TEENS[o], _TENS[t]), _ONES[o]])
    present = jnp.stack([h > 0, h > 0, t > 0, (o > 0) & (t != 1)])
    return slots, present


def pair(number: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """``(src, src_lengths, tgt, tgt_lengths)`` of one number in ``[0, MAX_NUMBER)``."""
    n = jnp.asarray(number, jnp.int32)
    digits = jnp.stack([n // 10**k % 10 for k in range(SRC_LEN - 1, -1, -1)])
    n_digits = 1 + sum((n >= 10**k).astype(jnp.int32) for k in range(1, SRC_LEN))
    src, src_lengths = _compact(digits + 1, jnp.arange(SRC_LEN) >= SRC_LEN - n_digits)
    high, high_present = _group(n // 1000)
    low, low_present = _group(n % 1000)
    slots = jnp.concatenate([high, jnp.array([_T["thousand"]], jnp.int32),
                             low, jnp.array([_T["zero"], EOS], jnp.int32)])
    present = jnp.concatenate([high_present, (n >= 1000)[None], low_present,
                               (n == 0)[None], jnp.array([True])])
    tgt, tgt_lengths = _compact(slots, present)  # at most TGT_LEN of the 11 slots are present
    return src, src_lengths, tgt[:TGT_LEN], tgt_lengths


def pairs(numbers: jax.Array | Sequence[int]) -> Pairs:
    """Source/target :class:`Pairs` of the given numbers (each in ``[0, MAX_NUMBER)``)."""
    numbers = jnp.asarray(numbers, jnp.int32)
    if numbers.ndim != 1:
        raise ValueError(f"numbers must be a 1-D array, got shape {numbers.shape}")
    if not isinstance(numbers, jax.core.Tracer) and numbers.size and (
            int(numbers.min()) < 0 or int(numbers.max()) >= MAX_NUMBER):
        raise ValueError(f"numbers must lie in [0, {MAX_NUMBER}), got range "
                         f"[{int(numbers.min())}, {int(numbers.max())}]")
    return Pairs(*_pairs(numbers), numbers)


_pairs = jax.jit(jax.vmap(pair))


def split(*, key: jax.Array, n_test: int = 2000, max_number: int = MAX_NUMBER
          ) -> tuple[jax.Array, jax.Array]:
    """A random, disjoint ``(train_numbers, test_numbers)`` split of ``range(max_number)``."""
    if not 0 < max_number <= MAX_NUMBER:
        raise ValueError(f"max_number must be in (0, {MAX_NUMBER}], got {max_number}")
    if not 0 < n_test < max_number:
        raise ValueError(f"n_test must be in (0, max_number={max_number}), got {n_test}")
    perm = jax.random.permutation(key, max_number)
    return jnp.sort(perm[n_test:]), jnp.sort(perm[:n_test])


def decode(tokens: Sequence[int], vocab: Sequence[str] = TGT_VOCAB, *, stop_at_eos: bool = True
           ) -> str:
    """Words of one sequence, stopping before the first ``</s>`` (or pad)."""
    out = []
    for i in np.asarray(tokens).tolist():
        if i == PAD or (stop_at_eos and vocab[i] == "</s>"):
            break
        out.append(vocab[i])
    return " ".join(out)
