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

from experiments.common import say
from experiments.hopfield.classical import last_at_least
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
    return {"N": n, "K": ks, "flips": flips, "curves": curves}
