"""Dense associative memories: fixed points and one-update recall against the number of patterns.

Energy ``E = -Σ_μ F(ξ^μ · σ)`` with ``F(x) = x^n`` (Krotov & Hopfield 2016) or ``F(x) = e^x``
(Demircigil et al. 2017); :func:`rnnjax.hopfield.dense.update` flips each unit to the sign that
lowers it.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import say
from experiments.hopfield.classical import crossing, last_at_least
from experiments.hopfield.config import DenseConfig
from rnnjax.hopfield import dense

KINDS = (("poly", 2), ("poly", 3), ("poly", 4), ("poly", 5), ("exp", 0))
"""``(kind, n)`` of every interaction function compared."""


def curve_name(kind: str, power: int) -> str:
    return f"poly{power}" if kind == "poly" else "exp"


def dense_sweep(key, kind: str, power: int, units: int, ks: tuple[int, ...], tests: int,
                flips: int):
    """For every K in ``ks``: the fraction of (up to ``tests``) stored patterns that are fixed
    points, and that one update recalls exactly from a cue with ``flips`` flipped bits.
    The memories for the K values are prefixes of one set of ``max(ks)`` random patterns."""
    kp, kf = jax.random.split(key)
    x_all = jax.random.rademacher(kp, (max(ks), units), dtype=jnp.float32)
    out = []
    for k in ks:
        x = x_all[:k]
        t = x[:min(k, tests)]
        fixed = jax.vmap(lambda s, x=x: dense.is_fixed_point(x, s, kind=kind, n=power))(t)
        flip = jnp.argsort(jax.random.uniform(jax.random.fold_in(kf, k), t.shape), axis=1) < flips
        cues = jnp.where(flip, -t, t)
        rec = jax.vmap(lambda s, x=x: dense.update(x, s, kind=kind, n=power))(cues)
        out.append((fixed.mean(), jnp.all(rec == t, axis=1).mean()))
    return out


_dense_program = jax.jit(dense_sweep, static_argnums=(1, 2, 3, 4, 5, 6))


def all_stable_fraction(key, kind: str, power: int, units: int, k: int, networks: int):
    """The fraction of ``networks`` random memories of ``k`` patterns in which every stored
    pattern is a fixed point (the criterion of the capacity theorems: all patterns stable with
    high probability)."""
    def one(kk):
        x = jax.random.rademacher(kk, (k, units), dtype=jnp.float32)
        fixed = jax.lax.map(lambda s: dense.is_fixed_point(x, s, kind=kind, n=power), x,
                            batch_size=min(k, 64))
        return jnp.all(fixed)

    return jnp.mean(jax.lax.map(one, jax.random.split(key, networks)).astype(jnp.float32))


_all_stable = jax.jit(all_stable_fraction, static_argnums=(1, 2, 3, 4, 5))


def capacity_vs_n(config: DenseConfig, key) -> dict[str, Any]:
    """Per interaction function and N: the fraction of networks with all K patterns stable on
    the grid K = 2, 4, ..., and the capacity, where it crosses 1/2 (interpolated in log2 K;
    None with ``capped`` when it stays above 1/2 up to the largest K); the log-log slope of
    the capacity against N over the sizes that are not capped. A size after a capped one is
    capped too, without computing (the capacity grows with N)."""
    grid = [2**i for i in range(1, int(math.log2(config.capacity_max_patterns)) + 1)]
    curves = {}
    for kind, power in KINDS:
        name = curve_name(kind, power)
        rows = []
        for n in config.sizes:
            if rows and rows[-1]["capped"]:     # more units hold at least as many patterns
                rows.append({"N": n, "K": [], "all_stable_fraction": [], "capacity": None,
                             "capped": True})
                continue
            fractions = []
            for k in grid:
                kk = jax.random.fold_in(jax.random.fold_in(key, 10 * power + 1), n * 100003 + k)
                fractions.append(float(_all_stable(kk, kind, power, n, k, config.networks)))
                if fractions[-1] == 0:          # larger K: stable with vanishing probability
                    break
            cross = crossing(np.log2(grid[:len(fractions)]), fractions, 0.5)
            rows.append({"N": n, "K": grid[:len(fractions)], "all_stable_fraction": fractions,
                         "capacity": None if cross is None else float(2**cross),
                         "capped": cross is None and fractions[-1] >= 0.5})
        fit = [(r["N"], r["capacity"]) for r in rows if r["capacity"] is not None]
        slope = (float(np.polyfit(np.log(np.array(fit)[:, 0]), np.log(np.array(fit)[:, 1]), 1)[0])
                 if len(fit) >= 2 else None)
        curves[name] = {"rows": rows, "slope": slope}
        say(f"dense: capacity vs N, {name}: " + ", ".join(
            f"N={r['N']}: {r['capacity'] and round(r['capacity'])}" for r in rows))
    return {"sizes": list(config.sizes), "networks": config.networks, "curves": curves}


def run_dense(config: DenseConfig, key) -> dict[str, Any]:
    """``dense.json``: per interaction function, fixed-point and recall fractions against K."""
    n = config.units
    ks = [2**i for i in range(1, int(math.log2(config.max_patterns)) + 1)]
    flips = int(round(config.noise * n))
    curves = {}
    for kind, power in KINDS:
        out = jax.device_get(_dense_program(jax.random.fold_in(key, power), kind, power, n,
                                            tuple(ks), config.tests, flips))
        fixed = [float(f) for f, _ in out]
        recall = [float(r) for _, r in out]
        curves[curve_name(kind, power)] = {
            "fixed_fraction": fixed, "recall_fraction": recall,
            "tested": [min(k, config.tests) for k in ks],
            "K_fixed_half": last_at_least(ks, fixed, 0.5),
            "K_recall_half": last_at_least(ks, recall, 0.5)}
        say(f"dense: {curve_name(kind, power)} done")
    return {"N": n, "K": ks, "flips": flips, "curves": curves,
            "capacity_vs_n": capacity_vs_n(config, jax.random.fold_in(key, 99))}
