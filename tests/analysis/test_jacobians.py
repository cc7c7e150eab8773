"""Jacobian norms and spectra through time, against independent computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax import analysis


def _orthogonal(key, n, dtype=jnp.float32):
    q, _ = jnp.linalg.qr(jax.random.normal(key, (n, n), dtype))
    return q


def _linear_cell(h):
    return rnnjax.cells.elman(h, activation=lambda z: z)


def _unrolled_jacobian(cell, params, xs, carry):
    """d(flattened carry after len(xs) steps)/d(flattened initial carry) by jacfwd of the unroll."""
    flat0, unravel = jax.flatten_util.ravel_pytree(carry)

    @jax.jit
    def jac(flat):
        def final(flat):
            c, _ = rnnjax.unroll(cell, params, xs, carry=unravel(flat))
            return jax.flatten_util.ravel_pytree(c)[0]

        return jax.jacfwd(final)(flat)

    return np.asarray(jac(flat0))


@pytest.mark.parametrize("method", ["dense", "matfree"])
def test_linear_orthogonal_is_rho_to_the_t(key, method):
    """W_h = rho Q with Q orthogonal: every product is rho^t Q^t, so the norm is exactly rho^t."""
    h, T = 12, 30
    cell = _linear_cell(h)
    with jax.enable_x64(True):
        params = analysis.astype(cell.init(key, 3), jnp.float64)
        xs = jax.random.normal(jax.random.key(1), (T, 3), jnp.float64)
        t = np.arange(1, T + 1)
        for rho in (0.5, 1.0, 1.5):
            p = params._replace(w_h=rho * _orthogonal(jax.random.key(2), h, jnp.float64))
            got = analysis.jacobian_norms(cell, p, xs, method=method, k=4)
            np.testing.assert_allclose(got, rho**t, rtol=1e-9)


def test_log_norms_do_not_overflow_in_float32(key):
    """1.5^400 ~ 1e70 overflows float32; the log-scale accumulation does not."""
    h, T = 8, 400
    cell = _linear_cell(h)
    p = cell.init(key, 1)._replace(w_h=1.5 * _orthogonal(jax.random.key(3), h))
    xs = jnp.zeros((T, 1))
    for method in ("dense", "matfree"):
        got = analysis.log_jacobian_norms(cell, p, xs, method=method, k=3)
        np.testing.assert_allclose(got, np.arange(1, T + 1) * np.log(1.5), rtol=1e-4)


@pytest.mark.parametrize("name", ["tanh", "lstm", "gru", "stack"])
def test_dense_matches_jacfwd_of_the_whole_unroll(key, name):
    """Norms and full spectra of P_t equal those of jacfwd of the unrolled map (carry flattened)."""
    cells = {
        "tanh": rnnjax.cells.elman(6),
        "lstm": rnnjax.cells.lstm(4, forget_bias=1.0),
        "gru": rnnjax.cells.gru(5),
        "stack": rnnjax.stack([rnnjax.cells.elman(4), rnnjax.cells.lstm(3)]),
    }
    cell = cells[name]
    with jax.enable_x64(True):
        params = analysis.astype(cell.init(key, 2), jnp.float64)
        params = jax.tree.map(lambda a: 1.5 * a, params)  # leave the linear regime
        xs = jax.random.normal(jax.random.key(4), (7, 2), jnp.float64)
        carry = jax.tree.map(
            lambda c: 0.3 * jax.random.normal(jax.random.key(5), c.shape, jnp.float64),
            cell.initial_carry(params, batch_shape=()),
        )
        norms = analysis.jacobian_norms(cell, params, xs, carry, method="dense")
        sv = analysis.jacobian_singular_values(cell, params, xs, carry, at=(2, 7), log=False)
        for i, t in enumerate((2, 7)):
            ref = np.linalg.svd(_unrolled_jacobian(cell, params, xs[:t], carry), compute_uv=False)
            np.testing.assert_allclose(sv[i], ref, rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(norms[t - 1], ref[0], rtol=1e-8)


@pytest.mark.slow
def test_matfree_agrees_with_dense(key):
    """Nonlinear, non-normal Jacobians: exact with k = N, a tight lower bound with k < N."""
    n, T = 32, 80
    cell = rnnjax.cells.elman(n)
    params = cell.init(key, 3)
    params = params._replace(w_h=1.3 * jax.random.normal(jax.random.key(6), (n, n)) / np.sqrt(n))
    xs = jax.random.normal(jax.random.key(7), (T, 3))
    dense = analysis.log_jacobian_norms(cell, params, xs, method="dense")
    full = analysis.log_jacobian_norms(cell, params, xs, method="matfree", k=n, sweeps=0)
    np.testing.assert_allclose(full, dense, atol=2e-4)
    low = analysis.log_jacobian_norms(cell, params, xs, method="matfree", k=12, sweeps=4)
    assert np.all(low <= dense + 1e-4)  # sigma_max(P Q) <= sigma_max(P)
    np.testing.assert_allclose(low, dense, atol=1e-3)


@pytest.mark.parametrize("T", [1, 2, 5, 9, 10, 17])
def test_checkpointed_pull_back_equals_the_gradient_of_the_unroll(key, T):
    """The backward sweep recomputes h_{t-1} from sqrt(T) checkpoints (T padded to whole blocks):
    pulling c_T back and adding c_t at every t gives sum_t P_t^T c_t = d/dh_0 sum_t <c_t, h_t>."""
    from rnnjax.analysis.matfree import _block_starts, _blocks, _pull_back

    cell = rnnjax.cells.lstm(3)
    with jax.enable_x64(True):
        params = analysis.astype(cell.init(key, 2), jnp.float64)
        xs = jax.random.normal(jax.random.key(11), (T, 2), jnp.float64)
        f, h0, _ = analysis.flat_step(cell, params)
        h0 = 0.5 * jax.random.normal(jax.random.key(12), h0.shape, jnp.float64)
        cs = jax.random.normal(jax.random.key(13), (T, h0.shape[0]), jnp.float64)

        def update(g, t, vjp):
            return jnp.where(t <= T, vjp(g + cs[jnp.minimum(t, T) - 1]), g)

        xs_b, times = _blocks(xs)
        starts = _block_starts(f, h0, xs_b, times, T)
        got = _pull_back(f, T, xs_b, times, starts, update, jnp.zeros_like(h0))

        def objective(h):  # a Python loop over the flat step, independent of the block logic
            total = 0.0
            for t in range(T):
                h = f(h, xs[t])[0]
                total = total + cs[t] @ h
            return total

        np.testing.assert_allclose(got, jax.grad(objective)(h0), rtol=1e-10, atol=1e-12)


def test_power_iteration_converges_to_the_top_singular_value(key):
    """Each probe column converges to sigma_max of the product at its own target time."""
    from rnnjax.analysis.matfree import _normalised, _power_iteration

    n, T = 10, 23
    cell = rnnjax.cells.elman(n)
    with jax.enable_x64(True):
        params = analysis.astype(cell.init(key, 2), jnp.float64)
        params = params._replace(w_h=1.2 * _orthogonal(jax.random.key(14), n, jnp.float64))
        xs = jax.random.normal(jax.random.key(15), (T, 2), jnp.float64)
        f, h0, _ = analysis.flat_step(cell, params)
        targets = np.array([3, 11, 23])
        w, _ = _normalised(jax.random.normal(jax.random.key(16), (n, 3), jnp.float64))
        _, got = _power_iteration(f, h0, xs, targets, w, 300)
        sv = analysis.jacobian_singular_values(cell, params, xs, at=targets)
        assert np.all(sv[:, 0] - sv[:, 1] > 0.02)  # a spectral gap, so the iteration converges
        np.testing.assert_allclose(got, sv[:, 0], atol=1e-8)


@pytest.mark.slow
def test_matfree_memory_does_not_store_the_trajectory(key):
    """XLA's accounting of the compiled program: 64x more steps cost far less than one stored
    trajectory (T x N floats), because the backward sweep recomputes it from checkpoints."""
    n = 64
    cell = rnnjax.cells.elman(n)
    params = cell.init(key, 2)
    fn = jax.jit(lambda p, x: analysis.log_jacobian_norms(cell, p, x, method="matfree", k=8))
    temp = {}
    for T in (256, 16384):
        stats = fn.lower(params, jnp.zeros((T, 2))).compile().memory_analysis()
        if stats is None:
            pytest.skip("this backend has no memory analysis")
        temp[T] = stats.temp_size_in_bytes
    trajectory = (16384 - 256) * n * 4
    assert temp[16384] - temp[256] < 0.1 * trajectory


def test_step_jacobians_match_finite_differences(key):
    """J_t from the library against central differences of one step, float64."""
    cell = rnnjax.cells.lstm(3)
    with jax.enable_x64(True):
        params = analysis.astype(cell.init(key, 2), jnp.float64)
        xs = jax.random.normal(jax.random.key(8), (3, 2), jnp.float64)
        jacs = analysis.step_jacobians(cell, params, xs)
        f, h, _ = analysis.flat_step(cell, params)
        eps = 1e-6
        for t in range(3):
            fd = np.stack([
                (f(h + eps * e, xs[t])[0] - f(h - eps * e, xs[t])[0]) / (2 * eps)
                for e in np.eye(h.shape[0])
            ], axis=1)
            np.testing.assert_allclose(jacs[t], fd, atol=1e-8)
            h = f(h, xs[t])[0]


def test_vmap_over_spectral_radii_equals_a_loop(key):
    h, T = 10, 20
    cell = rnnjax.cells.elman(h)
    base = cell.init(key, 2)
    q = _orthogonal(jax.random.key(9), h)
    rhos = jnp.array([0.5, 1.0, 1.5])
    xs = jax.random.normal(jax.random.key(10), (T, 2))
    batched = jax.vmap(lambda r: analysis.jacobian_norms(cell, base._replace(w_h=r * q), xs))(rhos)
    assert batched.shape == (3, T)
    for i, r in enumerate(rhos):
        np.testing.assert_allclose(
            batched[i], analysis.jacobian_norms(cell, base._replace(w_h=r * q), xs), rtol=1e-5
        )
    # tanh' <= 1: the norm never exceeds rho^t (Pascanu et al.'s bound with sigma_max(W) = rho)
    t = np.arange(1, T + 1)
    assert np.all(np.log(batched) <= np.log(rhos)[:, None] * t[None, :] + 1e-4)


@pytest.mark.slow
def test_matfree_vmaps_over_spectral_radii(key):
    """The matrix-free method under vmap equals a Python loop over the batch."""
    h, T = 24, 40
    cell = rnnjax.cells.elman(h)
    base = cell.init(key, 2)
    w = jax.random.normal(jax.random.key(17), (h, h)) / np.sqrt(h)
    rhos = jnp.array([0.8, 1.2])
    xs = jax.random.normal(jax.random.key(18), (T, 2))

    def norms(r):
        return analysis.log_jacobian_norms(cell, base._replace(w_h=r * w), xs, method="matfree",
                                           k=6, sweeps=2)

    batched = jax.vmap(norms)(rhos)
    for i, r in enumerate(rhos):
        np.testing.assert_allclose(batched[i], norms(r), atol=1e-4)


def test_bad_input_raises(key):
    cell = rnnjax.cells.elman(4)
    params = cell.init(key, 2)
    with pytest.raises(ValueError, match=r"\(T, input_size\)"):
        analysis.jacobian_norms(cell, params, jnp.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="one sequence"):
        analysis.jacobian_norms(cell, params, jnp.zeros((5, 2)), jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match="method"):
        analysis.jacobian_norms(cell, params, jnp.zeros((5, 2)), method="svd")
    with pytest.raises(ValueError, match="1..5"):
        analysis.jacobian_singular_values(cell, params, jnp.zeros((5, 2)), at=(0,))
    with pytest.raises(TypeError, match="rnnjax.Cell"):
        analysis.jacobian_norms(lambda p, c, x: (c, c), params, jnp.zeros((5, 2)))
