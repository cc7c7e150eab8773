"""Part ``plateau``: how λ_max of random tanh networks approaches the mean-field theory with N.

h_t = tanh(W h_{t-1} + s ξ_t), W_ij ~ N(0, g²/N) (:mod:`.lyapunov`). Without input the
mean-field λ_max = ½ ln χ₁ is > 0 for every g > 1 (Sompolinsky, Crisanti & Sommers 1988), but
at finite N many networks with 1 < g ≤ 1.5 settle on a fixed point or a regular orbit. With
input (σ_u² = s²) the theory is that of Molgedey, Schuchhardt & Schuster (1992).

Per N and g, λ_max of ``seeds`` networks. Per N the gap G(N) = mean over the gains of
(mean field − mean measured λ_max), with its standard error from the seeds; then
``G(N) = a + c/N`` by weighted least squares (:func:`gap_fit`): the N → ∞ gap ``a`` with its
interval at ``level``. A run is *regular* when its λ_max is below half the theory's λ at its g
(closer to 0 than to the theory); the regular fraction carries a Wilson interval.

Every (input, N) is a part of its own, ``<workdir>/<parts>/plateau/<input>_N<N>.json``,
reused whenever its settings match (the largest N finish over several sittings).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from experiments.common import cached_part, say
from experiments.common.stats import wilson_interval
from experiments.jacobian_spectra.lyapunov import random_tanh
from rnnjax import analysis
from rnnjax.analysis.mean_field import mean_field_lyapunov


def exponents(n: int, gains, seeds: int, length: int, warmup: int, std: float,
              seed: int) -> np.ndarray:
    """λ_max, shape ``(len(gains), seeds)``, of N = n networks (float32, one QR column)."""
    base = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 40), n)
    if std:
        base = jax.random.fold_in(base, 1)
    keys = jax.random.split(base, seeds)
    h0 = jax.random.normal(jax.random.fold_in(base, 99), (n,))
    program = _program(n, length, warmup, std)
    out = []
    for s in range(seeds):   # one seed at a time: the inputs of all seeds would not fit at N = 1600
        out.append(np.asarray(program(jnp.asarray(gains, jnp.float32), keys[s], h0)))
    return np.stack(out, axis=1)


@functools.cache
def _program(n: int, length: int, warmup: int, std: float):
    """λ_max at every gain of one seed (its W key; the inputs drawn from it), compiled once."""
    @jax.jit
    def run(gains, key, h0):
        xs = jax.random.normal(jax.random.fold_in(key, 7), (length, n))

        def top(g):
            cell, params = random_tanh(n, g, key, std)
            return analysis.lyapunov_spectrum(cell, params, xs, h0, k=1, warmup=warmup)[0]

        return jax.vmap(top)(gains)

    return run


def summarise(lam, gains, variance: float, level: float) -> dict[str, Any]:
    """Per gain: mean and every seed's value (the figure draws the mean's t-interval from them),
    the theory, the regular fraction (Wilson); the gap and its standard error."""
    lam = np.asarray(lam)
    theory = mean_field_lyapunov(np.asarray(gains, float), variance).lambda_max
    mean, se = lam.mean(1), lam.std(1, ddof=1) / math.sqrt(lam.shape[1])
    regular = [int(np.sum(row < t / 2)) for row, t in zip(lam, theory, strict=True)]
    gap = theory - mean
    return {"g": list(gains), "lambda_max": mean.tolist(), "lambda_max_seeds": lam.tolist(),
            "mean_field": theory.tolist(), "regular": regular,
            "regular_ci": [list(wilson_interval(k, lam.shape[1], level=level)[1:])
                           for k in regular],
            "gap": float(gap.mean()),
            "gap_se": float(math.sqrt(np.sum(se ** 2)) / len(gains))}


def gap_fit(ns, gap, se, level: float = 0.95) -> dict[str, Any]:
    """``G(N) = a + c/N`` by weighted least squares, with intervals on ``a`` and ``c`` at
    ``level``: normal when the points scatter as their standard errors say (χ²/dof ≤ 1);
    otherwise the covariance is scaled by χ²/dof, an estimated variance, and the quantile is
    Student's t with ``dof`` degrees of freedom, so the interval keeps its level with few N."""
    ns, y, s = (np.asarray(v, float) for v in (ns, gap, se))
    a = np.stack([np.ones_like(ns), 1 / ns], 1) / s[:, None]
    coef, *_ = np.linalg.lstsq(a, y / s, rcond=None)
    cov = np.linalg.inv(a.T @ a)
    chi2 = float(np.sum(((y - coef[0] - coef[1] / ns) / s) ** 2))
    dof = len(ns) - 2
    scaled = dof > 0 and chi2 > dof
    if scaled:
        cov = cov * (chi2 / dof)
    z = stats.t.ppf(0.5 + level / 2, dof) if scaled else stats.norm.ppf(0.5 + level / 2)
    err = z * np.sqrt(np.diag(cov))
    return {"a": float(coef[0]), "a_ci": [float(coef[0] - err[0]), float(coef[0] + err[0])],
            "c": float(coef[1]), "c_ci": [float(coef[1] - err[1]), float(coef[1] + err[1])],
            "chi2": chi2, "dof": dof, "level": level, "quantile": "t" if scaled else "normal",
            "N": ns.astype(int).tolist()}


def run_plateau(cfg, seed: int, workdir: Path) -> dict[str, Any]:
    """``plateau.json``: per input (autonomous, driven) and N the per-gain summary, and the
    fit of the gap against 1/N."""
    folder = Path(workdir) / cfg.parts / "plateau"
    out = {"length": cfg.length, "warmup": cfg.warmup, "seeds": cfg.seeds, "level": cfg.level,
           "regular_definition": "lambda_max below half the mean-field lambda at its gain"}
    for label, sizes, gains, std in (("autonomous", cfg.sizes, cfg.gains, 0.0),
                                     ("driven", cfg.driven_sizes, cfg.driven_gains,
                                      cfg.input_std)):
        rows = {}
        for n in sizes:
            settings = {"seed": seed, "N": n, "gains": list(gains), "seeds": cfg.seeds,
                        "length": cfg.length, "warmup": cfg.warmup, "input_std": std}
            part = cached_part(folder, f"{label}_N{n}", settings, lambda n=n, g=gains, s=std: {
                "lambda_max_seeds": exponents(n, g, cfg.seeds, cfg.length, cfg.warmup, s,
                                              seed).tolist()}, compact=True, trust_committed=True)
            rows[str(n)] = summarise(part["lambda_max_seeds"], gains, std ** 2, cfg.level)
            say(f"plateau: {label} N = {n} done")
        fit = gap_fit([int(n) for n in rows], [r["gap"] for r in rows.values()],
                      [r["gap_se"] for r in rows.values()], cfg.level) if len(rows) >= 3 else None
        out[label] = {"input_variance": std ** 2, "sizes": rows, "gap_fit": fit}
    return out
