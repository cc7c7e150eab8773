"""Ramsauer et al. (2021), Theorem 5: the error of one update near a well-separated pattern.

For stored patterns ``x_1..x_N`` (``M = max_j ‖x_j‖``), pattern ``x_i`` with separation
``Δ_i = x_iᵀx_i − max_{j≠i} x_iᵀx_j`` and a query ``ξ`` with ``‖ξ − x_i‖ ≤ 1/(2βM)`` (and the
fixed point ``x_i*`` near ``x_i`` as close), one update ``f(ξ) = Xᵀ softmax(β X ξ)`` satisfies

    ‖f(ξ) − x_i‖ ≤ 2 e (N − 1) M exp(−β Δ_i)                    (eq. 15)

The test, in float64: random unit-norm patterns; per tested pattern and β a query at the largest
distance the precondition allows, ``ξ = x_i + u/(2βM)`` with ``u`` a random unit vector; the
fixed point ``x_i*`` from iterating ``f`` from ``x_i``. A case is *tested* when both
preconditions hold and the bound is informative: below the trivial ``2M`` (``f(ξ)`` is a convex
combination of the patterns) and above ``FLOOR`` (below it float64 rounding of the error itself,
~1e-16, would be compared). The verdict counts the tested cases whose error exceeds the bound.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.hopfield import modern, theory

FLOOR = 1e-12
"""Smallest bound compared (errors near float64 rounding are not a test)."""


def theorem5(config, key) -> dict[str, Any]:
    """Per N: the tested patterns' separations and, per β, one-update errors against the bound."""
    betas = np.geomspace(*config.beta_range, config.num_betas)
    out = {"beta": betas.tolist(), "dim": config.dim, "floor": FLOOR, "sizes": {}}
    with jax.enable_x64(True):
        for n in config.sizes:
            k1, k2 = jax.random.split(jax.random.fold_in(key, n))
            x = jax.random.normal(k1, (n, config.dim), jnp.float64)
            x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
            m = float(jnp.max(jnp.linalg.norm(x, axis=1)))
            q = min(config.queries, n)
            delta = np.asarray(modern.separation(x))[:q]
            u = jax.random.normal(k2, (config.num_betas, q, config.dim), jnp.float64)
            u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
            rows = []
            for b, ub in zip(betas, u, strict=True):
                radius = 1 / (2 * b * m)
                xi = x[:q] + radius * ub
                err = np.asarray(jnp.linalg.norm(modern.update(x, xi, b) - x[:q], axis=-1))
                fp = np.asarray(modern.retrieve(x, x[:q], b, steps=config.fixed_point_steps))
                fp_dist = np.linalg.norm(fp - np.asarray(x[:q]), axis=-1)
                bound = np.asarray(theory.ramsauer_error_bound(delta, n, b, m))
                tested = (fp_dist <= radius) & (bound < 2 * m) & (bound >= FLOOR)
                rows.append({"error": err.tolist(), "bound": bound.tolist(),
                             "fixed_point_distance": fp_dist.tolist(),
                             "tested": tested.tolist(),
                             "violations": int(np.sum(tested & (err > bound)))})
            tested = [r for r in rows if any(r["tested"])]
            ratio = [e / bd for r in tested for e, bd, t in zip(r["error"], r["bound"],
                                                                r["tested"], strict=True) if t]
            out["sizes"][str(n)] = {
                "separation": delta.tolist(), "max_norm": m, "per_beta": rows,
                "tested": int(sum(sum(r["tested"]) for r in rows)),
                "violations": int(sum(r["violations"] for r in rows)),
                "error_over_bound_max": max(ratio) if ratio else None,
                "error_over_bound_median": float(np.median(ratio)) if ratio else None}
    out["tested"] = sum(s["tested"] for s in out["sizes"].values())
    out["violations"] = sum(s["violations"] for s in out["sizes"].values())
    return out
