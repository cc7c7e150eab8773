"""The classical network: recall against the load (``capacity``) and perfect recall against N.

Hebbian weights ``w_ij = Σ_μ ξ_i^μ ξ_j^μ`` (zero diagonal) on ``P`` random ±1 patterns of ``N``
units; the load is ``α = P/N``. Asynchronous recall runs
:func:`rnnjax.hopfield.discrete.run_async` on a batch of cues per network.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import cached_part, say
from experiments.hopfield.alpha_c import logistic_crossing, run_alpha_c
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


CURVE_FIELDS = ("num_loads", "alpha_max", "networks", "cues", "noise", "max_sweeps")
"""The settings the overlap curves depend on."""


def loads_for(n: int, config: CapacityConfig) -> np.ndarray:
    """The numbers of patterns P: loads evenly spaced in [0.01, alpha_max], rounded, distinct."""
    return np.unique(np.round(np.linspace(0.01, config.alpha_max, config.num_loads) * n)
                     .astype(int).clip(1))


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
    row["capped_runs"] = int(np.sum(sw >= config.max_sweeps))
    return row


def run_capacity(config: CapacityConfig, key, workdir: Path, seed: int) -> dict[str, Any]:
    """``capacity.json``: per N and cue noise, overlap, exact recall and sweeps against α (the
    curves), the AGS m(α), and α_c(N) from the retrieval probability with its extrapolation
    (:func:`experiments.hopfield.alpha_c.run_alpha_c`). Each curve's N is cached under
    ``workdir/checkpoints/capacity``, each α_c point under ``workdir/parts/capacity``."""
    rows = []
    for n in config.sizes:
        settings = {"N": n, "seed": seed, **{k: getattr(config, k) for k in CURVE_FIELDS}}
        rows.append(cached_part(Path(workdir) / "checkpoints" / "capacity", f"N{n}", settings,
                                lambda n=n: run_capacity_n(config, key, n)))
        say(f"capacity: N = {n} done")
    for row in rows:
        row.pop("settings", None)
    clean = str(config.noise[0])
    ags = theory.ags_retrieval_branch()
    crit = run_alpha_c(config, jax.random.fold_in(key, 7), workdir, seed)
    crit["capped_runs"] += sum(r["capped_runs"] for r in rows)
    return {
        "curves_definition": f"{config.networks} random networks x {config.cues} cues per load "
                             "(cue c recalls pattern c mod P), per cue noise",
        "N": [r["N"] for r in rows], "trials": config.networks * config.cues,
        "alpha": [r["alpha"] for r in rows],
        "overlap_mean": [r["noise"][clean]["overlap_mean"] for r in rows],
        "exact_fraction": [r["noise"][clean]["exact_fraction"] for r in rows],
        "ags": {"alpha": ags.alpha.tolist(), "m": ags.m.tolist(), "alpha_c": ags.alpha_c,
                "m_c": ags.m_c},
        "rows": rows, **crit,
    }


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
        one, every = jax.lax.map(lambda k, p=p: trial(k, p), keys, batch_size=8)
        out.append((one.mean(), every.mean()))
    return out


_stability_program = jax.jit(stability, static_argnums=(1, 2, 3))


def recall_loads(n: int, points: int) -> np.ndarray:
    """The loads P: a geometric grid from 1 and, per criterion, ``points`` loads from 0.7 to 1.3
    times its finite-N crossing (:func:`rnnjax.hopfield.theory.finite_n_crossing`)."""
    top = 1.6 * n / (2 * math.log(n))
    grid = [np.geomspace(1, top, 18)]
    for every in (False, True):
        c = theory.finite_n_crossing(n, every_pattern=every)
        grid.append(np.linspace(0.7 * c, 1.3 * c, points))
    return np.unique(np.round(np.concatenate(grid)).astype(int).clip(1))


def run_perfect_recall(config: PerfectRecallConfig, key) -> dict[str, Any]:
    """``perfect_recall.json``: stability fractions against P; the P where they fall below ½
    on the grid, and the crossing of ½ by the logistic fit with its profile-likelihood interval
    (:func:`experiments.hopfield.alpha_c.logistic_crossing`)."""
    rows = []
    for n in config.sizes:
        ps = recall_loads(n, config.points)
        out = jax.device_get(_stability_program(jax.random.fold_in(key, n), n,
                                                tuple(int(p) for p in ps), config.trials))
        one = [float(a) for a, _ in out]
        every = [float(b) for _, b in out]
        row = {"N": n, "P": ps.tolist(), "one_stable": one, "all_stable": every,
               "P_one": last_at_least(ps, one, 0.5), "P_all": last_at_least(ps, every, 0.5)}
        for name, frac in (("one", one), ("all", every)):
            k = np.round(np.asarray(frac) * config.trials)
            row[f"crossing_{name}"] = logistic_crossing(ps, k, np.full(len(ps), config.trials),
                                                        level=config.level)
        rows.append(row)
        say(f"perfect_recall: N = {n} done")
    return {"rows": rows, "trials": config.trials,
            "definition": "largest P with at least half of the networks having pattern 1 (P_one) "
            "/ every pattern (P_all) as a fixed point; crossing_*: the P where the logistic fit "
            f"of the stable fraction crosses 1/2, {config.level:.0%} profile-likelihood interval"}
