"""Cells against NumPy re-implementations of their equations; shapes, vmap, gradients, bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from tests import reference as ref

CELLS = {
    "elman": lambda: rnnjax.cells.elman(5),
    "lstm": lambda: rnnjax.cells.lstm(5),
    "gru": lambda: rnnjax.cells.gru(5),
    "gru_reset_before": lambda: rnnjax.cells.gru(5, variant="reset_before"),
}


def random_params(cell, key, input_size=3):
    """The cell's params with every leaf (biases too) randomised, so no term hides behind a zero."""
    params = cell.init(key, input_size)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
    return treedef.unflatten([0.5 * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves)])


def numpy_step(name, p, carry, x):
    p = jax.tree.map(np.asarray, p)
    if name == "elman":
        h = ref.elman_step(p.w_x, p.w_h, p.b, np.asarray(carry), x)
        return h, h
    if name == "lstm":
        h, c = ref.lstm_step(p.w_x, p.w_h, p.b, np.asarray(carry.h), np.asarray(carry.c), x)
        return (h, c), h
    h = ref.gru_step(p.w_x, p.w_h, p.b, p.b_hn, np.asarray(carry), x,
                     reset_after=name == "gru")
    return h, h


@pytest.mark.parametrize("name", CELLS)
def test_step_matches_numpy_equations(name, key):
    cell = CELLS[name]()
    p = random_params(cell, key)
    x = np.asarray(jax.random.normal(jax.random.fold_in(key, 2), (4, 3)))
    carry = jax.tree.map(lambda c: 0.3 * jnp.ones_like(c), cell.initial_carry(p, (4,)))
    new_carry, y = cell.step(p, carry, jnp.asarray(x))
    want_carry, want_y = numpy_step(name, p, carry, x)
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([np.ravel(a) for a in jax.tree.leaves(new_carry)]),
                               np.concatenate([np.ravel(a) for a in jax.tree.leaves(want_carry)]),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("batch_shape", [(), (4,), (2, 3)])
def test_shapes_any_batch_rank(name, batch_shape, key):
    cell = CELLS[name]()
    p = cell.init(key, 3)
    carry = cell.initial_carry(p, batch_shape)
    chex.assert_tree_shape_prefix(carry, batch_shape)
    carry, y = cell.step(p, carry, jnp.ones((*batch_shape, 3)))
    assert y.shape == (*batch_shape, 5)
    for leaf in jax.tree.leaves(carry):
        assert leaf.shape == (*batch_shape, 5)


@pytest.mark.parametrize("name", CELLS)
def test_vmap_equals_per_example(name, key):
    cell = CELLS[name]()
    p = random_params(cell, key)
    xs = jax.random.normal(key, (3, 6, 3))
    batched = jax.vmap(lambda x: rnnjax.unroll(cell, p, x))(xs)
    for b in range(3):
        single = rnnjax.unroll(cell, p, xs[b])
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[b], batched), single, rtol=1e-5, atol=1e-6)


def test_vmap_over_seeds_of_init(key):
    cell = rnnjax.cells.lstm(4)
    params = jax.vmap(lambda k: cell.init(k, 2))(jax.random.split(key, 3))
    assert params.w_h.shape == (3, 4, 16)
    assert not np.allclose(params.w_h[0], params.w_h[1])


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.slow
def test_gradients_match_finite_differences_float64(name, key):
    with jax.enable_x64(True):
        cell = CELLS[name]()
        p = jax.tree.map(lambda a: a.astype(jnp.float64), random_params(cell, key))
        xs = jax.random.normal(key, (2, 5, 3), jnp.float64)
        lengths = jnp.array([5, 3])

        def loss(params):
            carry, ys = rnnjax.unroll(cell, params, xs, lengths=lengths)
            return jnp.sum(jnp.sin(ys)) + sum(jnp.sum(c ** 2) for c in jax.tree.leaves(carry))

        ref.check_grad_fd(loss, p, key=jax.random.fold_in(key, 7))


def test_lstm_cell_state_lecture_example():
    """Lecture: c_{t-1} = 0.8, f = 0.9, i = 0.7, candidate 0.6 -> c_t = 0.9·0.8 + 0.7·0.6 = 1.14."""
    logit = lambda p: np.log(p / (1 - p))
    cell = rnnjax.cells.lstm(1)
    p = rnnjax.cells.LSTMParams(w_x=jnp.zeros((1, 4)), w_h=jnp.zeros((1, 4)),
                                b=jnp.array([logit(0.7), logit(0.9), np.arctanh(0.6), logit(0.5)]))
    carry = rnnjax.cells.LSTMState(h=jnp.zeros((1,)), c=jnp.array([0.8]))
    (h, c), y = cell.step(p, carry, jnp.zeros((1,)))
    np.testing.assert_allclose(c, [0.9 * 0.8 + 0.7 * 0.6], rtol=1e-6)
    np.testing.assert_allclose(c, [1.14], rtol=1e-6)
    np.testing.assert_allclose(y, 0.5 * np.tanh(1.14), rtol=1e-6)


def test_lstm_forget_bias_and_chrono(key):
    p = rnnjax.cells.lstm(6, forget_bias=1.0).init(key, 2)
    np.testing.assert_array_equal(p.b[6:12], 1.0)
    np.testing.assert_array_equal(p.b[:6], 0.0)
    p = rnnjax.cells.lstm(6, chrono_t_max=100).init(key, 2)
    b_i, b_f = np.asarray(p.b[:6]), np.asarray(p.b[6:12])
    assert np.all(b_f >= 0) and np.all(b_f <= np.log(99) + 1e-6)
    np.testing.assert_allclose(b_i, -b_f)


def test_irnn_is_identity_relu(key):
    cell = rnnjax.cells.elman(4, activation=jax.nn.relu, recurrent_init="identity")
    p = cell.init(key, 2)
    np.testing.assert_array_equal(p.w_h, np.eye(4))
    h, _ = cell.step(p, jnp.full((4,), -1.0), jnp.zeros((2,)))
    np.testing.assert_array_equal(h, 0.0)


def test_elman_spectral_radius_option(key):
    p = rnnjax.cells.elman(16, recurrent_init="glorot_normal", spectral_radius=0.9).init(key, 2)
    np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(np.asarray(p.w_h)))), 0.9, rtol=1e-4)


def test_gru_reset_before_has_no_b_hn(key):
    assert rnnjax.cells.gru(3, variant="reset_before").init(key, 2).b_hn is None
    with pytest.raises(ValueError, match="reset_after"):
        rnnjax.cells.gru(3, variant="reset_middle")


@pytest.mark.parametrize("name", CELLS)
def test_bad_input_size_names_expected_shape(name, key):
    cell = CELLS[name]()
    p = cell.init(key, 3)
    with pytest.raises(ValueError, match=r"\(\*batch, 3\)"):
        cell.step(p, cell.initial_carry(p, (2,)), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match=r"\(\*batch, 3\)"):
        rnnjax.unroll(cell, p, jnp.ones((2, 7, 4)))


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_bad_hidden_size(size):
    with pytest.raises(ValueError, match="hidden_size"):
        rnnjax.cells.lstm(size)
