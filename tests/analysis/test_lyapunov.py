"""Lyapunov spectra: closed forms, a brute-force perturbation estimate, and a 1-D map."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax
from rnnjax import analysis


def test_logistic_map_at_r4_is_ln2():
    """The lecture's population-growth model x <- r x (1 - x): lambda(4) = ln 2 exactly."""
    cell = analysis.logistic_map(4.0)
    with jax.enable_x64(True):
        params = cell.init(jax.random.key(0), 1)
        lam = analysis.lyapunov_spectrum(cell, params, jnp.zeros((20000, 1)),
                                         jnp.array([0.3141]), warmup=100)
        assert lam.shape == (1,)
        np.testing.assert_allclose(lam[0], np.log(2.0), atol=0.01)
        # on the stable fixed point x* = 1 - 1/r (1 < r < 3) lambda = log|2 - r|
        lam = analysis.lyapunov_spectrum(analysis.logistic_map(2.5), jnp.asarray(2.5),
                                         jnp.zeros((3000, 1)), jnp.array([0.3]), warmup=500)
        np.testing.assert_allclose(lam[0], np.log(0.5), atol=1e-6)


def test_linear_diagonal_map_gives_log_abs_eigenvalues(key):
    """h <- D h: the exponents are log|d_i|, sorted."""
    d = jnp.array([0.3, -1.2, 0.9, 2.0, -0.05])
    cell = rnnjax.cells.elman(5, activation=lambda z: z)
    params = cell.init(key, 1)._replace(w_h=jnp.diag(d))
    xs = jnp.zeros((200, 1))
    lam = analysis.lyapunov_spectrum(cell, params, xs, warmup=100)  # warm-up aligns Q
    np.testing.assert_allclose(lam, np.sort(np.log(np.abs(np.asarray(d))))[::-1], rtol=1e-4)
    top2 = analysis.lyapunov_spectrum(cell, params, xs, k=2, warmup=100)
    np.testing.assert_allclose(top2, lam[:2], rtol=1e-4)


def _chaotic_tanh(n, g):
    cell = rnnjax.cells.elman(n)
    params = analysis.astype(cell.init(jax.random.key(1), 1), jnp.float64)
    w = g * jax.random.normal(jax.random.key(10), (n, n), jnp.float64) / np.sqrt(n)
    return cell, params._replace(w_h=w, b=jnp.zeros(n, jnp.float64))


def test_lambda_max_matches_brute_force_perturbation():
    """Benettin's two-trajectory estimate: separate by delta, renormalise each step, average logs."""
    n, T, warm = 24, 3000, 300
    with jax.enable_x64(True):
        cell, params = _chaotic_tanh(n, 4.0)
        h0 = jax.random.normal(jax.random.key(3), (n,), jnp.float64)
        xs = jnp.zeros((T, 1), jnp.float64)
        lam = analysis.lyapunov_spectrum(cell, params, xs, h0, k=3, warmup=warm)

        w = np.asarray(params.w_h)
        h = np.asarray(h0)
        for _ in range(warm):  # reach the attractor with plain numpy
            h = np.tanh(h @ w)
        delta = 1e-7
        p = np.random.default_rng(0).standard_normal(n)
        hp = h + delta * p / np.linalg.norm(p)
        logs = []
        for _ in range(T - warm):
            h, hp = np.tanh(h @ w), np.tanh(hp @ w)
            dist = np.linalg.norm(hp - h)
            logs.append(np.log(dist / delta))
            hp = h + (hp - h) * (delta / dist)
        brute = np.mean(logs[100:])
        assert lam[0] > 0.1  # this g = 4 network is chaotic
        np.testing.assert_allclose(lam[0], brute, atol=0.03)
        assert lam[0] >= lam[1] >= lam[2]


def test_full_spectrum_sums_to_mean_log_det(key):
    """sum_i lambda_i = <log|det J_t|>, with det from the dense per-step Jacobians."""
    n, T = 6, 200
    with jax.enable_x64(True):
        cell, params = _chaotic_tanh(n, 1.8)
        xs = 0.5 * jax.random.normal(key, (T, 1), jnp.float64)
        lam = analysis.lyapunov_spectrum(cell, params, xs)
        jacs = np.asarray(analysis.step_jacobians(cell, params, xs))
        logdet = np.mean([np.linalg.slogdet(j)[1] for j in jacs])
        np.testing.assert_allclose(np.sum(lam), logdet, rtol=1e-8)


def test_history_and_bad_input(key):
    cell = rnnjax.cells.elman(4)
    params = cell.init(key, 1)
    lam, hist = analysis.lyapunov_spectrum(cell, params, jnp.zeros((30, 1)), k=2, warmup=10,
                                           return_history=True)
    assert hist.shape == (20, 2)
    np.testing.assert_allclose(hist[-1], lam, rtol=1e-5)
    with pytest.raises(ValueError, match="k must"):
        analysis.lyapunov_spectrum(cell, params, jnp.zeros((30, 1)), k=5)
    with pytest.raises(ValueError, match="warmup"):
        analysis.lyapunov_spectrum(cell, params, jnp.zeros((30, 1)), warmup=30)
