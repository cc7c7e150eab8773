"""The modern Hopfield network (Ramsauer et al. 2021): retrieval error against β, the fixed-point
regimes on clustered patterns, and capacity against the dimension next to the classical network.

One update is ``ξ ← Xᵀ softmax(β X ξ)`` (:func:`rnnjax.hopfield.modern.update`).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import say
from experiments.hopfield.classical import last_at_least
from experiments.hopfield.config import ModernConfig
from rnnjax.hopfield import discrete, modern

MASS = 0.9
"""Regimes: the share of the softmax mass whose carriers are counted."""


def mass_count_uniform(n: int, mass: float = MASS) -> int:
    """What :func:`rnnjax.hopfield.modern.mass_count` gives for ``n`` equally likely patterns:
    the fewest whose probabilities sum to ``mass``, ``ceil(mass n)`` (the regimes' reference)."""
    return max(1, math.ceil(mass * n - 1e-9))


def _unit(x):
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def betas(config: ModernConfig) -> np.ndarray:
    """The inverse temperatures of the retrieval-error curves."""
    return np.geomspace(0.1, 1000, config.num_betas)


def _retrieval_program(beta_grid, eps):
    @jax.jit
    def run(stored, targets, queries):
        def at(beta):
            one = modern.retrieve(stored, queries, beta)
            fp = modern.fixed_point(stored, queries, beta, eps=eps, max_steps=100)
            err = lambda z: jnp.mean(jnp.linalg.norm(z - targets, axis=-1)
                                     / jnp.linalg.norm(targets, axis=-1))
            nearest = lambda z: jnp.mean(jnp.argmax(z @ stored.T, axis=-1)
                                         == jnp.arange(targets.shape[0]))
            return err(one), err(fp.state), nearest(one), nearest(fp.state), jnp.mean(fp.steps)

        return jax.lax.map(at, beta_grid)

    return run


def retrieval(config: ModernConfig, key) -> dict[str, Any]:
    """Per N and query kind (noisy, masked): errors and nearest-pattern rates against β."""
    d, q = config.dim, config.queries
    program = _retrieval_program(jnp.asarray(betas(config), jnp.float32), config.eps)
    out = {}
    for n in config.sizes:
        k1, k2 = jax.random.split(jax.random.fold_in(key, n))
        stored = _unit(jax.random.normal(k1, (n, d)))
        targets = stored[:q]
        noise = config.noise * _unit(jax.random.normal(k2, (q, d)))
        queries = {"noisy": targets + noise,
                   "masked": targets * (jnp.arange(d) < d // 2).astype(targets.dtype)[None]}
        sep = np.asarray(modern.separation(stored))[:q]
        # Ramsauer et al. 2021, Theorem 5 (eq. 15) with M = 1: the loosest bound over the tested
        # patterns is the one with the smallest separation
        out[str(n)] = {"separation_min": float(sep.min()),
                       "separation_median": float(np.median(sep))}
        for name, qs in queries.items():
            e1, ef, n1, nf, st = (np.asarray(a).tolist() for a in program(stored, targets, qs))
            out[str(n)][name] = {"error_one_step": e1, "error_fixed_point": ef,
                                 "nearest_one_step": n1, "nearest_fixed_point": nf,
                                 "steps_mean": st}
        say(f"modern: retrieval N = {n} done")
    return out


def regimes(config: ModernConfig, key) -> dict[str, Any]:
    """Patterns carrying 90 % of the softmax mass at the fixed point reached from each stored
    pattern, against β: all of them (global average), one cluster (metastable), one pattern."""
    d, c, m = config.dim, config.clusters, config.cluster_size
    kc, kn = jax.random.split(key)
    centres = _unit(jax.random.normal(kc, (c, d)))
    stored = _unit(jnp.repeat(centres, m, axis=0)
                   + config.cluster_spread * jax.random.normal(kn, (c * m, d)) / math.sqrt(d))
    gram = np.asarray(stored @ stored.T)
    same = np.kron(np.eye(c), np.ones((m, m))).astype(bool)
    grid = np.geomspace(0.01, 3000, 2 * config.num_betas)

    @jax.jit
    def at(beta):
        fp = modern.fixed_point(stored, stored, beta, eps=1e-5, max_steps=300)
        return modern.mass_count(stored, fp.state, beta, MASS), fp.converged

    counts, conv = zip(*(at(jnp.float32(b)) for b in grid), strict=True)
    counts = np.stack([np.asarray(x) for x in counts])
    return {"beta": grid.tolist(), "N": c * m, "clusters": c, "cluster_size": m, "mass": MASS,
            "count_median": np.median(counts, 1).tolist(),
            "count_q10": np.quantile(counts, 0.1, 1).tolist(),
            "count_q90": np.quantile(counts, 0.9, 1).tolist(),
            "converged_fraction": [float(np.mean(x)) for x in conv],
            "cos_within_mean": float(gram[same & ~np.eye(c * m, dtype=bool)].mean()),
            "cos_between_mean": float(gram[~same].mean())}


def _modern_recall_impl(key, d, sizes, flips, queries, beta):
    """Fraction of ``queries`` cues (``flips`` bits flipped) whose one update has the signs of
    their pattern, for memories of every size in ``sizes`` (prefixes of one set of random ±1
    patterns; cue ``q`` is a noisy copy of pattern ``q mod N``)."""
    kx, kf = jax.random.split(key)
    x_all = jax.random.rademacher(kx, (max(sizes), d), dtype=jnp.float32)
    out = []
    for n in sizes:
        x = x_all[:n]
        t = x[jnp.arange(queries) % n]
        flip = jnp.argsort(jax.random.uniform(jax.random.fold_in(kf, n), t.shape), axis=1) < flips
        cues = jnp.where(flip, -t, t)
        new = jax.lax.map(lambda c, x=x: modern.update(x, c, beta), cues, batch_size=25)
        out.append(jnp.mean(jnp.all(jnp.sign(new) == t, axis=1)))
    return out


_modern_recall = jax.jit(_modern_recall_impl, static_argnums=(1, 2, 3, 4))


def _classical_recall_impl(key, d, ps, flips, queries):
    """The same for the classical network (asynchronous run to a fixed point), P in ``ps``."""
    def one(k, p):
        kx, kf, ko = jax.random.split(k, 3)
        x = jax.random.rademacher(kx, (max(ps), d), dtype=jnp.float32)
        x = x * (jnp.arange(max(ps)) < p).astype(x.dtype)[:, None]     # zero rows: padding
        flip = jnp.argsort(jax.random.uniform(kf, (d,))) < flips
        r = discrete.run_async_patterns(x, jnp.where(flip, -x[0], x[0]), key=ko, max_sweeps=20)
        return jnp.all(r.state == x[0])

    keys = jax.random.split(key, queries)
    return jax.lax.map(lambda p: jnp.mean(jax.vmap(one, in_axes=(0, None))(keys, p)),
                       jnp.asarray(ps))


_classical_recall = jax.jit(_classical_recall_impl, static_argnums=(1, 2, 3, 4))


def capacity_vs_dim(config: ModernConfig, key) -> list[dict[str, Any]]:
    """Per d: recall fractions of the modern network (one update) against N and of the
    classical network (asynchronous run) against P; each capacity is the largest with ≥ 90 %."""
    caps = []
    for dim in config.capacity_dims:
        flips = int(round(config.capacity_noise * dim))     # exact: checked by the config
        kd = jax.random.fold_in(key, 100 + dim)
        sizes = tuple(2**i for i in range(1, config.capacity_max_log2 + 1))
        frac_modern = [float(f) for f in jax.device_get(_modern_recall(
            kd, dim, sizes, flips, config.capacity_queries, config.capacity_beta))]
        ps = tuple(range(1, dim + 1))
        frac_classical = [float(f) for f in jax.device_get(_classical_recall(
            jax.random.fold_in(kd, 1), dim, ps, flips, config.capacity_queries))]
        caps.append({"d": dim, "flips": flips, "noise": flips / dim, "N": list(sizes),
                     "modern_fraction": frac_modern,
                     "modern_capacity": last_at_least(sizes, frac_modern, 0.9),
                     "modern_capped": frac_modern[-1] >= 0.9,
                     "P": list(ps), "classical_fraction": frac_classical,
                     "classical_capacity": last_at_least(ps, frac_classical, 0.9)})
        say(f"modern: capacity d = {dim}: modern {caps[-1]['modern_capacity']}, "
            f"classical {caps[-1]['classical_capacity']}")
    return caps


def run_modern(config: ModernConfig, key) -> dict[str, Any]:
    """``modern.json``."""
    return {"d": config.dim, "beta": betas(config).tolist(),
            "retrieval": retrieval(config, key),
            "regimes": regimes(config, jax.random.fold_in(key, 17)),
            "capacity": capacity_vs_dim(config, key)}
