"""A generated review corpus where word order and negation decide the label, and a TSV loader.

Every review is built from one or two *clauses* ``the <noun> <verb> [not] [<intensifier>] <adj>``.
A clause's polarity is the adjective's polarity, flipped by ``not``:
``pol(clause) = pol(adj) · (−1)^[not]``. Three kinds of review:

``SIMPLE``    one clause without negation: "the plot was really clever" -> positive.
``NEGATED``   one clause with negation: "the acting is not good" -> negative. The label is the
              XOR of two words, so a *linear* bag-of-words model cannot fit it (it needs
              w_good > 0, w_good + w_not < 0, w_bad < 0, w_bad + w_not > 0); a non-linear one can.
``CONTRAST``  two clauses of opposite polarity joined by "but"; the clause after "but" decides:
              "the plot was not bad but the ending was dull" -> negative.
              The two clauses are drawn independently of the label and their order is a fair
              coin, so swapping them flips the label and keeps the multiset of words:
              ``P(bag | positive) = P(bag | negative)``. No function of the bag of words — linear
              or not — beats chance (50 %) on this kind. Only word order tells.

Tokens are integer ids into :data:`VOCAB` (``<pad>`` = 0, ``<unk>`` = 1), right-padded; a corpus is
a :class:`Corpus` of arrays. :func:`generate` is a pure, jittable function of its key.

:func:`load_tsv` reads a user's own ``text<TAB>label`` file (the SST-2 ``train.tsv`` format, header
optional) into the same :class:`Corpus`, with a vocabulary built from the file or given.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

PAD, UNK = 0, 1
SIMPLE, NEGATED, CONTRAST = 0, 1, 2
KIND_NAMES = ("simple", "negated", "contrast")

NOUNS = ("movie", "film", "plot", "acting", "story", "cast", "ending", "music", "script", "pacing")
VERBS = ("was", "is", "felt", "seemed")
INTENSIFIERS = ("very", "really", "truly", "quite")
POSITIVE = ("good", "great", "brilliant", "fun", "moving", "superb", "clever", "charming")
NEGATIVE = ("bad", "awful", "boring", "dull", "weak", "terrible", "clumsy", "bland")

VOCAB: tuple[str, ...] = (
    "<pad>", "<unk>", "the", "not", "but", *NOUNS, *VERBS, *INTENSIFIERS, *POSITIVE, *NEGATIVE
)
_ID = {w: i for i, w in enumerate(VOCAB)}
# Slots of the two-clause template; optional slots are dropped by `_compact`.
#   0 the  1 noun  2 verb  3 not  4 intensifier  5 adj  6 but  7 the  8 noun  9 verb 10 not ...
_CLAUSE_SLOTS = 6
MAX_LEN = 2 * _CLAUSE_SLOTS + 1


class Corpus(NamedTuple):
    """A batch of tokenised reviews.

    Attributes:
      tokens: ``(N, T)`` int32 word ids, right-padded with ``PAD``.
      lengths: ``(N,)`` int32 number of real tokens.
      labels: ``(N,)`` int32 class ids (generated corpus: 1 positive, 0 negative).
      kinds: ``(N,)`` int32 ``SIMPLE`` / ``NEGATED`` / ``CONTRAST`` (``-1`` for loaded files).
    """

    tokens: jax.Array
    lengths: jax.Array
    labels: jax.Array
    kinds: jax.Array


def _ids(words: Sequence[str]) -> jax.Array:
    return jnp.array([_ID[w] for w in words], jnp.int32)


def _clause(key: jax.Array, polarity: jax.Array, negate: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Slots and presence mask of one clause with the given polarity (±1) and negation (bool)."""
    k_noun, k_verb, k_int, k_use_int, k_adj = jax.random.split(key, 5)
    adj_polarity = jnp.where(negate, -polarity, polarity)
    adj = jnp.where(adj_polarity > 0,
                    jax.random.choice(k_adj, _ids(POSITIVE)),
                    jax.random.choice(k_adj, _ids(NEGATIVE)))
    slots = jnp.stack([
        jnp.int32(_ID["the"]),
        jax.random.choice(k_noun, _ids(NOUNS)),
        jax.random.choice(k_verb, _ids(VERBS)),
        jnp.int32(_ID["not"]),
        jax.random.choice(k_int, _ids(INTENSIFIERS)),
        adj,
    ])
    present = jnp.array([True, True, True, False, False, True]).at[3].set(negate)
    present = present.at[4].set(jax.random.bernoulli(k_use_int, 0.3))
    return slots, present


def _compact(slots: jax.Array, present: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Move present slots to the front (stable) and pad the rest: ``(tokens, length)``."""
    order = jnp.argsort(~present, stable=True)
    length = present.sum().astype(jnp.int32)
    tokens = jnp.where(jnp.arange(slots.shape[0]) < length, slots[order], PAD)
    return tokens, length


def generate_one(key: jax.Array, kind_probs: jax.Array) -> tuple[jax.Array, jax.Array,
                                                                  jax.Array, jax.Array]:
    """One review: ``(tokens (MAX_LEN,), length, label, kind)``; see the module docstring."""
    k_kind, k_label, k_neg, k_a, k_b = jax.random.split(key, 5)
    kind = jax.random.choice(k_kind, 3, p=kind_probs).astype(jnp.int32)
    label = jax.random.bernoulli(k_label).astype(jnp.int32)
    polarity = 2 * label - 1  # of the deciding (last) clause
    neg_a, neg_b = jax.random.bernoulli(k_neg, 0.5, (2,))
    # The deciding clause comes last; for one-clause reviews it is the only one.
    negate_last = jnp.where(kind == SIMPLE, False, jnp.where(kind == NEGATED, True, neg_b))
    first, first_present = _clause(k_a, -polarity, neg_a)
    last, last_present = _clause(k_b, polarity, negate_last)
    two = kind == CONTRAST
    slots = jnp.concatenate([first, jnp.array([_ID["but"]], jnp.int32), last])
    present = jnp.concatenate([first_present & two, two[None], last_present])
    tokens, length = _compact(slots, present)
    return tokens, length, label, kind


def generate(n: int, *, key: jax.Array, kind_probs: Sequence[float] = (1 / 3, 1 / 3, 1 / 3)
             ) -> Corpus:
    """``n`` generated reviews (``MAX_LEN`` = 13 token slots), a pure function of ``key``.

    Args:
      n: number of reviews.
      key: a JAX PRNG key.
      kind_probs: probabilities of ``SIMPLE``, ``NEGATED``, ``CONTRAST``.
    """
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    p = np.asarray(kind_probs, np.float64)
    if p.shape != (3,) or (p < 0).any() or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"kind_probs must be 3 non-negative numbers summing to 1, got {kind_probs}")
    keys = jax.random.split(key, int(n))
    return Corpus(*_generate_batch(keys, jnp.asarray(p, jnp.float32)))


_generate_batch = jax.jit(jax.vmap(generate_one, in_axes=(0, None)))


# ----------------------------------------------------------------------------- text <-> ids

_TOKEN = re.compile(r"[\w']+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case words and punctuation marks: ``"Not bad, really!" -> [not, bad, ",", really, !]``."""
    return _TOKEN.findall(text.lower())


def build_vocab(texts: Iterable[str], *, min_count: int = 1, max_size: int | None = None
                ) -> tuple[str, ...]:
    """``("<pad>", "<unk>", words...)`` by decreasing count (ties alphabetical)."""
    counts = Counter(w for t in texts for w in tokenize(t))
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    words = [w for w in words if w not in ("<pad>", "<unk>")]
    if max_size is not None:
        words = words[: max(0, max_size - 2)]
    return ("<pad>", "<unk>", *words)


def encode(texts: Sequence[str], vocab: Sequence[str], *, max_len: int | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Token ids ``(N, T)`` (right-padded, truncated to ``max_len``) and lengths ``(N,)``."""
    if len(vocab) < 2 or vocab[PAD] != "<pad>" or vocab[UNK] != "<unk>":
        raise ValueError("vocab must start with '<pad>', '<unk>' (see build_vocab)")
    index = {w: i for i, w in enumerate(vocab)}
    seqs = [[index.get(w, UNK) for w in tokenize(t)] for t in texts]
    if max_len is not None:
        seqs = [s[:max_len] for s in seqs]
    width = max((len(s) for s in seqs), default=0) if max_len is None else max_len
    tokens = np.full((len(seqs), max(width, 1)), PAD, np.int32)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = s
    return tokens, np.array([len(s) for s in seqs], np.int32)


def decode(tokens: Sequence[int], length: int | None = None,
           vocab: Sequence[str] = VOCAB) -> str:
    """Words of one tokenised review, up to ``length`` (default: up to the first pad)."""
    ids = [int(t) for t in np.asarray(tokens)]
    if length is None:
        length = ids.index(PAD) if PAD in ids else len(ids)
    return " ".join(vocab[i] for i in ids[: int(length)])


class LoadedCorpus(NamedTuple):
    """What :func:`load_tsv` returns: the corpus, its vocabulary and the class names."""

    corpus: Corpus
    vocab: tuple[str, ...]
    label_names: tuple[str, ...]


def load_tsv(path: str | PathLike, *, vocab: Sequence[str] | None = None,
             max_len: int | None = None, min_count: int = 1) -> LoadedCorpus:
    """Read a ``text<TAB>label`` file (e.g. SST-2's ``train.tsv``) into a :class:`Corpus`.

    One example per non-empty line; the label is the text after the *last* tab. A first line whose
    label is not a class (such as SST-2's ``sentence<TAB>label`` header) is skipped when every other
    label is an integer. Integer labels are used as class ids (they must be ``0..C-1``); other
    labels are mapped to ids in sorted order. ``vocab`` defaults to one built from the file.

    Raises:
      FileNotFoundError: the file does not exist.
      ValueError: a line without a tab, an empty text, or no examples.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file {str(path)!r} does not exist")
    rows: list[tuple[int, str, str]] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            if "\t" not in line:
                raise ValueError(f"{path}:{lineno}: expected 'text<TAB>label', found no tab")
            text, label = line.rsplit("\t", 1)
            rows.append((lineno, text.strip(), label.strip()))
    if rows and not _is_int(rows[0][2]) and all(_is_int(r[2]) for r in rows[1:]) and len(rows) > 1:
        rows = rows[1:]  # header
    if not rows:
        raise ValueError(f"{path}: no examples")
    for lineno, text, _ in rows:
        if not text:
            raise ValueError(f"{path}:{lineno}: empty text")
    raw = [r[2] for r in rows]
    if all(_is_int(s) for s in raw):
        labels = np.array([int(s) for s in raw], np.int32)
        if labels.min() < 0:
            raise ValueError(f"{path}: integer labels must be >= 0, got {labels.min()}")
        names = tuple(str(i) for i in range(int(labels.max()) + 1))
    else:
        names = tuple(sorted(set(raw)))
        labels = np.array([names.index(s) for s in raw], np.int32)
    texts = [r[1] for r in rows]
    vocab = tuple(vocab) if vocab is not None else build_vocab(texts, min_count=min_count)
    tokens, lengths = encode(texts, vocab, max_len=max_len)
    kinds = np.full(len(rows), -1, np.int32)
    corpus = Corpus(jnp.asarray(tokens), jnp.asarray(lengths), jnp.asarray(labels),
                    jnp.asarray(kinds))
    return LoadedCorpus(corpus, vocab, names)


def _is_int(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True
