"""Part ``lyapunov``: spectra of random tanh networks against the gain, and the logistic map.

h_t = tanh(W h_{t-1} + s xi_t) with W_ij ~ N(0, g^2/N) and xi_t ~ N(0, I). Without input
(s = 0), h = 0 is a fixed point with Jacobian W, stable while the spectral radius rho(W) < 1
(rho(W) -> g as N grows), and there lambda_max = ln rho(W); beyond g = 1 the network is chaotic,
lambda_max > 0 (Sompolinsky, Crisanti & Sommers 1988). Input suppresses chaos and moves the
crossing to larger g. The logistic map x <- r x (1 - x) has lambda = ln 2 at r = 4.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
from experiments.jacobian_spectra.config import LyapunovConfig
from rnnjax import analysis

LOGISTIC_STEPS, LOGISTIC_WARMUP, LOGISTIC_X0 = 3000, 500, 0.3141


def random_tanh(n: int, g, key, input_std: float):
    """The Elman cell and parameters W ~ N(0, g^2/N), W_x = input_std I, b = 0."""
    cell = rnnjax.cells.elman(n)
    params = cell.init(jax.random.key(0), n)
    w = g * jax.random.normal(key, (n, n)) / math.sqrt(n)
    return cell, params._replace(w_h=w, w_x=input_std * jnp.eye(n), b=jnp.zeros(n))


def logistic_exponents(points: int) -> dict:
    """lambda(r) of the logistic map for ``points`` rates r in [2.5, 4], in float64."""
    with jax.enable_x64(True):
        cell = analysis.logistic_map(4.0)
        rs = jnp.linspace(2.5, 4.0, points, dtype=jnp.float64)
        zeros = jnp.zeros((LOGISTIC_STEPS, 1), jnp.float64)
        x0 = jnp.array([LOGISTIC_X0], jnp.float64)
        lam = jax.jit(jax.vmap(lambda r: analysis.lyapunov_spectrum(
            cell, r, zeros, x0, warmup=LOGISTIC_WARMUP)[0]))(rs)
        return {"r": np.asarray(rs).tolist(), "lambda": np.asarray(lam).tolist(),
                "lambda_at_4": float(lam[-1]), "ln2": math.log(2.0)}


def run_lyapunov(cfg: LyapunovConfig, seed: int) -> dict:
    """Full spectra at ``cfg.gains`` (first seed), lambda_max on ``cfg.gain_grid`` (every seed),
    with and without input; rho(W) per gain and seed; the logistic map."""
    n, T, warm = cfg.hidden_size, cfg.length, cfg.warmup
    base = jax.random.fold_in(jax.random.key(seed), 4)
    seed_keys = jax.random.split(base, cfg.seeds)
    h0 = jax.random.normal(jax.random.fold_in(base, 99), (n,))
    xs_all = jax.random.normal(jax.random.fold_in(base, 7), (cfg.seeds, T, n))
    gains, grid = jnp.asarray(cfg.gains), jnp.asarray(cfg.gain_grid)
    out = {"n": n, "steps": T, "warmup": warm, "gains": list(cfg.gains),
           "grid": list(cfg.gain_grid), "spectra": {}, "lambda_max": {}}
    for label, std in (("autonomous", 0.0), ("driven", cfg.input_std)):

        def spectrum(g, key, xs, k, std=std):
            cell, params = random_tanh(n, g, key, std)
            return analysis.lyapunov_spectrum(cell, params, xs, h0, k=k, warmup=warm)

        full = jax.jit(jax.vmap(lambda g, spectrum=spectrum: spectrum(g, seed_keys[0], xs_all[0], n)))
        out["spectra"][label] = np.asarray(full(gains)).tolist()  # (gains, n)
        top = jax.jit(jax.vmap(jax.vmap(lambda g, key, xs, spectrum=spectrum: spectrum(g, key, xs, 1)[0],
                                        (None, 0, 0)), (0, None, None)))
        out["lambda_max"][label] = np.asarray(top(grid, seed_keys, xs_all)).tolist()  # (grid, seeds)
    radius = jax.vmap(jax.vmap(lambda g, key: rnnjax.init.spectral_radius(
        random_tanh(n, g, key, 0.0)[1].w_h), (None, 0)), (0, None))
    out["spectral_radius"] = np.asarray(radius(grid, seed_keys)).tolist()  # (grid, seeds)
    out["logistic"] = logistic_exponents(cfg.logistic_points)
    return out
