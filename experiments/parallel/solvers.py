"""The Newton solvers the study compares and one solve's record, shared by the gain sweep
(:mod:`experiments.parallel.run`) and the trained networks (:mod:`experiments.parallel.trained`)."""

from __future__ import annotations

import jax
import numpy as np

from rnnjax.parallel import newton_unroll

WARMUP = 200
OUTCOMES = ("converged", "not_converged", "diverged")


def methods(damping: float) -> dict[str, dict]:
    """The solvers: ``newton_unroll`` keyword arguments by name."""
    return {"deer": {"jacobian": "full"}, "quasi_deer": {"jacobian": "diagonal"},
            "elk": {"jacobian": "full", "damping": damping},
            "quasi_elk": {"jacobian": "diagonal", "damping": damping},
            "elk_adaptive": {"jacobian": "full", "damping": damping, "damping_rule": "adaptive"}}


def outcome(info) -> str:
    """``"converged"``, ``"diverged"`` (a non-finite iterate) or ``"not_converged"`` (finite
    residual above tol when the iterations ran out)."""
    if bool(info.converged):
        return "converged"
    return "not_converged" if np.isfinite(float(info.residual)) else "diverged"


def solve_row(method: str, info) -> dict:
    """One solve's record: method, iterations, converged, outcome, residual (None when not finite)."""
    return {"method": method, "iterations": int(info.iterations),
            "converged": bool(info.converged), "outcome": outcome(info),
            "residual": float(info.residual) if np.isfinite(info.residual) else None}


def solvers(cell, method_names, damping: float) -> dict:
    """Jitted ``(params, xs, max_iters) -> info`` per method, plus ``"first_step"``: one plain
    Newton iteration without the overflow safeguard (non-finite: overflow at iteration 1)."""
    kws = methods(damping)
    out = {name: jax.jit(lambda p, xs, m, kw=kws[name]: newton_unroll(cell, p, xs, max_iters=m,
                                                                      **kw)[2],
                         static_argnums=2) for name in method_names}
    out["first_step"] = jax.jit(lambda p, xs: newton_unroll(cell, p, xs, max_iters=1,
                                                            safeguard=False)[2])
    return out
