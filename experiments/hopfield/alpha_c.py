"""The AGS storage capacity α_c of the classical network from the retrieval probability.

Amit, Gutfreund & Sompolinsky (1985, 1987): as N → ∞ the retrieval state (overlap m ≈ 0.97 with
a stored pattern) exists for α = P/N < α_c ≈ 0.138 and disappears above. At finite N the
transition is smooth. The measurement, per N:

- at each load α of a grid, ``networks`` random networks; each starts at its stored pattern 1
  and runs asynchronous sweeps (:func:`rnnjax.hopfield.asynchronous.run_async_patterns`, which
  never forms the N × N weights) until a sweep flips nothing. A run that reaches the safety
  limit ``max_sweeps`` is counted in ``capped_runs`` (it must be 0);
- retrieval succeeds when the final overlap is at least a threshold θ (several θ, to show the
  sensitivity);
- α_c(N) is where the retrieval probability crosses 1/2: the maximum-likelihood logistic curve
  ``p(α) = 1 / (1 + exp((α − α_c)/w))`` over every run at that N, with its profile-likelihood
  interval (Wilks: ``2 Δ log L ≤ χ²₁(level)``, asymptotic coverage ``level``; the threshold
  scaled by Pearson's X²/dof when the logistic curve misses the points).

The extrapolation to N → ∞ fits ``α_c(N) = α_∞ + b N^(−ν)`` with ν free in ``NU_RANGE`` by
weighted least squares (each point's standard error from its interval). The intervals on α_∞
and ν are profile intervals of that χ² (``Δχ² ≤ χ²₁(level)``, the threshold scaled by
``χ²_min / dof`` when that exceeds 1), so the uncertainty of the exponent, the model's
uncertainty, is carried into α_∞'s interval.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize, stats

from experiments.common import cached_part, say
from rnnjax.hopfield.asynchronous import run_async_patterns

NU_RANGE = (0.25, 2.0)
"""Exponents ν allowed in the extrapolation: finite-size forms in the literature use 1/2 to 1;
the range is wider on both sides."""


@partial(jax.jit, static_argnames=("n", "p_max", "max_sweeps"))
def retrieval_runs(keys, p, *, n: int, p_max: int, max_sweeps: int):
    """One run per key: ``P = p`` random patterns of ``n`` units, start at pattern 1, sweep in a
    fresh random order until nothing flips. Returns ``(agree, sweeps)``: the number of units
    equal to pattern 1 at the end (overlap ``2 agree / n − 1``) and the sweeps run (the last one
    flips nothing unless ``sweeps == max_sweeps``). The patterns are padded with rows of zeros
    to ``p_max`` (they add nothing), so that one program serves every ``p``."""
    def one(k):
        kp, ko = jax.random.split(k)
        x = jax.random.rademacher(kp, (p_max, n), dtype=jnp.float32)
        x = x * (jnp.arange(p_max) < p).astype(x.dtype)[:, None]
        r = run_async_patterns(x, x[0], key=ko, max_sweeps=max_sweeps)
        return jnp.sum(r.state == x[0]), r.sweeps

    return jax.lax.map(one, keys)


def run_point(key, n: int, p: int, networks: int, max_sweeps: int, p_max: int) -> dict[str, Any]:
    """The runs of one (N, P): per network the final agreement count and the sweeps run."""
    keys = jax.random.split(jax.random.fold_in(jax.random.fold_in(key, n), p), networks)
    agree, sweeps = jax.device_get(retrieval_runs(keys, p, n=n, p_max=p_max,
                                                  max_sweeps=max_sweeps))
    return {"N": n, "P": p, "agree": np.asarray(agree).tolist(),
            "sweeps": np.asarray(sweeps).tolist(),
            "capped": int(np.sum(np.asarray(sweeps) >= max_sweeps))}


def loads(n: int, lo: float, hi: float, step: float) -> list[int]:
    """The numbers of patterns P = round(α N) for α = lo, lo + step, ..., hi (distinct)."""
    alphas = lo + step * np.arange(int(round((hi - lo) / step)) + 1)
    return sorted({int(round(a * n)) for a in alphas})


def _log_probs(z, link: str):
    """``(log p, log(1 − p))`` of the curve at ``z = (α_c − α)/w``: ``"logit"``,
    ``p = 1/(1 + e^{−z})``; ``"cloglog"``, ``p = exp(−ln 2 · e^{−z})`` (also 1/2 at ``z = 0``)."""
    if link == "logit":
        return -np.logaddexp(0, -z), -np.logaddexp(0, z)
    log_p = -math.log(2) * np.exp(-z)
    return log_p, np.log(-np.expm1(log_p))


def _neg_log_lik(alpha_c, log_w, alpha, k, m, link="logit") -> float:
    log_p, log_q = _log_probs((alpha_c - alpha) / math.exp(log_w), link)
    return float(-np.sum(k * log_p + (m - k) * log_q))


def _profile(alpha_c, alpha, k, m, scale, link="logit") -> float:
    """Smallest negative log-likelihood at this α_c over the width w."""
    lo, hi = math.log(scale * 1e-3), math.log(scale * 10)
    r = optimize.minimize_scalar(lambda lw: _neg_log_lik(alpha_c, lw, alpha, k, m, link),
                                 bounds=(lo, hi), method="bounded",
                                 options={"xatol": 1e-6})
    return float(r.fun)


def logistic_crossing(alpha, successes, trials, *, level: float = 0.95,
                      link: str = "logit") -> dict[str, Any]:
    """α where the retrieval probability crosses 1/2, with its profile-likelihood interval.

    ``successes[j]`` of ``trials[j]`` runs at load ``alpha[j]`` retrieved. The logistic model
    ``p(α) = 1/(1 + exp((α − α_c)/w))`` is fitted by maximum likelihood; the interval holds every
    α_c with ``2 (log L_max − max_w log L(α_c, w)) ≤ χ²₁(level)``, the threshold scaled by
    Pearson's ``X²/dof`` of the fit when that exceeds 1 (a curve that misses the points). A
    bound that would lie more than the grid's width beyond the grid is None (not identified);
    with no success or no failure at all α_c itself is None. ``link="cloglog"`` fits
    ``p(α) = exp(−ln 2 · e^{(α − α_c)/w})`` instead (the form of ``P = (1 − p)^M`` with
    ``ln p`` linear in ``α``), also 1/2 at ``α_c``.
    """
    alpha, k, m = (np.asarray(v, float) for v in (alpha, successes, trials))
    out: dict[str, Any] = {"alpha_c": None, "ci": [None, None], "width": None, "level": level,
                           "interval": "profile likelihood (Wilks)"}
    if k.sum() == 0 or k.sum() == m.sum():
        return out
    span = float(alpha.max() - alpha.min()) or 0.01
    grid = np.linspace(alpha.min() - span, alpha.max() + span, 601)
    prof = np.array([_profile(a, alpha, k, m, span, link) for a in grid])
    i = int(np.argmin(prof))
    lo_b, hi_b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = optimize.minimize_scalar(lambda a: _profile(a, alpha, k, m, span, link),
                                    bounds=(lo_b, hi_b),
                                    method="bounded", options={"xatol": 1e-7})
    a_hat, nll = float(best.x), float(best.fun)
    width = math.exp(optimize.minimize_scalar(
        lambda lw: _neg_log_lik(a_hat, lw, alpha, k, m, link),
        bounds=(math.log(span * 1e-3), math.log(span * 10)), method="bounded").x)
    # Pearson's X² of the fit: a curve that misses the points widens the interval (quasi-
    # likelihood), as the extrapolation does with its χ²
    p = (1 / (1 + np.exp((alpha - a_hat) / width)) if link == "logit"
         else np.exp(_log_probs((a_hat - alpha) / width, link)[0]))
    p = np.clip(p, 1e-12, 1 - 1e-12)
    dof = len(alpha) - 2
    x2 = float(np.sum((k - m * p) ** 2 / (m * p * (1 - p))))
    scale = max(1.0, x2 / dof) if dof > 0 else 1.0
    cut = stats.chi2.ppf(level, 1) / 2 * scale
    inside = prof - nll <= cut

    def edge(side):
        idx = np.flatnonzero(inside)
        j = idx[0] if side < 0 else idx[-1]
        if j in (0, len(grid) - 1):
            return None
        a, b = (grid[j - 1], grid[j]) if side < 0 else (grid[j], grid[j + 1])
        f = lambda x: _profile(x, alpha, k, m, span, link) - nll - cut
        return float(optimize.brentq(f, a, b, xtol=1e-7)) if f(a) * f(b) < 0 else float(grid[j])

    out.update(alpha_c=a_hat, ci=[edge(-1), edge(1)], width=width, pearson_x2=x2, dof=dof)
    return out


def extrapolate(ns, alpha_c, se, *, level: float = 0.95, nu_range=NU_RANGE,
                points: int = 200) -> dict[str, Any]:
    """``α_c(N) = α_∞ + b N^(−ν)``, ν free in ``nu_range``: the weighted least-squares fit and
    profile intervals on α_∞ and ν (module docstring). For fixed ν the model is linear in
    ``(α_∞, b)``; the profile of α_∞ minimises over ν on a grid and ``b`` in closed form."""
    ns, y, s = (np.asarray(v, float) for v in (ns, alpha_c, se))
    w = 1 / s**2
    nus = np.linspace(*nu_range, points)

    def fit(nu):
        x = ns ** -nu
        a = np.stack([np.ones_like(x), x], 1) * np.sqrt(w)[:, None]
        coef = np.linalg.lstsq(a, y * np.sqrt(w), rcond=None)[0]
        return coef, float(np.sum(w * (y - coef[0] - coef[1] * x) ** 2))

    fits = [fit(nu) for nu in nus]
    chi = np.array([c for _, c in fits])
    j = int(np.argmin(chi))
    dof = len(ns) - 3
    chi_min = float(chi[j])
    scale = max(1.0, chi_min / dof) if dof > 0 else 1.0
    cut = stats.chi2.ppf(level, 1) * scale
    nu_in = nus[chi - chi_min <= cut]
    (a_inf, b) = fits[j][0]
    # profile of α_∞: for each (α_∞, ν) the best b is Σ w x (y − α_∞) / Σ w x²
    grid = np.arange(min(y) - 0.5, max(y) + 0.1, 1e-4)
    prof = np.full(grid.shape, np.inf)
    for nu in nus:
        x = ns ** -nu
        r = y[None, :] - grid[:, None]
        bb = (r * (w * x)).sum(1) / np.sum(w * x * x)
        prof = np.minimum(prof, np.sum(w * (r - bb[:, None] * x) ** 2, axis=1))
    inside = grid[prof - chi_min <= cut]
    bounds = [float(inside.min()), float(inside.max())]
    if bounds[0] <= grid[0]:
        bounds[0] = None
    return {"alpha_inf": float(a_inf), "alpha_inf_ci": bounds, "b": float(b),
            "nu": float(nus[j]), "nu_ci": [float(nu_in.min()), float(nu_in.max())],
            "nu_range": list(nu_range), "chi2": chi_min, "dof": dof, "cut": float(cut),
            "level": level, "N": ns.astype(int).tolist(),
            "method": "weighted least squares, nu free; profile-chi2 intervals (threshold "
                      "chi2_1(level) times max(1, chi2_min/dof))",
            "at_nu_edge": bool(nus[j] in (nus[0], nus[-1]))}


def retrieval_table(parts: list[dict], thresholds) -> dict[str, Any]:
    """Per load: runs, retrieval count per threshold, mean overlap, the largest sweep count."""
    alpha = [p["P"] / p["N"] for p in parts]
    m = [np.asarray(p["agree"]) * 2 / p["N"] - 1 for p in parts]
    return {"alpha": alpha, "P": [p["P"] for p in parts], "runs": [len(o) for o in m],
            "retrieved": {str(t): [int(np.sum(o >= t)) for o in m] for t in thresholds},
            "overlap_mean": [float(o.mean()) for o in m],
            "sweeps_max": [int(max(p["sweeps"])) for p in parts],
            "sweeps_mean": [float(np.mean(p["sweeps"])) for p in parts]}


def run_alpha_c(config, key, workdir: Path, seed: int) -> dict[str, Any]:
    """α_c(N) at each N of ``config.alpha_c_sizes``, its extrapolation, and ``capped_runs``.

    Every (N, P) is a part of its own, ``<workdir>/<config.parts>/capacity/N<N>_P<P>.json``,
    reused whenever its settings match (a long sweep finishes over several sittings)."""
    folder = Path(workdir) / config.parts / "capacity"
    thresholds = config.thresholds
    per_n, capped = {}, 0
    for n, (lo, hi), nets in zip(config.alpha_c_sizes, config.alpha_c_ranges,
                                 config.alpha_c_networks, strict=True):
        parts, ps = [], loads(n, lo, hi, config.alpha_step)
        top = max(ps)
        for p in ps:
            settings = {"seed": seed, "N": n, "P": p, "networks": nets,
                        "max_sweeps": config.max_sweeps}
            parts.append(cached_part(folder, f"N{n}_P{p}", settings,
                                     lambda n=n, p=p, nets=nets, top=top: run_point(
                                         key, n, p, nets, config.max_sweeps, top),
                                     compact=True, trust_committed=True))
        say(f"alpha_c: N = {n} done")
        capped += sum(p["capped"] for p in parts)
        table = retrieval_table(parts, thresholds)
        table["crossing"] = {str(t): logistic_crossing(table["alpha"], table["retrieved"][str(t)],
                                                       table["runs"], level=config.level)
                             for t in thresholds}
        per_n[str(n)] = table
    primary = str(thresholds[0])
    cross = {n: t["crossing"][primary] for n, t in per_n.items()}
    result = {
        "alpha_c_definition": f"load where the probability that a run started at a stored "
                              f"pattern ends with overlap >= {thresholds[0]} crosses 1/2 "
                              "(maximum-likelihood logistic curve over the runs at that N)",
        "alpha_c_interval": f"{config.level:.0%} profile-likelihood interval (Wilks)",
        "thresholds": list(thresholds), "level": config.level,
        "alpha_c": {n: c["alpha_c"] for n, c in cross.items()},
        "alpha_c_ci": {n: c["ci"] for n, c in cross.items()},
        "alpha_c_by_threshold": {str(t): {n: tb["crossing"][str(t)]["alpha_c"]
                                          for n, tb in per_n.items()} for t in thresholds},
        "retrieval": per_n, "capped_runs": capped, "max_sweeps": config.max_sweeps,
    }
    by_t = {}
    for t in thresholds:
        pts = [(int(n), tb["crossing"][str(t)]) for n, tb in per_n.items()]
        pts = [(n, c) for n, c in pts if c["alpha_c"] is not None and None not in c["ci"]]
        if len(pts) >= 3:
            se = [(c["ci"][1] - c["ci"][0]) / (2 * stats.norm.ppf(0.5 + config.level / 2))
                  for _, c in pts]
            by_t[str(t)] = extrapolate([n for n, _ in pts], [c["alpha_c"] for _, c in pts], se,
                                       level=config.level)
    if primary in by_t:
        result["alpha_c_extrapolated"] = {**by_t[primary], "threshold": thresholds[0],
                                          "by_threshold": by_t}
    return result
