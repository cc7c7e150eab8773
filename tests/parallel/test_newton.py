"""newton_unroll (DEER / quasi-DEER / ELK) against the sequential unroll: outputs, final carry,
gradients (float32 and float64), the LM step (sequential and parallel Kalman smoothers) against
a dense least-squares solve, and honest reporting of non-converged solves."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax.parallel import newton_unroll
from rnnjax.parallel.kalman import parallel_smoother, sequential_smoother
from tests.test_cells import random_params

CELLS = {
    "elman": lambda: rnnjax.cells.elman(4),
    "gru": lambda: rnnjax.cells.gru(4),
    "lstm": lambda: rnnjax.cells.lstm(4),
}


def setup(name, key, batch=(2,), T=12, dtype=jnp.float32):
    cell = CELLS[name]()
    p = jax.tree.map(lambda v: v.astype(dtype), random_params(cell, key))
    xs = jax.random.normal(jax.random.fold_in(key, 3), (*batch, T, 3), dtype)
    c0 = jax.tree.map(lambda c: c + jnp.asarray(0.2, dtype), cell.initial_carry(p, batch))
    c0 = jax.tree.map(lambda c: c.astype(dtype), c0)
    return cell, p, xs, c0


def loss_and_grad(cell, newton, **kw):
    """jit(value_and_grad) of a loss of the outputs and final carry, w.r.t. params, xs and the
    initial carry; the forward results come back as aux (one compile for both)."""
    def loss(p, xs, c0):
        if newton:
            carry, ys, info = newton_unroll(cell, p, xs, c0, **kw)
        else:
            (carry, ys), info = rnnjax.unroll(cell, p, xs, c0), None
        value = jnp.sum(jnp.sin(ys)) + sum(jnp.sum(c ** 2) for c in jax.tree.leaves(carry))
        return value, (carry, ys, info)
    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))


@pytest.mark.parametrize("name", CELLS)
def test_newton_equals_unroll_outputs_carry_and_gradients(name, key):
    cell, p, xs, c0 = setup(name, key)
    (_, (*want, _)), want_grad = loss_and_grad(cell, False)(p, xs, c0)
    (_, (carry, ys, info)), grad = loss_and_grad(cell, True)(p, xs, c0)
    assert bool(jnp.all(info.converged)) and info.iterations.shape == (2,)
    assert int(jnp.max(info.iterations)) < 12  # DEER converges well before T here
    chex.assert_trees_all_close((carry, ys), tuple(want), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(grad, want_grad, rtol=1e-4, atol=1e-5)
    # quasi-DEER: more iterations, same fixed point
    carry, ys, info = jax.jit(lambda p, xs, c0: newton_unroll(cell, p, xs, c0, jacobian="diagonal"))(p, xs, c0)
    assert bool(jnp.all(info.converged))
    chex.assert_trees_all_close((carry, ys), tuple(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.slow
def test_newton_float64_outputs_and_gradients(name, key):
    with jax.enable_x64(True):
        cell, p, xs, c0 = setup(name, key, batch=(), T=6, dtype=jnp.float64)
        (_, (*want, _)), want_grad = loss_and_grad(cell, False)(p, xs, c0)
        (_, (carry, ys, info)), grad = loss_and_grad(cell, True, tol=1e-12)(p, xs, c0)
        assert bool(info.converged) and ys.dtype == jnp.float64
        chex.assert_trees_all_close((carry, ys), tuple(want), rtol=1e-11, atol=1e-12)
        chex.assert_trees_all_close(grad, want_grad, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("T", [1, 5])
@pytest.mark.parametrize("smoother", [sequential_smoother, parallel_smoother])
@pytest.mark.parametrize("diagonal", [False, True])
def test_lm_step_is_the_damped_least_squares_solution(diagonal, smoother, T, key):
    """Both Kalman smoothers return argmin Σ‖s'_t − J_t s'_{t−1} − b_t‖² + λ Σ‖s'_t − s_t‖²."""
    with jax.enable_x64(True):
        D, lam = 3, 0.7
        k1, k2, k3, k4 = jax.random.split(key, 4)
        J = jax.random.normal(k1, (T, D) if diagonal else (T, D, D), jnp.float64)
        b, s = jax.random.normal(k2, (T, D), jnp.float64), jax.random.normal(k3, (T, D), jnp.float64)
        c0 = jax.random.normal(k4, (D,), jnp.float64)
        got = smoother(J, b, s, c0, lam, diagonal)
        Jm = np.asarray(jax.vmap(jnp.diag)(J) if diagonal else J)
        # Stack the residuals as one linear least-squares problem in vec(s').
        rows, rhs = [], []
        for t in range(T):
            r = np.zeros((D, T * D))
            r[:, t * D:(t + 1) * D] = np.eye(D)
            if t > 0:
                r[:, (t - 1) * D:t * D] = -Jm[t]
            rows.append(r)
            rhs.append(np.asarray(b[t]) + (Jm[0] @ np.asarray(c0) if t == 0 else 0))
            d = np.zeros((D, T * D))
            d[:, t * D:(t + 1) * D] = np.sqrt(lam) * np.eye(D)
            rows.append(d)
            rhs.append(np.sqrt(lam) * np.asarray(s[t]))
        want = np.linalg.lstsq(np.concatenate(rows), np.concatenate(rhs), rcond=None)[0]
        np.testing.assert_allclose(np.asarray(got).ravel(), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("diagonal", [pytest.param(False, marks=pytest.mark.slow), True])
def test_parallel_smoother_equals_sequential_in_float32(diagonal, key):
    """Long sequences, expanding Jacobians (‖J_t‖ > 1) and weak damping: the associative-scan
    filter and smoother agree with the sequential Kalman filter and RTS smoother."""
    T, D, lam = 300, 6, 0.1
    k1, k2, k3, k4 = jax.random.split(key, 4)
    J = 1.5 * jax.random.normal(k1, (T, D) if diagonal else (T, D, D)) / (1 if diagonal else np.sqrt(D))
    b, s, c0 = (jax.random.normal(k, shape) for k, shape in [(k2, (T, D)), (k3, (T, D)), (k4, (D,))])
    want = jax.jit(sequential_smoother, static_argnums=(4, 5))(J, b, s, c0, lam, diagonal)
    got = jax.jit(parallel_smoother, static_argnums=(4, 5))(J, b, s, c0, lam, diagonal)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("jacobian", ["full", pytest.param("diagonal", marks=pytest.mark.slow)])
def test_damped_newton_converges_to_the_trajectory(jacobian, key):
    cell, p, xs, c0 = setup("gru", key)
    carry, ys, info = jax.jit(lambda p, xs, c0: newton_unroll(
        cell, p, xs, c0, jacobian=jacobian, damping=0.1, max_iters=100))(p, xs, c0)
    assert bool(jnp.all(info.converged))
    chex.assert_trees_all_close((carry, ys), rnnjax.unroll(cell, p, xs, c0), rtol=1e-5, atol=1e-5)
    # the parallel smoother takes the same steps: the same iterations, the same trajectory
    carry_p, ys_p, info_p = jax.jit(lambda p, xs, c0: newton_unroll(
        cell, p, xs, c0, jacobian=jacobian, damping=0.1, max_iters=100, smoother="parallel"))(p, xs, c0)
    assert bool(jnp.all(info_p.converged))
    np.testing.assert_allclose(info_p.iterations, info.iterations, atol=1)
    chex.assert_trees_all_close((carry_p, ys_p), (carry, ys), rtol=1e-5, atol=1e-5)


def chaotic(key, T):
    """A tanh network with gain 3 (λ_max > 0): Newton needs nearly all T iterations."""
    cell = rnnjax.cells.elman(8)
    p = cell.init(key, 3)
    p = p._replace(w_h=3.0 * jax.random.normal(key, (8, 8), p.w_h.dtype) / np.sqrt(8))
    xs = jax.random.normal(jax.random.fold_in(key, 1), (2, T, 3), p.w_h.dtype)
    return cell, p, xs


@pytest.mark.slow
def test_non_converged_solve_is_reported_and_T_iterations_are_exact(key):
    cell, p, xs = chaotic(key, 24)
    run = jax.jit(lambda p, xs: newton_unroll(cell, p, xs, max_iters=1))
    _, _, info = run(p, xs)
    assert not bool(jnp.any(info.converged))
    assert bool(jnp.all(info.residual > 1e-6)) and bool(jnp.all(info.iterations == 1))
    with jax.enable_x64(True):  # max_iters=None means T, where Newton is exact
        cell, p, xs = chaotic(key, 10)
        p, xs = jax.tree.map(lambda v: v.astype(jnp.float64), (p, xs))
        carry, ys, info = jax.jit(lambda p, xs: newton_unroll(cell, p, xs, tol=1e-10))(p, xs)
        assert bool(jnp.all(info.converged)) and int(jnp.max(info.iterations)) <= 10
        chex.assert_trees_all_close((carry, ys), rnnjax.unroll(cell, p, xs), rtol=1e-9, atol=1e-9)


def test_overflowing_iterate_is_reported_not_converged(key):
    """Linearised around h = 0, J = 3I: the first Newton step grows as 3^t and overflows float32
    within 100 steps. (An XLA max-reduction skips NaNs, so a naive residual could read -inf,
    i.e. "converged".)"""
    cell = rnnjax.cells.elman(4)
    p = cell.init(key, 3)
    p = p._replace(w_x=jnp.zeros_like(p.w_x), w_h=3.0 * jnp.eye(4), b=jnp.full((4,), 0.01))
    xs = jax.random.normal(key, (100, 3))
    _, ys, info = jax.jit(lambda p, xs: newton_unroll(cell, p, xs))(p, xs)
    assert not bool(info.converged) and not np.isfinite(float(info.residual))
    assert int(info.iterations) < 100  # stops at the overflow instead of iterating on NaN


@pytest.mark.parametrize("damping", [float("inf"), float("nan"), -1.0, -0.5, "0.1", 1j])
def test_damping_must_be_a_finite_number_at_least_zero(damping, key):
    cell, p, xs, c0 = setup("elman", key, batch=(), T=3)
    with pytest.raises(ValueError, match=r"^newton_unroll: damping must be None or a finite number "
                                         r">= 0, got .+$"):
        newton_unroll(cell, p, xs, damping=damping)


def test_batch_ranks_zero_length_and_bad_input(key):
    cell, p, xs, c0 = setup("lstm", key, batch=(2, 1), T=5)
    carry, ys, info = jax.jit(lambda p, xs: newton_unroll(cell, p, xs))(p, xs)
    assert ys.shape == (2, 1, 5, 4) and info.converged.shape == (2, 1)
    chex.assert_trees_all_close((carry, ys), rnnjax.unroll(cell, p, xs), rtol=1e-5, atol=1e-5)
    carry, ys, info = newton_unroll(cell, p, xs[..., :0, :], c0)
    assert ys.shape == (2, 1, 0, 4) and bool(jnp.all(info.converged))
    chex.assert_trees_all_close(carry, c0)
    for kw, match in [({"jacobian": "dense"}, "jacobian"), ({"damping": -1.0}, "damping"),
                      ({"max_iters": 0}, "max_iters"), ({"tol": 0.0}, "tol"),
                      ({"smoother": "rts"}, "smoother")]:
        with pytest.raises(ValueError, match=match):
            newton_unroll(cell, p, xs, **kw)
    lru = rnnjax.cells.lru(4)
    with pytest.raises(TypeError, match="real floating carry"):
        newton_unroll(lru, lru.init(key, 3), xs)
