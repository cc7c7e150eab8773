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
from tests.hang import assert_finishes
from tests.test_cells import random_params

TIGHT = {"tol": 1e-6, "rtol": 0.0}  # below float32's default (1e-4): tests the fixed point itself
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
    (_, (carry, ys, info)), grad = loss_and_grad(cell, True, **TIGHT)(p, xs, c0)
    assert bool(jnp.all(info.converged)) and info.iterations.shape == (2,)
    assert int(jnp.max(info.iterations)) < 12  # DEER converges well before T here
    chex.assert_trees_all_close((carry, ys), tuple(want), rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(grad, want_grad, rtol=1e-4, atol=1e-5)
    # quasi-DEER: more iterations, same fixed point
    carry, ys, info = jax.jit(lambda p, xs, c0: newton_unroll(cell, p, xs, c0, jacobian="diagonal",
                                                                   **TIGHT))(p, xs, c0)
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


PARALLEL_ELK_H64 = """
import jax, rnnjax
from rnnjax.parallel import newton_unroll
cell = rnnjax.cells.elman(64)
p = cell.init(jax.random.key(0), 2)
xs = jax.random.normal(jax.random.key(1), (128, 2))
solve = jax.jit(lambda p, xs: newton_unroll(cell, p, xs, damping=0.1, max_iters=32,
                                            smoother="parallel")[2])
for i in range(3):
    jax.block_until_ready(solve(p, xs + i))
print("done")
"""


def test_parallel_smoother_does_not_deadlock_at_h64():
    """Regression: five batched LU solves side by side in each associative combine hung
    jaxlib 0.10's CPU thread pool (0 % CPU) at H = 64, T = 128 on 2 cores; one batched solve
    per combine does not (docs/known-issues.md)."""
    assert_finishes(PARALLEL_ELK_H64, 180, "ELK with the parallel smoother")


@pytest.mark.parametrize("jacobian", ["full", pytest.param("diagonal", marks=pytest.mark.slow)])
def test_damped_newton_converges_to_the_trajectory(jacobian, key):
    cell, p, xs, c0 = setup("gru", key)
    carry, ys, info = jax.jit(lambda p, xs, c0: newton_unroll(
        cell, p, xs, c0, jacobian=jacobian, damping=0.1, max_iters=100, **TIGHT))(p, xs, c0)
    assert bool(jnp.all(info.converged))
    chex.assert_trees_all_close((carry, ys), rnnjax.unroll(cell, p, xs, c0), rtol=1e-5, atol=1e-5)
    # the parallel smoother takes the same steps: the same iterations, the same trajectory
    carry_p, ys_p, info_p = jax.jit(lambda p, xs, c0: newton_unroll(
        cell, p, xs, c0, jacobian=jacobian, damping=0.1, max_iters=100, smoother="parallel",
        **TIGHT))(p, xs, c0)
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


def expanding(key, T=100, dtype=jnp.float32):
    """``h_t = tanh(3 h_{t-1} + 0.01)``: the true trajectory settles at a stable fixed point, but
    linearised around h = 0 (J = 3I) the first Newton step grows as 3^t, past float32's range
    (3^81 > 3.4e38) within 100 steps and past √max = 1.8e19 within 41."""
    cell = rnnjax.cells.elman(4, dtype=dtype)
    p = cell.init(key, 3)
    p = p._replace(w_x=jnp.zeros_like(p.w_x), w_h=3.0 * jnp.eye(4), b=jnp.full((4,), 0.01))
    p = jax.tree.map(lambda v: v.astype(dtype), p)
    return cell, p, jax.random.normal(key, (T, 3), dtype)


def test_newton_survives_an_overflowing_first_linearisation(key):
    """The overflow safeguard: float32 converges to the sequential trajectory, in the
    same iterations as float64, where plain Newton overflows at iteration 1."""
    cell, p, xs = expanding(key)
    J = 3.0 * np.eye(4)  # plain Newton's first step: s_1 = Σ_k J^(t-k) b_k overflows float32
    first = np.zeros(4, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(100):
            first = (J @ first + 0.01).astype(np.float32)
    assert not np.all(np.isfinite(first))
    carry, ys, info = jax.jit(lambda p, xs: newton_unroll(cell, p, xs))(p, xs)
    assert bool(info.converged) and np.isfinite(float(info.residual))
    chex.assert_trees_all_close((carry, ys), rnnjax.unroll(cell, p, xs), rtol=1e-4, atol=1e-4)
    with jax.enable_x64(True):
        cell64, p64, xs64 = expanding(key, dtype=jnp.float64)
        _, _, info64 = jax.jit(lambda p, xs: newton_unroll(cell64, p, xs))(p64, xs64)
        assert bool(info64.converged)
    assert abs(int(info.iterations) - int(info64.iterations)) <= 2 and int(info.iterations) < 20


def test_diverged_is_told_from_out_of_iterations(key):
    """A non-finite step (a NaN input) stops the solve with residual inf; running out of
    iterations leaves a finite residual. Neither is converged."""
    cell, p, xs = expanding(key, T=20)
    _, _, info = newton_unroll(cell, p, xs.at[5, 0].set(jnp.nan))
    assert not bool(info.converged) and np.isinf(float(info.residual))
    assert int(info.iterations) == 0  # the guess's residual is already not finite
    _, _, info = newton_unroll(cell, p, xs, max_iters=1)
    assert not bool(info.converged) and np.isfinite(float(info.residual))
    assert int(info.iterations) == 1


def test_non_converged_outputs_and_carry_agree(key):
    """gru(4), T = 50, one iteration: ys and the final carry come from one step applied to the
    last iterate, so ys[-1] is the returned carry (a GRU's output is its carry), and every
    (carry, y) pair is cell.step of the previous returned carry's state."""
    cell = rnnjax.cells.gru(4)
    p = random_params(cell, key)
    xs = jax.random.normal(jax.random.fold_in(key, 1), (50, 3))
    carry, ys, info = newton_unroll(cell, p, xs, max_iters=1)
    assert not bool(info.converged)
    np.testing.assert_array_equal(np.asarray(ys[-1]), np.asarray(carry))
    seq = rnnjax.unroll(cell, p, xs)[1]
    assert float(jnp.max(jnp.abs(ys - seq))) > 1e-2  # not converged: not the sequential answer


def test_default_tolerances_by_dtype(key):
    """The documented defaults, and the threshold ``tol + rtol · max|f|`` they enter."""
    from rnnjax.parallel.newton import default_tol
    assert [default_tol(d) for d in (jnp.float64, jnp.float32, jnp.bfloat16, jnp.float16)] == [
        1e-7, 1e-4, 1e-2, 1e-2]
    cell, p, xs, c0 = setup("lstm", key, batch=(), T=30)
    big = jax.tree.map(lambda c: 100.0 * c, c0)  # an LSTM cell state of ~20: relative matters
    for kw in ({"tol": 1e-3, "rtol": 0.0}, {"tol": 0.0, "rtol": 1e-3}):
        _, _, info = newton_unroll(cell, p, 30 * xs, big, **kw)
        _, ys_seq = rnnjax.unroll(cell, p, 30 * xs, big)
        scale = 0.0 if kw["rtol"] == 0 else float(jnp.max(jnp.abs(jnp.concatenate(
            [jnp.ravel(v) for v in jax.tree.leaves(rnnjax.unroll(cell, p, 30 * xs, big,
                                                                 return_carries=True)[1][1])]))))
        threshold = kw["tol"] + kw["rtol"] * scale
        assert bool(info.converged) and float(info.residual) <= threshold * 1.01


def test_init_guess_at_the_solution_takes_no_iteration(key):
    cell, p, xs, c0 = setup("lstm", key, batch=(2,), T=16)
    carry, (ys, carries) = rnnjax.unroll(cell, p, xs, c0, return_carries=True)
    got_carry, got_ys, info = newton_unroll(cell, p, xs, c0, init=carries)
    assert bool(jnp.all(info.converged)) and int(jnp.max(info.iterations)) == 0
    chex.assert_trees_all_close((got_carry, got_ys), (carry, ys), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="init"):
        newton_unroll(cell, p, xs, c0, init=jax.tree.map(lambda v: v[:, 1:], carries))


def test_adaptive_damping_converges_where_fixed_damping_crawls(key):
    """From a strong initial damping λ₀ = 10 the trust-region rule shrinks λ towards DEER;
    the fixed λ = 10 takes short steps and does not reach tol in the same budget."""
    cell, p, xs, c0 = setup("gru", key, batch=(2,), T=24)
    run = lambda rule: jax.jit(lambda p, xs, c0: newton_unroll(
        cell, p, xs, c0, damping=10.0, damping_rule=rule, max_iters=30, **TIGHT))(p, xs, c0)
    carry, ys, info = run("adaptive")
    assert bool(jnp.all(info.converged))
    chex.assert_trees_all_close((carry, ys), rnnjax.unroll(cell, p, xs, c0), rtol=1e-5, atol=1e-5)
    _, _, fixed = run("fixed")
    assert not bool(jnp.all(fixed.converged))


@pytest.mark.parametrize("damping", [float("inf"), float("nan"), -1.0, -0.5, "0.1", 1j])
def test_damping_must_be_a_finite_number_at_least_zero(damping, key):
    cell, p, xs, c0 = setup("elman", key, batch=(), T=3)
    with pytest.raises(ValueError, match=r"^newton_unroll: damping must be None or a finite number "
                                         r">= 0, got .+$"):
        newton_unroll(cell, p, xs, damping=damping)


def test_batch_ranks_zero_length_and_bad_input(key):
    cell, p, xs, c0 = setup("lstm", key, batch=(2, 1), T=5)
    carry, ys, info = jax.jit(lambda p, xs: newton_unroll(cell, p, xs, **TIGHT))(p, xs)
    assert ys.shape == (2, 1, 5, 4) and info.converged.shape == (2, 1)
    chex.assert_trees_all_close((carry, ys), rnnjax.unroll(cell, p, xs), rtol=1e-5, atol=1e-5)
    carry, ys, info = newton_unroll(cell, p, xs[..., :0, :], c0)
    assert ys.shape == (2, 1, 0, 4) and bool(jnp.all(info.converged))
    chex.assert_trees_all_close(carry, c0)
    for kw, match in [({"jacobian": "dense"}, "jacobian"), ({"damping": -1.0}, "damping"),
                      ({"max_iters": 0}, "max_iters"), ({"tol": float("nan")}, "tol"),
                      ({"smoother": "rts"}, "smoother"), ({"rtol": -1.0}, "rtol"),
                      ({"damping_rule": "auto"}, "damping_rule"),
                      ({"damping_rule": "adaptive"}, "damping")]:
        with pytest.raises(ValueError, match=match):
            newton_unroll(cell, p, xs, **kw)
    lru = rnnjax.cells.lru(4)
    with pytest.raises(TypeError, match="real floating carry"):
        newton_unroll(lru, lru.init(key, 3), xs)


@pytest.mark.slow
def test_float32_defaults_stop_when_float64_does(key):
    """tanh Elman, H = 64, initialised w_h × 1.3, T = 2000, default settings: float32 stops within
    20 iterations, as float64 does (with tol 1e-6 for every dtype it ran for hundreds)."""
    cell = rnnjax.cells.elman(64)
    p = cell.init(key, 2)
    p = p._replace(w_h=1.3 * p.w_h)
    xs = jax.random.normal(jax.random.fold_in(key, 1), (2000, 2))
    _, ys, info = jax.jit(lambda p, xs: newton_unroll(cell, p, xs))(p, xs)
    assert bool(info.converged) and int(info.iterations) <= 20
    with jax.enable_x64(True):  # the same network and inputs, cast
        cell64 = rnnjax.cells.elman(64, dtype=jnp.float64)
        p64, xs64 = jax.tree.map(lambda v: v.astype(jnp.float64), (p, xs))
        _, ys64, info64 = jax.jit(lambda p, xs: newton_unroll(cell64, p, xs))(p64, xs64)
        assert bool(info64.converged) and int(info64.iterations) <= 20
    np.testing.assert_allclose(ys, np.asarray(ys64, np.float32), atol=1e-3)
