"""Mean-field λ_max and zero-state Jacobian products against independent computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax import analysis
from rnnjax.analysis import mean_field
from rnnjax.cells.elman import ElmanParams


def test_subcritical_without_input_is_ln_g():
    g = np.array([0.2, 0.5, 0.9, 1.0])
    r = mean_field.mean_field_lyapunov(g)
    np.testing.assert_allclose(r.q, 0.0, atol=1e-12)
    np.testing.assert_allclose(r.lambda_max, np.log(g), atol=1e-10)
    assert r.q.shape == g.shape


def test_quadrature_matches_monte_carlo_in_float64():
    g = np.array([[1.3, 2.0], [3.0, 0.7]])                       # any shape of g
    z = np.random.default_rng(0).standard_normal(4_000_000)
    for var in (0.0, 0.5):
        r = mean_field.mean_field_lyapunov(g, var)
        for idx in np.ndindex(g.shape):
            a = np.sqrt(r.q[idx]) * z
            if g[idx] > 1 or var > 0:
                assert r.q[idx] > 0.05
            # q solves the fixed-point equation; χ₁ is the mean squared slope
            assert abs(g[idx] ** 2 * np.mean(np.tanh(a) ** 2) + var - r.q[idx]) < 2e-3
            chi = g[idx] ** 2 * np.mean(np.cosh(a) ** -4.0)
            assert abs(0.5 * np.log(chi) - r.lambda_max[idx]) < 2e-3
    # and both against adaptive quadrature (scipy) to 1e-9
    from scipy import integrate
    r = mean_field.mean_field_lyapunov(3.0, 0.5)
    dens = lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi)     # noqa: E731
    chi = 9.0 * integrate.quad(lambda z: np.cosh(np.sqrt(r.q) * z) ** -4.0 * dens(z), -40, 40,
                               points=[0.0], limit=400, epsabs=1e-13)[0]
    assert abs(chi - r.chi) < 1e-9
    # the input pushes the exponent down (Molgedey et al.'s noise-suppressed chaos)
    assert np.all(mean_field.mean_field_lyapunov(g, 0.5).lambda_max
                  < mean_field.mean_field_lyapunov(g).lambda_max)


def test_matches_measured_lyapunov_exponent_of_a_random_network():
    """N = 200 tanh network, W ~ N(0, g²/N), inputs u ~ N(0, σ²): measured λ_max (QR method,
    800 steps, 200 burn-in) within 0.04 of the theory, autonomous and driven, one compile."""
    n, key = 200, jax.random.key(0)
    cell = rnnjax.cells.elman(n)
    cases = [(2.0, 0.0), (1.5, 0.5)]
    w = jax.random.normal(key, (n, n)) / np.sqrt(n)
    params = ElmanParams(jnp.stack([jnp.sqrt(v) * jnp.eye(n) for _, v in cases]),
                         jnp.stack([g * w for g, _ in cases]), jnp.zeros((len(cases), n)))
    xs = jax.random.normal(jax.random.fold_in(key, 1), (800, n))
    h0 = 0.5 * jax.random.normal(jax.random.fold_in(key, 2), (n,))
    measured = jax.vmap(lambda p: analysis.lyapunov_spectrum(cell, p, xs, h0, k=1,
                                                             warmup=200)[0])(params)
    for (g, var), lam in zip(cases, np.asarray(measured)):
        assert abs(lam - float(mean_field.mean_field_lyapunov(g, var).lambda_max)) < 0.04


@pytest.mark.parametrize("kind", ["lstm", "lstm_chrono", "gru", "gru_bhn", "gru_before"])
def test_zero_state_product_matches_jacobian_norms(kind, key):
    hidden, steps = 6, 25
    cell = {"lstm": rnnjax.cells.lstm(hidden, forget_bias=1.0),
            "lstm_chrono": rnnjax.cells.lstm(hidden, chrono_t_max=20.0),
            "gru": rnnjax.cells.gru(hidden), "gru_bhn": rnnjax.cells.gru(hidden),
            "gru_before": rnnjax.cells.gru(hidden, variant="reset_before")}[kind]
    params = cell.init(key, 3)
    params = params._replace(w_h=1.3 * params.w_h)                # past ρ = 1: norms change
    kb = jax.random.fold_in(key, 1)
    if kind == "lstm":                     # random i, f, o biases; the candidate's stays 0
        b = jax.random.normal(kb, (4 * hidden,))
        params = params._replace(b=b.at[2 * hidden:3 * hidden].set(0.0))
    if kind.startswith("gru"):
        b_r, b_z = jax.random.normal(kb, (2, hidden))
        b_n = jnp.zeros(hidden)
        if kind == "gru_bhn":              # b_n = -σ(b_r) b_hn keeps n = 0 at h = 0
            b_hn = jax.random.normal(jax.random.fold_in(key, 2), (hidden,))
            b_n = -jax.nn.sigmoid(b_r) * b_hn
            params = params._replace(b_hn=b_hn)
        params = params._replace(b=jnp.concatenate([b_r, b_z, b_n]))
    want = np.asarray(analysis.jacobian_norms(cell, params, jnp.zeros((steps, 3)),
                                              method="dense"))
    got = mean_field.zero_state_norms(params, steps)
    np.testing.assert_allclose(got, want, rtol=2e-4)
    assert got.shape == (steps,) and np.ptp(np.log(got)) > 0.5


def test_zero_state_requires_a_fixed_point(key):
    params = rnnjax.cells.lstm(4).init(key, 2)
    with pytest.raises(ValueError, match="b_g = 0"):
        mean_field.zero_state_jacobian(params._replace(b=params.b + 0.1))
    gru = rnnjax.cells.gru(4).init(key, 2)
    with pytest.raises(ValueError, match="fixed point"):
        mean_field.zero_state_jacobian(gru._replace(b=gru.b + 0.1))
    with pytest.raises(TypeError, match="LSTMParams or GRUParams"):
        mean_field.zero_state_jacobian(rnnjax.cells.elman(4).init(key, 2))
    with pytest.raises(ValueError, match="g must be"):
        mean_field.mean_field_lyapunov([1.0, -1.0])
