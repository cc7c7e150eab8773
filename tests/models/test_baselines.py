"""Bag-of-words classifier and fixed-window forecaster against NumPy references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.models import baselines as bl
from rnnjax.models.decoding import free_running


def test_bag_of_words_matches_numpy_and_ignores_order(key):
    model = bl.bag_of_words(10, 3, embed_size=4, hidden_size=5)
    p = model.init(key)
    tokens = jnp.array([[3, 4, 5, 0], [7, 7, 2, 9]])
    lengths = jnp.array([3, 4])
    logits = model.apply(p, tokens, lengths=lengths)
    P = jax.tree.map(np.asarray, p)
    for b, (t, n) in enumerate(zip(np.asarray(tokens), np.asarray(lengths), strict=True)):
        m = P.embed[t[:n]].mean(0)
        ref = np.maximum(m @ P.w1 + P.b1, 0) @ P.w2 + P.b2
        np.testing.assert_allclose(logits[b], ref, rtol=1e-5, atol=1e-6)
    shuffled = model.apply(p, jnp.array([[5, 3, 4, 8], [9, 2, 7, 7]]), lengths=lengths)  # pad ignored
    np.testing.assert_allclose(shuffled, logits, rtol=1e-5, atol=1e-6)


def test_linear_bag_of_words(key):
    model = bl.bag_of_words(6, 2, embed_size=3, hidden_size=None)
    p = model.init(key)
    assert p.w1 is None
    out = model.apply(p, jnp.array([1, 2, 2]))
    ref = np.asarray(p.embed)[[1, 2, 2]].mean(0) @ np.asarray(p.w2) + np.asarray(p.b2)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_window_forecaster_matches_numpy(key):
    model = bl.window_forecaster(3, hidden_size=4, horizon=2)
    p = model.init(key)
    x = jax.random.normal(key, (5, 3))
    P = jax.tree.map(np.asarray, p)
    ref = np.tanh(np.asarray(x) @ P.w1 + P.b1) @ P.w2 + P.b2
    np.testing.assert_allclose(model.apply(p, x), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("window", [1, 3])
def test_free_running_window_feeds_predictions_back(key, window):
    model = bl.window_forecaster(window, hidden_size=4, horizon=2)
    p = model.init(key)
    context = jnp.array([[0.1, 0.5, -0.2, 0.7], [1.0, 0.0, 0.3, -0.4]])
    carry = model.initial_carry(p, context)
    _, out = free_running(model, p, carry, context[:, -1:], 4)
    assert out.shape == (2, 4, 1)
    for b in range(2):
        w = list(np.asarray(context[b, -window:]))
        for t in range(4):
            y = float(model.apply(p, jnp.array(w))[0])  # the first of the horizon outputs
            np.testing.assert_allclose(out[b, t, 0], y, rtol=1e-5, atol=1e-6)
            w = w[1:] + [y]


@pytest.mark.parametrize("call, err, match", [
    (lambda: bl.bag_of_words(0, 2), ValueError, "vocab_size"),
    (lambda: bl.window_forecaster(3, hidden_size=0), ValueError, "hidden_size"),
    (lambda: bl.window_forecaster(3).apply(bl.window_forecaster(3).init(jax.random.key(0)),
                                           jnp.zeros(4)), ValueError, "window"),
    (lambda: bl.bag_of_words(4, 2).apply(bl.bag_of_words(4, 2).init(jax.random.key(0)),
                                         jnp.zeros(3)), TypeError, "integer tokens"),
    (lambda: bl.window_forecaster(3).initial_carry(None, jnp.zeros((2, 2))), ValueError,
     "at least window=3"),
])
def test_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()
