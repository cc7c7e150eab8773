"""The adding-problem generators against NumPy recomputations and Monte Carlo statistics."""

import jax
import numpy as np
import pytest

from rnnjax.tasks import adding


def _np(batch):
    return np.asarray(batch.inputs, np.float64), np.asarray(batch.targets, np.float64)


@pytest.mark.slow
def test_modern_markers_one_in_each_half_and_target_is_the_marked_sum(key):
    for length in (2, 7, 40):
        x, y = _np(adding.batch(key=key, batch_size=500, length=length))
        assert x.shape == (500, length, 2) and y.shape == (500,)
        values, markers = x[..., 0], x[..., 1]
        assert set(np.unique(markers)) <= {0.0, 1.0}
        half = length // 2
        np.testing.assert_array_equal(markers[:, :half].sum(1), 1.0)
        np.testing.assert_array_equal(markers[:, half:].sum(1), 1.0)
        assert values.min() >= 0.0 and values.max() <= 1.0
        np.testing.assert_allclose(y, (values * markers).sum(1), rtol=1e-6, atol=1e-6)


def test_modern_baseline_is_one_sixth_by_monte_carlo(key):
    _, y = _np(adding.batch(key=key, batch_size=40_000, length=20))
    mse_of_predicting_one = np.mean((y - 1.0) ** 2)
    # Var((y-1)^2) <= 1 / 20 ... 0.02; standard error ~ 0.0007 at n = 40000
    assert abs(mse_of_predicting_one - 1 / 6) < 0.004
    assert adding.baseline() == pytest.approx(1 / 6)
    # and 1 is the best constant: the mean target
    assert abs(y.mean() - 1.0) < 0.01


def test_modern_marker_positions_are_uniform_within_halves(key):
    length = 10
    x, _ = _np(adding.batch(key=key, batch_size=20_000, length=length))
    counts = x[..., 1].sum(0) / 20_000  # each position is marked with probability 1/5
    np.testing.assert_allclose(counts, np.full(length, 1 / 5), atol=0.015)


def test_hs97_form_matches_the_paper(key):
    length = 30
    x, y = _np(adding.batch(key=key, batch_size=4000, length=length, form="hs97"))
    values, markers = x[..., 0], x[..., 1]
    marked = markers == 1.0
    assert values.min() >= -1.0 and values.max() <= 1.0
    np.testing.assert_array_equal(marked.sum(1), 2)
    np.testing.assert_allclose(y, 0.5 + (values * marked).sum(1) / 4, rtol=1e-6, atol=1e-6)
    first = marked.argmax(1)
    last = length - 1 - marked[:, ::-1].argmax(1)
    assert first.max() < 10                           # one of the first ten is marked
    assert last.max() < length // 2 - 1               # the other among the first T/2 - 1
    # ends carry -1 unless marked; a marked position 0 has value zero
    assert np.all((markers[:, 0] == -1.0) | marked[:, 0])
    np.testing.assert_array_equal(markers[:, -1], -1.0)
    np.testing.assert_array_equal(values[marked[:, 0], 0], 0.0)
    assert np.all((markers[:, 1:-1] == 0.0) | marked[:, 1:-1])
    assert abs(np.mean((y - 0.5) ** 2) - adding.baseline("hs97")) < 0.004


def test_solved_is_the_tolerance_criterion():
    y = np.array([0.5, 0.5, 0.5])
    pred = np.array([0.5, 0.539, 0.541])
    np.testing.assert_array_equal(adding.solved(pred, y), [True, True, False])
    with pytest.raises(ValueError, match="same shape"):
        adding.solved(pred[:2], y)


def test_stream_and_split_are_reproducible_and_independent(key):
    a = adding.batch(key=key, batch_size=8, length=12)
    b = adding.batch(key=key, batch_size=8, length=12)
    c = adding.batch(key=jax.random.fold_in(key, 1), batch_size=8, length=12)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, c.inputs)
    train, test = adding.split(key=key, n_train=16, n_test=8, length=12)
    assert train.inputs.shape == (16, 12, 2) and test.targets.shape == (8,)
    assert not np.array_equal(train.inputs[:8], test.inputs)
    # a batch is the vmapped example over split keys
    x0, y0 = adding.example(key=jax.random.split(key, 8)[3], length=12)
    assert x0.shape == (12, 2) and y0.shape == ()
    np.testing.assert_array_equal(a.inputs[3], x0)
    np.testing.assert_array_equal(a.targets[3], y0)


def test_works_under_jit(key):
    f = jax.jit(lambda k: adding.batch(key=k, batch_size=4, length=9).targets.sum())
    assert np.isfinite(float(f(key)))


@pytest.mark.parametrize("kwargs, error", [
    (dict(length=1), ValueError), (dict(length=5, form="hs97"), ValueError),
    (dict(length=10.0), TypeError), (dict(length=10, form="le2015"), ValueError),
    (dict(length=10, batch_size=0), ValueError),
])
def test_bad_input_is_rejected(key, kwargs, error):
    kwargs = {"batch_size": 2, **kwargs}
    with pytest.raises(error):
        adding.batch(key=key, **kwargs)
