"""Character data: vocabulary, the generated corpus, windows, and the n-gram baseline."""

import collections
import math

import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.tasks import chars


def test_hello_is_the_lectures_example():
    vocab, x, y = chars.hello()
    assert vocab.chars == "helo"
    assert vocab.decode(x) == "hell" and vocab.decode(y) == "ello"


def test_corpus_is_deterministic_and_grammatical():
    a = chars.generate_corpus(5000, seed=1)
    assert a == chars.generate_corpus(5000, seed=1) != chars.generate_corpus(5000, seed=2)
    assert len(a) >= 5000 and set(a) <= set("abcdefghijklmnopqrstuvwxyz ,.\n")
    sentences = [s.strip() for s in a.replace("\n", " ").split(".") if s.strip()]
    # subject-verb agreement: "<det> <noun> sleeps" for singular, "sleep" for plural
    for s in sentences:
        w = s.split()
        if len(w) >= 3 and w[0] == "the" and w[1] in ("cat", "dog") and w[2] in ("sleep", "sleeps"):
            assert w[2] == "sleeps"
        if len(w) >= 3 and w[0] == "two" and w[1] in ("cats", "dogs") and w[2] in ("sleep", "sleeps"):
            assert w[2] == "sleep"


def test_vocab_roundtrip_and_errors(tmp_path):
    v = chars.Vocab.from_text("banana")
    assert v.chars == "abn" and v.decode(v.encode("nab")) == "nab"
    with pytest.raises(ValueError, match="'x' is not in the vocabulary"):
        v.encode("xa")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        chars.load_corpus(tmp_path / "missing.txt")


def test_windows_are_shifted_by_one(key):
    ids = jnp.arange(50, dtype=jnp.int32)
    x, y = chars.windows(ids, key=key, batch_size=4, seq_len=7)
    assert x.shape == y.shape == (4, 7)
    np.testing.assert_array_equal(y, x + 1)  # ids are consecutive integers
    np.testing.assert_array_equal(x[:, 1:] - x[:, :-1], 1)


def test_ngram_matches_a_direct_count():
    """P(c | h) from explicit dictionaries of counts, recursively interpolated."""
    text = "abracadabra abracadabra cadabra"
    v = chars.Vocab.from_text(text)
    ids = v.encode(text)
    test = v.encode("abracadab")
    order, alpha, V = 3, 0.5, len(v)
    counts = chars.ngram_counts(ids, order=order, vocab_size=V)
    got = chars.ngram_log_probs(counts, test, alpha=alpha)
    joint = [collections.Counter() for _ in range(order)]
    ctx = [collections.Counter() for _ in range(order)]
    for m in range(order):
        for t in range(m, len(ids)):
            h = tuple(ids[t - m:t])
            joint[m][h + (ids[t],)] += 1
            ctx[m][h] += 1
    ref = []
    for t in range(1, len(test)):
        p = 1.0 / V
        for m in range(min(order, t + 1)):
            h = tuple(test[t - m:t])
            p = (joint[m][h + (test[t],)] + alpha * p) / (ctx[m][h] + alpha)
        ref.append(math.log(p))
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    # a proper distribution: the probabilities of every next character sum to one
    probs = []
    for c in range(V):
        seq = np.concatenate([test[:5], [c]])
        probs.append(math.exp(chars.ngram_log_probs(counts, seq, alpha=alpha)[-1]))
    np.testing.assert_allclose(sum(probs), 1.0, rtol=1e-12)
