"""unroll against Python loops over step and per-example runs of truncated sequences."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from tests.test_cells import CELLS, random_params


def python_loop(cell, p, xs, carry=None, reverse=False):
    """Batch-first xs (*batch, T, I): the recurrence written as a plain loop."""
    carry = cell.initial_carry(p, xs.shape[:-2]) if carry is None else carry
    T = xs.shape[-2]
    order = range(T - 1, -1, -1) if reverse else range(T)
    ys = [None] * T
    for t in order:
        carry, ys[t] = cell.step(p, carry, xs[..., t, :])
    if T == 0:
        return carry, jnp.zeros((*xs.shape[:-2], 0, cell.output_size))
    return carry, jnp.stack(ys, axis=-2)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("hoist", [False, True])
def test_scan_equals_python_loop(name, reverse, hoist, key):
    cell = CELLS[name]()
    p = random_params(cell, key)
    xs = jax.random.normal(key, (2, 7, 3))
    chex.assert_trees_all_close(rnnjax.unroll(cell, p, xs, reverse=reverse, hoist=hoist),
                                python_loop(cell, p, xs, reverse=reverse), rtol=1e-5, atol=1e-6)


def test_jit_unroll_factor_and_return_carries(key):
    cell = rnnjax.cells.lstm(4)
    p = random_params(cell, key)
    xs = jax.random.normal(key, (3, 9, 3))
    base = rnnjax.unroll(cell, p, xs)
    fast = jax.jit(lambda p, xs: rnnjax.unroll(cell, p, xs, unroll=4))(p, xs)
    chex.assert_trees_all_close(base, fast, rtol=1e-5, atol=1e-6)
    final, (ys, carries) = rnnjax.unroll(cell, p, xs, return_carries=True)
    assert carries.c.shape == (3, 9, 4)
    np.testing.assert_allclose(carries.h, ys, rtol=1e-6)
    for t in range(9):  # the carry after step t equals a run over the first t+1 steps
        c_t, _ = python_loop(cell, p, xs[:, : t + 1])
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[:, t], carries), c_t, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_lengths_match_truncated_runs_two_batch_dims(name, reverse, key):
    """Each padded sequence behaves exactly as its unpadded prefix; padding outputs are zero."""
    cell = CELLS[name]()
    p = random_params(cell, key)
    xs = jax.random.normal(key, (2, 3, 6, 3))
    lengths = jnp.array([[6, 0, 2], [1, 5, 3]])
    carry, ys = rnnjax.unroll(cell, p, xs, lengths=lengths, reverse=reverse)
    for a in range(2):
        for b in range(3):
            L = int(lengths[a, b])
            want_c, want_y = python_loop(cell, p, xs[a, b, :L], reverse=reverse)
            chex.assert_trees_all_close(jax.tree.map(lambda c: c[a, b], carry), want_c,
                                        rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(ys[a, b, :L], want_y, rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(ys[a, b, L:], 0.0)


def test_zero_length_returns_initial_carry(key):
    cell = rnnjax.cells.gru(4)
    p = random_params(cell, key)
    carry0 = jnp.full((2, 4), 0.25)
    carry, ys = rnnjax.unroll(cell, p, jnp.ones((2, 5, 3)), carry0, lengths=jnp.array([0, 0]))
    np.testing.assert_array_equal(carry, carry0)
    np.testing.assert_array_equal(ys, 0.0)


@pytest.mark.parametrize("remat", [True, 1, 3, 20])
@pytest.mark.parametrize("hoist", [False, True])
def test_remat_same_values_and_gradients(remat, hoist, key):
    cell = rnnjax.cells.lstm(4)
    p = random_params(cell, key)
    xs = jax.random.normal(key, (2, 10, 3))
    lengths = jnp.array([10, 7])

    def loss(p, remat):
        carry, ys = rnnjax.unroll(cell, p, xs, lengths=lengths, remat=remat, hoist=hoist)
        return jnp.sum(ys ** 2) + jnp.sum(carry.c)

    chex.assert_trees_all_close(jax.value_and_grad(loss)(p, False),
                                jax.value_and_grad(loss)(p, remat), rtol=1e-5, atol=1e-6)


def test_remat_blocks_reverse_without_lengths(key):
    cell = rnnjax.cells.elman(4)
    p = random_params(cell, key)
    xs = jax.random.normal(key, (2, 10, 3))
    chex.assert_trees_all_close(rnnjax.unroll(cell, p, xs, reverse=True, remat=3),
                                python_loop(cell, p, xs, reverse=True), rtol=1e-5, atol=1e-6)


def test_lengths_under_jit(key):
    cell = rnnjax.cells.elman(4)
    p = random_params(cell, key)
    xs = jax.random.normal(key, (3, 5, 3))
    f = jax.jit(lambda lengths: rnnjax.unroll(cell, p, xs, lengths=lengths))
    chex.assert_trees_all_close(f(jnp.array([5, 2, 0])),
                                rnnjax.unroll(cell, p, xs, lengths=jnp.array([5, 2, 0])))


class TestBadInput:
    cell = rnnjax.cells.lstm(4)

    def params(self):
        return self.cell.init(jax.random.key(0), 3)

    def test_rank(self):
        with pytest.raises(ValueError, match=r"\(\*batch, T, input_size\)"):
            rnnjax.unroll(self.cell, self.params(), jnp.ones((3,)))

    def test_lengths_not_integer(self):
        with pytest.raises(TypeError, match="integers"):
            rnnjax.unroll(self.cell, self.params(), jnp.ones((2, 5, 3)), lengths=jnp.array([1.0, 2.0]))

    def test_lengths_wrong_shape(self):
        with pytest.raises(ValueError, match=r"shape \(2,\)"):
            rnnjax.unroll(self.cell, self.params(), jnp.ones((2, 5, 3)), lengths=jnp.array([1, 2, 3]))

    def test_carry_wrong_batch(self):
        carry = self.cell.initial_carry(self.params(), (3,))
        with pytest.raises(ValueError, match=r"\(2, 4\)"):
            rnnjax.unroll(self.cell, self.params(), jnp.ones((2, 5, 3)), carry)

    def test_carry_wrong_structure(self):
        with pytest.raises(TypeError, match="structure"):
            rnnjax.unroll(self.cell, self.params(), jnp.ones((2, 5, 3)), jnp.zeros((2, 4)))

    @pytest.mark.parametrize("remat", [0, -2, 1.5])
    def test_bad_remat(self, remat):
        with pytest.raises(ValueError, match="remat"):
            rnnjax.unroll(self.cell, self.params(), jnp.ones((2, 5, 3)), remat=remat)

    def test_not_a_cell(self):
        with pytest.raises(TypeError, match="rnnjax.Cell"):
            rnnjax.unroll(lambda p, c, x: (c, x), None, jnp.ones((2, 5, 3)))


def test_block_remat_bounds_training_memory(key):
    """XLA's own accounting of a gradient's temporaries: √T blocks store far less than T steps."""
    cell = rnnjax.cells.lstm(32)
    p = cell.init(key, 2)
    xs = jax.ShapeDtypeStruct((4, 4096, 2), jnp.float32)

    def temp_bytes(remat):
        loss = lambda p, xs: jnp.mean(rnnjax.unroll(cell, p, xs, remat=remat, hoist=True)[1] ** 2)
        return jax.jit(jax.grad(loss)).lower(p, xs).compile().memory_analysis().temp_size_in_bytes

    plain, blocks = temp_bytes(False), temp_bytes(64)
    # Without remat the backward pass keeps every step's gate activations (≥ 4096·4·4·32 floats).
    assert plain >= 4096 * 4 * 4 * 32 * 4
    assert blocks < plain / 4
