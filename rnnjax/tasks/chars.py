"""Character-level language-model data: the lecture's "hello", a generated English-like corpus,
user text files, random training windows, and the n-gram baseline.

The corpus
----------
:func:`generate_corpus` writes English-like text from a small probabilistic grammar of this
project's own making (so it is MIT-licensed with the code, and nothing is downloaded)::

    the old cats near the river sleep quietly. when a clever child watches the birds, the dogs
    that the farmer likes run again. the teacher says that some students remember the sky.

Subjects agree in number with their verbs across prepositional phrases and relative clauses
("the cats near the river sleep"), which an n-gram model with a short context cannot track and
a recurrent network can. :func:`load_corpus` reads any UTF-8 text file instead.

The n-gram baseline
-------------------
The lecture's "traditional fix": predict a character from the previous ``n - 1``. Counts are
smoothed by recursive interpolation with the ``(n-1)``-gram (a Dirichlet prior of strength
``alpha`` centred on the lower order; order 0 is uniform over the vocabulary):

.. math::  P_n(c \\mid h) = \\frac{N(h, c) + \\alpha\\, P_{n-1}(c \\mid h')}{N(h) + \\alpha}

where ``h'`` drops the oldest character of ``h``. Perplexity is ``exp`` of the mean negative
log-likelihood per character (nats).

::

    from rnnjax.tasks import chars
    text = chars.generate_corpus(100_000, seed=0)
    vocab = chars.Vocab.from_text(text)
    ids = vocab.encode(text)
    counts = chars.ngram_counts(ids[:90_000], order=4, vocab_size=len(vocab))
    chars.ngram_perplexity(counts, ids[90_000:], alpha=1.0)
    inputs, targets = chars.windows(jnp.asarray(ids), key=key, batch_size=32, seq_len=64)
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax import _checks

Array = jax.Array

HELLO = "hello"


class Vocab(NamedTuple):
    """An ordered character vocabulary: ``chars[i]`` is the character of id ``i``."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """The sorted set of characters of ``text``."""
        if not text:
            raise ValueError("cannot build a vocabulary from empty text")
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Text -> int32 ids; a character outside the vocabulary raises ``ValueError``."""
        index = {c: i for i, c in enumerate(self.chars)}
        try:
            return np.fromiter((index[c] for c in text), dtype=np.int32, count=len(text))
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary {self.chars!r}") from None

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))


def hello() -> tuple[Vocab, np.ndarray, np.ndarray]:
    """The lecture's example: vocabulary ``[h, e, l, o]``, inputs "hell", targets "ello"."""
    vocab = Vocab("helo")
    ids = vocab.encode(HELLO)
    return vocab, ids[:-1], ids[1:]


# ----------------------------------------------------------------------------- the grammar

_NOUNS = [("cat", "cats"), ("dog", "dogs"), ("bird", "birds"), ("child", "children"),
          ("teacher", "teachers"), ("student", "students"), ("farmer", "farmers"),
          ("machine", "machines"), ("network", "networks"), ("river", "rivers"),
          ("tree", "trees"), ("cloud", "clouds")]
_ANIMATE = 9  # the first nine nouns can be subjects of every verb
_INTRANSITIVE = [("sleeps", "sleep"), ("runs", "run"), ("sings", "sing"), ("waits", "wait"),
                 ("learns", "learn"), ("falls", "fall"), ("grows", "grow"), ("rests", "rest")]
_TRANSITIVE = [("sees", "see"), ("follows", "follow"), ("likes", "like"), ("finds", "find"),
               ("remembers", "remember"), ("watches", "watch"), ("helps", "help")]
_ADJECTIVES = ["old", "small", "quiet", "bright", "green", "clever", "tired", "happy", "red"]
_ADVERBS = ["slowly", "quietly", "again", "today", "often", "always", "together"]
_PREPOSITIONS = ["near", "behind", "under", "with", "above"]
_PLACES = ["the river", "the trees", "the old house", "the hill", "the sky", "the garden"]


class _Grammar:
    """Sentences of the grammar; every random choice comes from ``rng``."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def pick(self, items):
        return items[int(self.rng.integers(len(items)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def noun_phrase(self, plural: bool, depth: int, animate: bool = False) -> str:
        det = self.pick(["the", "some", "many", "two"] if plural else ["the", "a", "every"])
        words = [det]
        if self.chance(0.4):
            words.append(self.pick(_ADJECTIVES))
        words.append(self.pick(_NOUNS[:_ANIMATE] if animate else _NOUNS)[1 if plural else 0])
        if depth < 2 and self.chance(0.3):  # "the cats near the river ..."
            words += [self.pick(_PREPOSITIONS), self.pick(_PLACES)]
        elif depth < 1 and self.chance(0.25):  # "the cats that the farmer likes ..."
            inner_plural = self.chance(0.5)
            inner_det = self.pick(["the", "some"] if inner_plural else ["the", "a"])
            inner_noun = self.pick(_NOUNS[:_ANIMATE])[1 if inner_plural else 0]
            verb = self.pick(_TRANSITIVE)[1 if inner_plural else 0]
            words += ["that", inner_det, inner_noun, verb]
        return " ".join(words)

    def clause(self, depth: int = 0) -> str:
        plural = self.chance(0.5)
        words = [self.noun_phrase(plural, depth, animate=True)]
        if self.chance(0.5):
            words.append(self.pick(_INTRANSITIVE)[1 if plural else 0])
            if self.chance(0.5):
                words.append(self.pick(_ADVERBS))
        else:
            words.append(self.pick(_TRANSITIVE)[1 if plural else 0])
            words.append(self.noun_phrase(self.chance(0.5), depth + 1))
        return " ".join(words)

    def sentence(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            s = self.clause()
        elif r < 0.65:
            s = f"{self.clause()}, and {self.clause()}"
        elif r < 0.8:
            s = f"when {self.clause(1)}, {self.clause()}"
        elif r < 0.92:
            plural = self.chance(0.5)
            who = self.noun_phrase(plural, 2, animate=True)
            s = f"{who} {'say' if plural else 'says'} that {self.clause(1)}"
        else:
            s = f"the sky is {self.pick(['blue', 'grey', 'bright', 'dark'])}"
        return s + "."


def generate_corpus(n_chars: int, *, seed: int = 0, sentences_per_line: int = 6) -> str:
    """About ``n_chars`` characters (whole sentences) of text from the grammar above.

    Lower-case letters, space, comma, full stop and newline (one line per
    ``sentences_per_line`` sentences). Deterministic in ``seed``.
    """
    n_chars = _checks.positive_int(n_chars, "n_chars")
    g = _Grammar(np.random.default_rng(seed))
    lines, line, total = [], [], 0
    while total < n_chars:
        s = g.sentence()
        line.append(s)
        total += len(s) + 1
        if len(line) == sentences_per_line:
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def load_corpus(path: str | os.PathLike) -> str:
    """The text of a UTF-8 file; a missing or empty file raises a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    if len(text) < 2:
        raise ValueError(f"corpus file {str(path)!r} has fewer than 2 characters")
    return text


def split(ids: np.ndarray, fractions=(0.9, 0.05, 0.05)) -> tuple[np.ndarray, ...]:
    """Consecutive train / validation / test parts of ``ids`` in the given fractions."""
    if not math.isclose(sum(fractions), 1.0) or any(f <= 0 for f in fractions):
        raise ValueError(f"fractions must be positive and sum to 1, got {fractions}")
    cuts = np.cumsum([int(round(f * len(ids))) for f in fractions[:-1]])
    return tuple(np.split(np.asarray(ids), cuts))


# ----------------------------------------------------------------------------- training windows


def windows(ids: Array, *, key: Array, batch_size: int, seq_len: int) -> tuple[Array, Array]:
    """``batch_size`` random windows: inputs ``ids[s:s+T]`` and targets ``ids[s+1:s+T+1]``."""
    n = ids.shape[0]
    if n < seq_len + 1:
        raise ValueError(f"the text ({n} characters) is shorter than seq_len + 1 = {seq_len + 1}")
    starts = jax.random.randint(key, (batch_size,), 0, n - seq_len)
    idx = starts[:, None] + jnp.arange(seq_len + 1)[None, :]
    chunk = ids[idx]
    return chunk[:, :-1], chunk[:, 1:]


def streams(ids: np.ndarray, n_streams: int) -> tuple[np.ndarray, np.ndarray]:
    """Evaluation layout: ``ids`` cut into ``n_streams`` consecutive rows (inputs, targets).

    Every character but the first of each row is predicted once, from all of its row's past,
    by running the model over the rows with its state carried.
    """
    ids = np.asarray(ids)
    length = (len(ids) - 1) // n_streams
    if length < 1:
        raise ValueError(f"{len(ids)} characters cannot fill {n_streams} evaluation streams")
    x = ids[: n_streams * length].reshape(n_streams, length)
    y = ids[1 : n_streams * length + 1].reshape(n_streams, length)
    return x, y


# ----------------------------------------------------------------------------- n-gram baseline


class NGramCounts(NamedTuple):
    """Sorted context codes and their counts for orders ``0 .. order-1`` of context length."""

    order: int
    vocab_size: int
    joint_codes: tuple[np.ndarray, ...]  # per context length m: sorted codes of (h, c)
    joint_counts: tuple[np.ndarray, ...]
    context_codes: tuple[np.ndarray, ...]  # per m: sorted codes of h
    context_counts: tuple[np.ndarray, ...]


def _codes(ids: np.ndarray, m: int, vocab_size: int) -> np.ndarray:
    """Code of the m characters before each position t >= m (base vocab_size, int64)."""
    n = len(ids)
    code = np.zeros(n - m, dtype=np.int64)
    for j in range(m):  # oldest first
        code = code * vocab_size + ids[j : n - m + j]
    return code


def ngram_counts(ids: np.ndarray, *, order: int, vocab_size: int) -> NGramCounts:
    """Counts of every context of length ``0 .. order-1`` and its next character."""
    order = _checks.positive_int(order, "order")
    if vocab_size ** order >= 2**62:
        raise ValueError(f"order {order} is too large for a vocabulary of {vocab_size}")
    ids = np.asarray(ids, np.int64)
    jc, jn, cc, cn = [], [], [], []
    for m in range(order):
        h = _codes(ids, m, vocab_size)  # the m characters before position t, for t >= m
        c = ids[m:]  # the character at position t
        u, n = np.unique(h * vocab_size + c, return_counts=True)
        jc.append(u)
        jn.append(n)
        u, n = np.unique(h, return_counts=True)
        cc.append(u)
        cn.append(n)
    return NGramCounts(order, vocab_size, tuple(jc), tuple(jn), tuple(cc), tuple(cn))


def _lookup(codes: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
    i = np.searchsorted(codes, query)
    i = np.minimum(i, len(codes) - 1)
    return np.where(codes[i] == query, counts[i], 0).astype(np.float64)


def ngram_log_probs(counts: NGramCounts, ids: np.ndarray, *, alpha: float = 1.0) -> np.ndarray:
    """``log P(ids[t] | ids[t-n+1:t])`` for ``t >= 1`` (natural log), smoothed as above."""
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    ids = np.asarray(ids, np.int64)
    V = counts.vocab_size
    p = np.full(len(ids), 1.0 / V)
    for m in range(counts.order):
        h = _codes(ids, m, V)  # contexts for positions m..n-1
        c = ids[m:]
        joint = _lookup(counts.joint_codes[m], counts.joint_counts[m], h * V + c)
        ctx = _lookup(counts.context_codes[m], counts.context_counts[m], h)
        p[m:] = (joint + alpha * p[m:]) / (ctx + alpha)
    return np.log(p[1:])


def ngram_perplexity(counts: NGramCounts, ids: np.ndarray, *, alpha: float = 1.0) -> float:
    """``exp(-mean log P)`` over ``ids[1:]``."""
    return float(np.exp(-np.mean(ngram_log_probs(counts, ids, alpha=alpha))))
