"""The classical network: recall against the load (``capacity``) and perfect recall against N.

Hebbian weights ``w_ij = Σ_μ ξ_i^μ ξ_j^μ`` (zero diagonal) on ``P`` random ±1 patterns of ``N``
units; the load is ``α = P/N``. Asynchronous recall runs
:func:`rnnjax.hopfield.discrete.run_async` on a batch of cues per network.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import cached_part, say
from experiments.hopfield.config import CapacityConfig, PerfectRecallConfig
from rnnjax.hopfield import discrete, theory


@partial(jax.jit, static_argnames=("n", "networks", "cues", "flips", "max_sweeps", "p_max"))
def capacity_program(key, loads, *, n: int, networks: int, cues: int, flips: tuple[int, ...],
                     max_sweeps: int, p_max: int):
    """Asynchronous recall for every number of patterns in ``loads`` × ``networks`` random
    networks × ``cues`` cues per cue noise (one compiled program per N).

    Cue ``c`` is stored pattern ``c mod P`` with exactly ``flips[j]`` bits flipped; the cues of
    one network (every noise level) run as one batch of :func:`discrete.run_async` (fields
    ``(N, B)``, a fresh random unit order per sweep). Patterns are padded to ``p_max`` rows of
    zeros, which add nothing to the weights.

    Returns:
      ``(overlap, exact, sweeps, rise)``, each ``(len(loads), networks, len(flips), cues)``: the
      final overlap with the cued pattern, whether it was recalled exactly, the sweeps run, and
      the largest energy change between consecutive sweeps (> 0 would be an energy increase).
    """
    def network(k, p):
        kp, kf, ko = jax.random.split(k, 3)
        x = jax.random.rademacher(kp, (p_max, n), dtype=jnp.float32)
        x = x * (jnp.arange(p_max) < p).astype(x.dtype)[:, None]
        target = x[jnp.arange(cues) % p]
        perm = jnp.argsort(jax.random.uniform(kf, (len(flips), cues, n)), axis=-1)
        flip = perm < jnp.asarray(flips)[:, None, None]             # exactly flips[j] bits
        cue = jnp.where(flip, -target, target).reshape(-1, n)
        r = discrete.run_async(discrete.store(x), cue, key=ko, max_sweeps=max_sweeps,
                               trace="sweep")
        target = jnp.tile(target, (len(flips), 1))
        out = (jnp.mean(r.state * target, axis=1), jnp.all(r.state == target, axis=1),
               r.sweeps, jnp.max(jnp.diff(r.energies, axis=1), axis=1))
        return tuple(o.reshape(len(flips), cues) for o in out)

    def load(p):
        keys = jax.random.split(jax.random.fold_in(key, p), networks)
        return jax.lax.map(lambda k: network(k, p), keys)

    return jax.lax.map(load, loads)


def crossing(x, y, level: float) -> float | None:
    """First ``x`` where ``y`` falls below ``level`` (linear interpolation); None if never."""
    for i in range(1, len(x)):
        if y[i - 1] >= level > y[i]:
            return float(x[i - 1] + (level - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))
    return None


def last_at_least(xs, ys, level: float) -> int | None:
    """The last ``x`` before ``y`` first drops below ``level`` (``xs`` increasing)."""
    best = None
    for x, y in zip(xs, ys, strict=True):
        if y < level:
            break
        best = int(x)
    return best


def loads_for(n: int, config: CapacityConfig) -> np.ndarray:
    """The numbers of patterns P: loads evenly spaced in [0.01, alpha_max], rounded, distinct."""
    return np.unique(np.round(np.linspace(0.01, config.alpha_max, config.num_loads) * n)
                     .astype(int).clip(1))


def bootstrap_crossings(alpha, overlap, level: float, resamples: int, seed: int) -> np.ndarray:
    """``α_c`` of ``resamples`` bootstrap resamples of the networks (NaN where none crosses).

    ``overlap``: ``(loads, networks)`` mean final overlap of each network's cues."""
    rng = np.random.default_rng(seed)
    networks = overlap.shape[1]
    out = np.full(resamples, np.nan)
    for r in range(resamples):
        curve = overlap[:, rng.integers(0, networks, networks)].mean(axis=1)
        c = crossing(alpha, curve, level)
        out[r] = np.nan if c is None else c
    return out


def extrapolate(ns, alpha_c, samples=None) -> dict[str, Any]:
    """Least-squares fits ``α_c(N) = α_∞ + b N^(-k)`` for ``k = 1`` and ``k = 1/2``.

    With ``samples`` (``(resamples, len(ns))`` bootstrap ``α_c``), every fit is repeated on
    each resample: a 95 % interval for ``α_∞``, and the residuals in units of each point's
    bootstrap standard error (``chi2``: their sum of squares, ``len(ns) - 2`` degrees of
    freedom). The data support the form with the smaller ``chi2``."""
    ns, alpha_c = np.asarray(ns, float), np.asarray(alpha_c, float)
    se = None if samples is None else np.nanstd(samples, axis=0, ddof=1)
    out = {}
    for name, k in (("1/N", 1.0), ("1/sqrt(N)", 0.5)):
        design = np.stack([np.ones_like(ns), ns ** -k], axis=1)
        coef = np.linalg.lstsq(design, alpha_c, rcond=None)[0]
        resid = alpha_c - design @ coef
        fit = {"alpha_inf": float(coef[0]), "slope": float(coef[1]),
               "residual_rms": float(np.sqrt(np.mean(resid ** 2))),
               "residuals": resid.tolist()}
        if samples is not None:
            ok = ~np.any(np.isnan(samples), axis=1)
            inf = [np.linalg.lstsq(design, s, rcond=None)[0][0] for s in samples[ok]]
            fit["alpha_inf_ci"] = np.quantile(inf, [0.025, 0.975]).tolist()
            fit["chi2"] = float(np.sum((resid / se) ** 2))
        out[name] = fit
    score = "chi2" if samples is not None else "residual_rms"
    out["supported"] = min(("1/N", "1/sqrt(N)"), key=lambda f: out[f][score])
    out["dof"] = len(ns) - 2
    return out


def run_capacity_n(config: CapacityConfig, key, n: int) -> dict[str, Any]:
    """One N of the capacity sweep: per cue noise, overlap, exact recall and sweeps against α."""
    loads = loads_for(n, config)
    flips = tuple(int(round(f * n)) for f in config.noise)
    ov, ex, sw, rise = jax.device_get(capacity_program(
        jax.random.fold_in(key, n), jnp.asarray(loads), n=n, networks=config.networks,
        cues=config.cues, flips=flips, max_sweeps=config.max_sweeps, p_max=int(loads.max())))
    row = {"N": n, "P": loads.tolist(), "alpha": (loads / n).tolist(),
           "trials": config.networks * config.cues, "noise": {}}
    for j, (noise, f) in enumerate(zip(config.noise, flips, strict=True)):
        o, e, s = ov[:, :, j].reshape(len(loads), -1), ex[:, :, j], sw[:, :, j]
        row["noise"][str(noise)] = {
            "flips": f,
            "overlap_mean": o.mean(1).tolist(), "overlap_std": o.std(1).tolist(),
            "exact_fraction": e.reshape(len(loads), -1).mean(1).tolist(),
            "sweeps_mean": s.reshape(len(loads), -1).mean(1).tolist(),
            "capped_fraction": (s >= config.max_sweeps).reshape(len(loads), -1).mean(1).tolist(),
            "energy_max_change_per_sweep": float(rise[:, :, j].max()),
        }
    per_network = ov[:, :, 0].mean(axis=2)                        # (loads, networks)
    row["alpha_c"] = crossing(row["alpha"], per_network.mean(1), config.crossover_overlap)
    row["alpha_c_bootstrap"] = bootstrap_crossings(
        row["alpha"], per_network, config.crossover_overlap, config.bootstrap, n).tolist()
    return row


def run_capacity(config: CapacityConfig, key, workdir: Path, seed: int) -> dict[str, Any]:
    """``capacity.json``: per N and cue noise, overlap, exact recall and sweeps against α; α_c per
    N with bootstrap intervals over networks, its extrapolation to N → ∞, and the AGS m(α).
    Each N is cached under ``workdir/checkpoints/capacity`` (a rerun resumes)."""
    rows = []
    for n in config.sizes:
        settings = {"N": n, "seed": seed, **dataclasses.asdict(config)}
        rows.append(cached_part(Path(workdir) / "checkpoints" / "capacity", f"N{n}", settings,
                                lambda n=n: run_capacity_n(config, key, n)))
        say(f"capacity: N = {n} done")
    for row in rows:
        row.pop("settings", None)
    boot = np.array([r.pop("alpha_c_bootstrap") for r in rows]).T       # (resamples, sizes)
    alpha_c = [r["alpha_c"] for r in rows]
    clean = str(config.noise[0])
    ags = theory.ags_retrieval_branch()
    result = {
        "crossover_definition": f"alpha where the mean final overlap from a cue with noise "
                                f"{config.noise[0]} falls below {config.crossover_overlap}",
        "trials_definition": f"{config.networks} random networks x {config.cues} cues "
                             "(cue c recalls pattern c mod P)",
        "N": [r["N"] for r in rows], "trials": config.networks * config.cues,
        "alpha": [r["alpha"] for r in rows],
        "overlap_mean": [r["noise"][clean]["overlap_mean"] for r in rows],
        "exact_fraction": [r["noise"][clean]["exact_fraction"] for r in rows],
        "alpha_c": {str(r["N"]): r["alpha_c"] for r in rows},
        "alpha_c_ci": {str(r["N"]): np.nanquantile(b, [0.025, 0.975]).tolist()
                       if np.isfinite(b).any() else None for r, b in zip(rows, boot.T, strict=True)},
        "ags": {"alpha": ags.alpha.tolist(), "m": ags.m.tolist(), "alpha_c": ags.alpha_c,
                "m_c": ags.m_c},
        "rows": rows,
    }
    if len(rows) >= 3 and None not in alpha_c:
        result["alpha_c_extrapolated"] = extrapolate(result["N"], alpha_c, boot)
    return result


def stability(key, n: int, ps: tuple[int, ...], trials: int):
    """Fractions of ``trials`` random networks with pattern 1 / every pattern a fixed point,
    for every number of patterns in ``ps`` (one compiled program per N).

    The local fields of all patterns at once from the overlaps: ``H = (X Xᵀ) X - P X``
    (``h_i^μ = Σ_{j≠i} w_ij ξ_j^μ``); a unit is stable when ``ξ_i h_i ≥ 0`` (ties keep)."""
    def trial(k, p):
        x = jax.random.rademacher(k, (p, n), dtype=jnp.float32)
        h = (x @ x.T) @ x - p * x
        stable = jnp.all(x * h >= 0, axis=1)
        return stable[0], jnp.all(stable)

    out = []
    for p in ps:
        keys = jax.random.split(jax.random.fold_in(key, p), trials)
        one, every = jax.vmap(trial, in_axes=(0, None))(keys, p)
        out.append((one.mean(), every.mean()))
    return out


_stability_program = jax.jit(stability, static_argnums=(1, 2, 3))


def run_perfect_recall(config: PerfectRecallConfig, key) -> dict[str, Any]:
    """``perfect_recall.json``: stability fractions against P and the P where they fall below ½."""
    rows = []
    for n in config.sizes:
        top = 1.6 * n / (2 * math.log(n))
        ps = np.unique(np.round(np.geomspace(1, top, 18)).astype(int))
        out = jax.device_get(_stability_program(jax.random.fold_in(key, n), n,
                                                tuple(int(p) for p in ps), config.trials))
        one = [float(a) for a, _ in out]
        every = [float(b) for _, b in out]
        rows.append({"N": n, "P": ps.tolist(), "one_stable": one, "all_stable": every,
                     "P_one": last_at_least(ps, one, 0.5), "P_all": last_at_least(ps, every, 0.5)})
        say(f"perfect_recall: N = {n} done")
    return {"rows": rows, "definition": "largest P with at least half of the networks having "
            "pattern 1 (P_one) / every pattern (P_all) as a fixed point"}
