"""Stacks and bidirectional compositions against manual layer-by-layer computations."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from tests import reference as ref
from tests.test_cells import random_params
from tests.test_unroll import python_loop


def test_stack_equals_manual_layers_and_step_loop(key):
    c1, c2 = rnnjax.cells.lstm(4), rnnjax.cells.gru(5)
    cell = rnnjax.stack([c1, c2])
    p = random_params(cell, key)
    xs = jax.random.normal(key, (2, 6, 3))
    (f1, f2), ys = rnnjax.unroll(cell, p, xs)
    m1, y1 = rnnjax.unroll(c1, p[0], xs)
    m2, y2 = rnnjax.unroll(c2, p[1], y1)
    chex.assert_trees_all_close((f1, f2, ys), (m1, m2, y2), rtol=1e-5, atol=1e-6)
    # The stack's own per-step transition computes the same thing as the layer-wise unroll.
    chex.assert_trees_all_close(python_loop(cell, p, xs), ((f1, f2), ys), rtol=1e-5, atol=1e-6)


def test_stack_residual(key):
    cell = rnnjax.stack([rnnjax.cells.elman(4), rnnjax.cells.elman(4), rnnjax.cells.elman(4)],
                        residual=True)
    p = random_params(cell, key)
    xs = jax.random.normal(key, (6, 3))
    _, ys = rnnjax.unroll(cell, p, xs)
    _, y1 = rnnjax.unroll(rnnjax.cells.elman(4), p[0], xs)
    _, y2 = rnnjax.unroll(rnnjax.cells.elman(4), p[1], y1)
    _, y3 = rnnjax.unroll(rnnjax.cells.elman(4), p[2], y1 + y2)
    np.testing.assert_allclose(ys, y1 + y2 + y3, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="equal layer sizes"):
        rnnjax.stack([rnnjax.cells.elman(4), rnnjax.cells.elman(5)], residual=True)


@pytest.mark.slow
def test_stack_variational_dropout(key):
    cell = rnnjax.stack([rnnjax.cells.elman(64), rnnjax.cells.elman(3)], dropout=0.5)
    p = random_params(cell, key)
    xs = jax.random.normal(key, (2, 8, 3))
    plain = rnnjax.stack([rnnjax.cells.elman(64), rnnjax.cells.elman(3)])
    # Without a key: refused, unless asked for no dropout (evaluation), identical to no dropout.
    with pytest.raises(ValueError, match="deterministic=True"):
        rnnjax.unroll(cell, p, xs)
    with pytest.raises(ValueError, match="deterministic=True"):
        cell.step(p, cell.initial_carry(p, (2,)), xs[:, 0])
    chex.assert_trees_all_close(rnnjax.unroll(cell, p, xs, deterministic=True),
                                rnnjax.unroll(plain, p, xs))
    # Nested in a bidirectional layer, the stack gets its own key and switch.
    bi = rnnjax.bidirectional(cell, plain)
    bp = rnnjax.Bidirectional(p, p)
    with pytest.raises(ValueError, match="deterministic=True"):
        rnnjax.unroll(bi, bp, xs)
    chex.assert_trees_all_close(rnnjax.unroll(bi, bp, xs, deterministic=True),
                                rnnjax.unroll(rnnjax.bidirectional(plain, plain), bp, xs))
    assert not np.allclose(rnnjax.unroll(bi, bp, xs, key=jax.random.key(5))[1],
                           rnnjax.unroll(bi, bp, xs, deterministic=True)[1])
    dkey = jax.random.key(3)
    out = rnnjax.unroll(cell, p, xs, key=dkey)
    # Same as stepping with the same key: the mask is fixed through time.
    carry = cell.initial_carry(p, (2,))
    ys = []
    for t in range(8):
        carry, y = cell.step(p, carry, xs[:, t], key=dkey)
        ys.append(y)
    chex.assert_trees_all_close(out, (carry, jnp.stack(ys, 1)), rtol=1e-5, atol=1e-6)
    # The mask on the first layer's output: about half of its units are zero at every step.
    _, y1 = rnnjax.unroll(rnnjax.cells.elman(64), p[0], xs)
    keep = jax.random.bernoulli(jax.random.fold_in(dkey, 0), 0.5, (2, 64))
    _, want = rnnjax.unroll(rnnjax.cells.elman(3), p[1], jnp.where(keep[:, None], 2 * y1, 0.0))
    np.testing.assert_allclose(out[1], want, rtol=1e-5, atol=1e-6)
    assert 0.3 < float(keep.mean()) < 0.7


@pytest.mark.parametrize("merge", ["concat", "sum", "mean"])
def test_bidirectional_with_lengths(merge, key):
    f, b = rnnjax.cells.lstm(4), rnnjax.cells.gru(4)
    cell = rnnjax.bidirectional(f, b, merge=merge)
    p = random_params(cell, key)
    xs = jax.random.normal(key, (3, 6, 3))
    lengths = jnp.array([6, 2, 0])
    carry, ys = rnnjax.unroll(cell, p, xs, lengths=lengths)
    combine = {"concat": lambda u, v: np.concatenate([u, v], -1), "sum": np.add,
               "mean": lambda u, v: (u + v) / 2}[merge]
    for i in range(3):
        L = int(lengths[i])
        cf, yf = python_loop(f, p.forward, xs[i, :L])
        cb, yb_rev = python_loop(b, p.backward, xs[i, :L][::-1])
        np.testing.assert_allclose(ys[i, :L], combine(np.asarray(yf), np.asarray(yb_rev)[::-1]),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(ys[i, L:], 0.0)
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[i], carry),
                                    rnnjax.compose.Bidirectional(cf, cb), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_stacked_bidirectional_and_gradients_float64(key):
    with jax.enable_x64(True):
        layer = lambda: rnnjax.bidirectional(rnnjax.cells.gru(3), rnnjax.cells.gru(3))
        cell = rnnjax.stack([layer(), layer()])
        p = jax.tree.map(lambda a: a.astype(jnp.float64), random_params(cell, key))
        xs = jax.random.normal(key, (2, 5, 3), jnp.float64)
        _, ys = rnnjax.unroll(cell, p, xs)
        _, y1 = rnnjax.unroll(layer(), p[0], xs)
        _, y2 = rnnjax.unroll(layer(), p[1], y1)
        np.testing.assert_allclose(ys, y2, rtol=1e-10)
        loss = lambda p: jnp.sum(jnp.tanh(rnnjax.unroll(cell, p, xs, lengths=jnp.array([5, 3]))[1]))
        ref.check_grad_fd(loss, p, key=key)


def test_learned_initial_carry_gets_gradient(key):
    cell = rnnjax.init.learned_initial_carry(rnnjax.cells.lstm(3))
    p = cell.init(key, 2)
    chex.assert_trees_all_equal(p.carry0, rnnjax.cells.LSTMState(jnp.zeros(3), jnp.zeros(3)))
    carry = cell.initial_carry(p, (4, 2))
    assert carry.h.shape == (4, 2, 3)
    grads = jax.grad(lambda p: jnp.sum(rnnjax.unroll(cell, p, jnp.ones((4, 5, 2)))[1]))(p)
    assert float(jnp.abs(grads.carry0.h).sum()) > 0 and float(jnp.abs(grads.carry0.c).sum()) > 0


def test_bidirectional_refuses_other_containers_by_name(key):
    cell = rnnjax.bidirectional(rnnjax.cells.elman(3), rnnjax.cells.elman(3))
    p = cell.init(key, 2)
    with pytest.raises(TypeError, match="rnnjax.Bidirectional"):
        rnnjax.unroll(cell, tuple(p), jnp.zeros((4, 2)))
