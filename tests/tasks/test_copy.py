"""The copy-task generator: layout, alignment, and the memoryless baseline by Monte Carlo."""

import math

import jax
import numpy as np
import pytest

from rnnjax.tasks import copy


@pytest.mark.parametrize("delay, n_symbols, n_categories", [(1, 10, 8), (7, 10, 8), (5, 3, 4)])
def test_layout_and_alignment(key, delay, n_symbols, n_categories):
    data = copy.batch(key=key, batch_size=300, delay=delay, n_symbols=n_symbols,
                      n_categories=n_categories)
    x, y = np.asarray(data.inputs), np.asarray(data.targets)
    n = delay + 2 * n_symbols
    assert x.shape == y.shape == (300, n) == (300, copy.sequence_length(delay, n_symbols))
    assert x.dtype == y.dtype == np.int32
    symbols = x[:, :n_symbols]
    assert symbols.min() >= 1 and symbols.max() <= n_categories
    np.testing.assert_array_equal(x[:, n_symbols:n_symbols + delay - 1], copy.BLANK)
    np.testing.assert_array_equal(x[:, n_symbols + delay - 1], copy.delimiter(n_categories))
    np.testing.assert_array_equal(x[:, n_symbols + delay:], copy.BLANK)
    np.testing.assert_array_equal(y[:, :delay + n_symbols], copy.BLANK)
    np.testing.assert_array_equal(y[:, -n_symbols:], symbols)  # the targets are the symbols
    assert x.max() < copy.vocab_size(n_categories)
    # the delimiter comes exactly S steps before the first symbol must be produced
    assert n_symbols + delay - 1 + 1 == n - n_symbols


def test_baseline_matches_the_memoryless_predictor_by_monte_carlo(key):
    delay, K = 30, 8
    y = np.asarray(copy.batch(key=key, batch_size=4000, delay=delay).targets)
    # the best input-independent predictor is the per-position empirical distribution
    entropy = 0.0
    for t in range(y.shape[1]):
        p = np.bincount(y[:, t], minlength=copy.vocab_size(K)) / y.shape[0]
        entropy -= np.sum(p[p > 0] * np.log(p[p > 0]))
    entropy /= y.shape[1]
    assert entropy == pytest.approx(copy.baseline(delay), rel=0.01)
    assert copy.baseline(delay) == pytest.approx(10 * math.log(8) / (delay + 20))


def test_symbols_are_uniform(key):
    x = np.asarray(copy.batch(key=key, batch_size=5000, delay=2).inputs[:, :10])
    freq = np.bincount(x.ravel(), minlength=10)[1:9] / x.size
    np.testing.assert_allclose(freq, 1 / 8, atol=0.01)


def test_split_and_stream(key):
    train, test = copy.split(key=key, n_train=6, n_test=4, delay=3)
    assert train.inputs.shape == (6, 23) and test.targets.shape == (4, 23)
    a = copy.batch(key=key, batch_size=4, delay=3)
    b = copy.batch(key=jax.random.fold_in(key, 1), batch_size=4, delay=3)
    assert not np.array_equal(a.inputs, b.inputs)
    x, y = copy.example(key=key, delay=3)
    assert x.shape == y.shape == (23,)


@pytest.mark.parametrize("kwargs", [dict(delay=0), dict(delay=3, n_symbols=0),
                                    dict(delay=3, n_categories=0), dict(delay=2.5),
                                    dict(delay=3, batch_size=-1)])
def test_bad_input_is_rejected(key, kwargs):
    kwargs = {"batch_size": 2, **kwargs}
    with pytest.raises(ValueError):
        copy.batch(key=key, **kwargs)
