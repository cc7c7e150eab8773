"""Part ``lyapunov``: spectra of random tanh networks against the gain, and the logistic map.

h_t = tanh(W h_{t-1} + s xi_t) with W_ij ~ N(0, g^2/N) and xi_t ~ N(0, I). Without input
(s = 0), h = 0 is a fixed point with Jacobian W, stable while the spectral radius rho(W) < 1
(rho(W) -> g as N grows), and there lambda_max = ln rho(W); beyond g = 1 the network is chaotic,
lambda_max > 0 (Sompolinsky, Crisanti & Sommers 1988). Input suppresses chaos and moves the
crossing to larger g. The logistic map x <- r x (1 - x) has lambda = ln 2 at r = 4.

Mean-field theory (Molgedey, Schuchhardt & Schuster 1992; Poole et al. 2016) predicts
lambda_max = 1/2 ln chi_1 as N -> infinity, with the drive's variance sigma_u^2 = s^2 (the drive
is u_t = s xi_t exactly: W_x = s I); see :func:`rnnjax.analysis.mean_field.mean_field_lyapunov`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

import rnnjax
from experiments.jacobian_spectra.config import LyapunovConfig
from rnnjax import analysis
from rnnjax.analysis.mean_field import mean_field_lyapunov

LOGISTIC_STEPS, LOGISTIC_WARMUP, LOGISTIC_X0 = 3000, 500, 0.3141
THEORY_POINTS = 200  # gains of the drawn mean-field curves


def random_tanh(n: int, g, key, input_std: float):
    """The Elman cell and parameters W ~ N(0, g^2/N), W_x = input_std I, b = 0."""
    cell = rnnjax.cells.elman(n)
    params = cell.init(jax.random.key(0), n)
    w = g * jax.random.normal(key, (n, n)) / math.sqrt(n)
    return cell, params._replace(w_h=w, w_x=input_std * jnp.eye(n), b=jnp.zeros(n))


GOLDEN = (math.sqrt(5) - 1) / 2
LEVEL = 0.95   # coverage of the interval on lambda(4)


def logistic_at_4(orbits: int, level: float = LEVEL) -> dict:
    """lambda(4) of the logistic map from ``orbits`` independent initial points
    ``x_0 = frac(LOGISTIC_X0 + j (sqrt 5 - 1)/2)`` (float64, ``LOGISTIC_WARMUP`` steps dropped,
    ``LOGISTIC_STEPS`` averaged): each orbit's ``(1/T) sum_t ln|4 (1 - 2 x_t)|``, their mean
    and the Student-t interval at ``level`` across them (the orbits are independent, so the
    correlation of the terms along an orbit is inside each orbit's estimate). Exactly ln 2 in
    theory (conjugacy to the tent map; the per-step terms have variance pi^2/12)."""
    with jax.enable_x64(True):
        cell = analysis.logistic_map(4.0)
        x0 = jnp.asarray(np.mod(LOGISTIC_X0 + GOLDEN * np.arange(orbits), 1.0)[:, None],
                         jnp.float64)
        zeros = jnp.zeros((LOGISTIC_STEPS, 1), jnp.float64)
        lam = np.asarray(jax.jit(jax.vmap(lambda x: analysis.lyapunov_spectrum(
            cell, jnp.float64(4.0), zeros, x, warmup=LOGISTIC_WARMUP)[0]))(x0))
    mean, se = float(lam.mean()), float(lam.std(ddof=1) / math.sqrt(orbits))
    half = float(stats.t.ppf(0.5 + level / 2, orbits - 1)) * se
    return {"lambda": mean, "se": se, "ci": [mean - half, mean + half], "level": level,
            "orbits": orbits, "per_orbit": lam.tolist(), "steps": LOGISTIC_STEPS,
            "warmup": LOGISTIC_WARMUP,
            "interval": "Student t across independent initial points"}


def logistic_exponents(points: int, orbits: int) -> dict:
    """lambda(r) of the logistic map for ``points`` rates r in [2.5, 4], in float64, and
    lambda(4) with its interval (:func:`logistic_at_4`)."""
    at_4 = logistic_at_4(orbits)
    with jax.enable_x64(True):
        cell = analysis.logistic_map(4.0)
        rs = jnp.linspace(2.5, 4.0, points, dtype=jnp.float64)
        zeros = jnp.zeros((LOGISTIC_STEPS, 1), jnp.float64)
        x0 = jnp.array([LOGISTIC_X0], jnp.float64)
        lam = jax.jit(jax.vmap(lambda r: analysis.lyapunov_spectrum(
            cell, r, zeros, x0, warmup=LOGISTIC_WARMUP)[0]))(rs)
        return {"r": np.asarray(rs).tolist(), "lambda": np.asarray(lam).tolist(),
                "lambda_at_4": float(lam[-1]), "ln2": math.log(2.0), "at_4": at_4}


def _top_exponents(n: int, grid, seed_keys, xs_all, h0, std: float, warm: int) -> jax.Array:
    """lambda_max, shape (grid, seeds), of N = n networks at every gain and seed."""

    def top(g, key, xs):
        cell, params = random_tanh(n, g, key, std)
        return analysis.lyapunov_spectrum(cell, params, xs, h0, k=1, warmup=warm)[0]

    return jax.jit(jax.vmap(jax.vmap(top, (None, 0, 0)), (0, None, None)))(grid, seed_keys, xs_all)


def _summary(grid: tuple, lam, n: int, input_variance: float) -> dict:
    """Mean over seeds and every seed's value (the figure draws the interval from them), next
    to the mean-field value."""
    lam = np.asarray(lam, dtype=np.float64)
    return {"N": n, "input_variance": input_variance, "g": list(grid),
            "lambda_max": lam.mean(1).tolist(), "lambda_max_seeds": lam.tolist(),
            "mean_field": mean_field_lyapunov(np.asarray(grid), input_variance).lambda_max.tolist()}


def _keys(seed: int, n: int, cfg: LyapunovConfig):
    """Per-seed keys of W, the inputs xi (seeds, T, n) and h_0 of an N = n network."""
    base = jax.random.fold_in(jax.random.key(seed), 4)
    if n != cfg.hidden_size:
        base = jax.random.fold_in(base, n)
    seed_keys = jax.random.split(base, cfg.seeds)
    h0 = jax.random.normal(jax.random.fold_in(base, 99), (n,))
    xs_all = jax.random.normal(jax.random.fold_in(base, 7), (cfg.seeds, cfg.length, n))
    return seed_keys, xs_all, h0


def run_lyapunov(cfg: LyapunovConfig, seed: int) -> dict:
    """Full spectra at ``cfg.gains`` (first seed), lambda_max on ``cfg.gain_grid`` (every seed),
    with and without input, with the mean-field theory; the autonomous lambda_max at every N of
    ``cfg.finite_sizes``; rho(W) per gain and seed; the logistic map."""
    n, T, warm = cfg.hidden_size, cfg.length, cfg.warmup
    seed_keys, xs_all, h0 = _keys(seed, n, cfg)
    gains, grid = jnp.asarray(cfg.gains), jnp.asarray(cfg.gain_grid)
    fine = np.linspace(min(cfg.gain_grid), max(cfg.gain_grid), THEORY_POINTS)
    out = {"n": n, "steps": T, "warmup": warm, "gains": list(cfg.gains),
           "grid": list(cfg.gain_grid), "spectra": {},
           "theory": {"g": fine.tolist()}}
    for label, std in (("autonomous", 0.0), ("driven", cfg.input_std)):

        def spectrum(g, std=std):
            cell, params = random_tanh(n, g, seed_keys[0], std)
            return analysis.lyapunov_spectrum(cell, params, xs_all[0], h0, k=n, warmup=warm)

        out["spectra"][label] = np.asarray(jax.jit(jax.vmap(spectrum))(gains)).tolist()
        lam = _top_exponents(n, grid, seed_keys, xs_all, h0, std, warm)
        out[label] = _summary(cfg.gain_grid, lam, n, std**2)
        out["theory"][label] = mean_field_lyapunov(fine, std**2).lambda_max.tolist()
    out["finite_size"] = {}
    for size in cfg.finite_sizes:
        if size == n:
            lam = out["autonomous"]["lambda_max_seeds"]
        else:
            keys, xs, h = _keys(seed, size, cfg)
            lam = _top_exponents(size, grid, keys, xs, h, 0.0, warm)
        out["finite_size"][str(size)] = _summary(cfg.gain_grid, lam, size, 0.0)
    radius = jax.vmap(jax.vmap(lambda g, key: rnnjax.init.spectral_radius(
        random_tanh(n, g, key, 0.0)[1].w_h), (None, 0)), (0, None))
    out["spectral_radius"] = np.asarray(radius(grid, seed_keys)).tolist()  # (grid, seeds)
    out["logistic"] = logistic_exponents(cfg.logistic_points, cfg.logistic_orbits)
    return out
