"""The classical network: recall against the load (``capacity``) and perfect recall against N.

Hebbian weights ``w_ij = Σ_μ ξ_i^μ ξ_j^μ`` (zero diagonal) on ``P`` random ±1 patterns of ``N``
units; the load is ``α = P/N``. Asynchronous recall runs
:func:`rnnjax.hopfield.discrete.run_async_patterns` (never forming the ``N × N`` weights).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import say
from experiments.hopfield.config import CapacityConfig, PerfectRecallConfig
from rnnjax.hopfield import discrete


def capacity_sweep(key, n: int, loads, trials: int, flips: int, max_sweeps: int, p_max: int):
    """Asynchronous recall of pattern 1 from a cue with ``flips`` flipped bits, for every number
    of patterns in ``loads`` × ``trials`` random networks (one compiled program).

    ``lax.map`` over loads and over trials: on a CPU this is faster than ``vmap`` over trials,
    whose ``while_loop`` would run every trial until the slowest has converged. Patterns are
    padded to ``p_max`` rows of zeros (ignored by ``run_async_patterns``).

    Returns:
      ``(overlap, exact, sweeps, rise)``, each ``(len(loads), trials)``: the final overlap with
      pattern 1, whether it was recalled exactly, the sweeps run, and the largest energy change
      between consecutive sweeps (> 0 would be an energy increase).
    """
    def trial(k, p):
        kp, kf, ko = jax.random.split(k, 3)
        x = jax.random.rademacher(kp, (p_max, n), dtype=jnp.float32)
        x = x * (jnp.arange(p_max) < p).astype(x.dtype)[:, None]
        flip = jnp.argsort(jax.random.uniform(kf, (n,))) < flips
        cue = jnp.where(flip, -x[0], x[0])
        r = discrete.run_async_patterns(x, cue, key=ko, max_sweeps=max_sweeps)
        rise = jnp.max(jnp.diff(r.energies))
        return jnp.mean(r.state * x[0]), jnp.all(r.state == x[0]), r.sweeps, rise

    def load(p):
        keys = jax.random.split(jax.random.fold_in(key, p), trials)
        return jax.lax.map(lambda k: trial(k, p), keys)

    return jax.lax.map(load, jnp.asarray(loads))


_capacity_program = jax.jit(capacity_sweep, static_argnums=(1, 3, 5, 6))


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


def run_capacity(config: CapacityConfig, key) -> dict[str, Any]:
    """``capacity.json``: per N and cue noise, overlap, exact recall and sweeps against α."""
    rows = []
    for n in config.sizes:
        loads = loads_for(n, config)
        row = {"N": n, "P": loads.tolist(), "alpha": (loads / n).tolist(), "noise": {}}
        for noise in config.noise:
            flips = int(round(noise * n))
            ov, ex, sw, rise = jax.device_get(_capacity_program(
                jax.random.fold_in(key, 1000 * n + flips), n, jnp.asarray(loads), config.trials,
                flips, config.max_sweeps, int(loads.max())))
            row["noise"][str(noise)] = {
                "flips": flips,
                "overlap_mean": ov.mean(1).tolist(), "overlap_std": ov.std(1).tolist(),
                "exact_fraction": ex.mean(1).tolist(), "sweeps_mean": sw.mean(1).tolist(),
                "capped_fraction": (sw >= config.max_sweeps).mean(1).tolist(),
                "energy_max_change_per_sweep": float(rise.max()),
            }
            say(f"capacity: N = {n}, noise {noise} done")
        clean = row["noise"][str(config.noise[0])]["overlap_mean"]
        row["alpha_c"] = crossing(row["alpha"], clean, config.crossover_overlap)
        rows.append(row)
    return {"crossover_definition":
            f"alpha where the mean final overlap from a cue with noise {config.noise[0]} "
            f"falls below {config.crossover_overlap}", "rows": rows,
            "alpha_c": {str(r["N"]): r["alpha_c"] for r in rows}}


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
