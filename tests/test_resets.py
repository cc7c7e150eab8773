"""Resets (packed sequences), clipped lengths and NaN padding, against per-segment runs."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.compose import Bidirectional
from tests.test_cells import random_params

T = 6
# Two sequences: lengths 6 and 4; segments [0,2) [2,5) [5,6) and [0,1) [1,4) (a reset at t=5 in
# the padding of the second is ignored; resets at t=0 change nothing).
RESETS = np.array([[1, 0, 1, 0, 0, 1], [0, 1, 0, 0, 0, 1]], bool)
LENGTHS = np.array([6, 4])

COMPOSITIONS = {
    "lstm": lambda: rnnjax.cells.lstm(3),
    "stack": lambda: rnnjax.stack([rnnjax.cells.gru(3), rnnjax.cells.elman(3)]),
    "bidirectional": lambda: rnnjax.bidirectional(rnnjax.cells.elman(3), rnnjax.cells.lstm(2)),
    "learned": lambda: rnnjax.init.learned_initial_carry(rnnjax.cells.gru(3)),
}


def _segments(resets, length):
    starts = [0] + [t for t in range(1, length) if resets[t]]
    return list(zip(starts, starts[1:] + [length], strict=True)) if length else []


def per_segment(cell, p, xs, resets, lengths, reverse):
    """Every segment run alone from the initial carry; padding outputs zero."""
    finals, outputs = [], []
    for b in range(xs.shape[0]):
        c0 = cell.initial_carry(p, ())
        ys = [jnp.zeros((T, cell.output_size))]
        runs = [rnnjax.unroll(cell, p, xs[b, s:e], reverse=reverse) + (s, e)
                for s, e in _segments(resets[b], lengths[b])]
        for _, y, s, e in runs:
            ys.append(jnp.pad(y, ((s, T - e), (0, 0))))
        if not runs:
            final = c0
        elif isinstance(c0, Bidirectional):  # forward half from the last segment, backward first
            (last, first) = (runs[-1][0], runs[0][0]) if not reverse else (runs[0][0], runs[-1][0])
            final = Bidirectional(last.forward, first.backward)
        else:
            final = runs[0][0] if reverse else runs[-1][0]
        finals.append(final)
        outputs.append(sum(ys))
    return jax.tree.map(lambda *a: jnp.stack(a), *finals), jnp.stack(outputs)


@pytest.mark.parametrize("name", COMPOSITIONS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.slow
def test_resets_equal_per_segment_runs(name, reverse, key):
    cell = COMPOSITIONS[name]()
    p = random_params(cell, key, input_size=2)
    xs = jax.random.normal(key, (2, T, 2))
    want = per_segment(cell, p, xs, RESETS, LENGTHS, reverse)
    run = lambda **kw: rnnjax.unroll(cell, p, xs, lengths=jnp.asarray(LENGTHS),
                                     resets=jnp.asarray(RESETS), reverse=reverse, **kw)
    chex.assert_trees_all_close(run(), want, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(run(remat=4), want, rtol=1e-5, atol=1e-6)  # T not a multiple
    vmapped = jax.vmap(lambda x, r, n: rnnjax.unroll(cell, p, x, lengths=n, resets=r,
                                                     reverse=reverse))
    chex.assert_trees_all_close(vmapped(xs, jnp.asarray(RESETS), jnp.asarray(LENGTHS)), want,
                                rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reverse", [False, True])
def test_resets_without_lengths_and_under_jit(reverse, key):
    cell = rnnjax.cells.gru(3)
    p = random_params(cell, key, input_size=2)
    xs = jax.random.normal(key, (2, T, 2))
    full = np.array([T, T])
    want = per_segment(cell, p, xs, RESETS, full, reverse)
    f = jax.jit(lambda r: rnnjax.unroll(cell, p, xs, resets=r, reverse=reverse, remat=2))
    chex.assert_trees_all_close(f(jnp.asarray(RESETS)), want, rtol=1e-5, atol=1e-6)


def test_reset_carry_differs_from_the_starting_carry(key):
    """A chunk starts from a carried state; a reset inside it restores the fresh one."""
    cell = rnnjax.cells.lstm(3)
    p = random_params(cell, key, input_size=2)
    xs = jax.random.normal(key, (T, 2))
    start = jax.tree.map(lambda c: c + 0.5, cell.initial_carry(p, ()))
    resets = jnp.zeros(T, bool).at[3].set(True)
    fresh = cell.initial_carry(p, ())
    carry, ys = rnnjax.unroll(cell, p, xs, start, resets=resets, reset_carry=fresh)
    _, y1 = rnnjax.unroll(cell, p, xs[:3], start)
    c2, y2 = rnnjax.unroll(cell, p, xs[3:])
    chex.assert_trees_all_close((carry, ys), (c2, jnp.concatenate([y1, y2])), rtol=1e-5, atol=1e-6)
    # without reset_carry the reset restores the carry the run started from
    _, ys = rnnjax.unroll(cell, p, xs, start, resets=resets)
    np.testing.assert_allclose(ys[3:], rnnjax.unroll(cell, p, xs[3:], start)[1], rtol=1e-5, atol=1e-6)


def test_resets_gradients_equal_per_segment_gradients(key):
    cell = rnnjax.init.learned_initial_carry(rnnjax.cells.elman(3))
    p = random_params(cell, key, input_size=2)
    xs = jax.random.normal(key, (2, T, 2))

    def packed(p):
        _, ys = rnnjax.unroll(cell, p, xs, lengths=jnp.asarray(LENGTHS), resets=jnp.asarray(RESETS))
        return jnp.sum(jnp.sin(ys))

    def separate(p):
        return jnp.sum(jnp.sin(per_segment(cell, p, xs, RESETS, LENGTHS, False)[1]))

    chex.assert_trees_all_close(jax.grad(packed)(p), jax.grad(separate)(p), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reverse", [False, True])
def test_lengths_are_clipped_to_0_T_under_jit(reverse, key):
    cell = rnnjax.bidirectional(rnnjax.cells.elman(3), rnnjax.cells.gru(3))
    p = random_params(cell, key, input_size=2)
    xs = jax.random.normal(key, (3, T, 2))
    f = jax.jit(lambda n: rnnjax.unroll(cell, p, xs, lengths=n, reverse=reverse))
    got = f(jnp.array([T + 3, -2, 4]))
    assert all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(got))
    chex.assert_trees_all_close(got, f(jnp.array([T, 0, 4])))
    # eager calls clip the same way (no error outside jit either)
    chex.assert_trees_all_close(rnnjax.unroll(cell, p, xs, lengths=jnp.array([T + 1, -5, 4]),
                                              reverse=reverse), got, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_nan_padding_gives_finite_gradients(key):
    """The bidirectional layer covers both directions of the padding-aware scan."""
    cell = rnnjax.stack([rnnjax.cells.lstm(3), rnnjax.bidirectional(rnnjax.cells.gru(2),
                                                                    rnnjax.cells.elman(2))])
    p = random_params(cell, key, input_size=2)
    xs = jax.random.normal(key, (2, T, 2))
    lengths = jnp.array([T, 3])
    pad = jnp.arange(T)[None, :, None] >= lengths[:, None, None]

    def loss(p, xs):
        carry, ys = rnnjax.unroll(cell, p, xs, lengths=lengths, hoist=True)
        return jnp.sum(ys ** 2) + sum(jnp.sum(c) for c in jax.tree.leaves(carry))

    clean = jnp.where(pad, 0.0, xs)
    dirty = jnp.where(pad, jnp.nan, xs)
    g_p, g_x = jax.grad(loss, argnums=(0, 1))(p, dirty)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves((g_p, g_x)))
    chex.assert_trees_all_close((g_p, g_x), jax.grad(loss, argnums=(0, 1))(p, clean),
                                rtol=1e-5, atol=1e-6)
    assert not bool(jnp.any(jnp.where(pad, g_x, 0.0)))


class TestBadInput:
    cell = rnnjax.cells.gru(3)

    def run(self, **kw):
        p = self.cell.init(jax.random.key(0), 2)
        return rnnjax.unroll(self.cell, p, jnp.ones((2, T, 2)), **kw)

    def test_resets_not_boolean(self):
        with pytest.raises(TypeError, match=r"boolean array of shape \(\*batch, T\) = \(2, 6\)"):
            self.run(resets=jnp.zeros((2, T), jnp.int32))

    def test_resets_wrong_shape(self):
        with pytest.raises(ValueError, match=r"resets of shape \(\*batch, T\) = \(2, 6\)"):
            self.run(resets=jnp.zeros((2, T - 1), bool))

    def test_reset_carry_wrong_shape(self):
        with pytest.raises(ValueError, match="reset_carry leaves of shape"):
            self.run(resets=jnp.zeros((2, T), bool), reset_carry=jnp.zeros((3, 3)))

    def test_unknown_method(self):
        with pytest.raises(ValueError, match=r"method must be one of \('scan', 'associative', 'fused', 'cudnn', 'auto'\)"):
            self.run(method="parallel")
        with pytest.raises(ValueError, match="needs a cell with an affine form"):
            self.run(method="associative")
