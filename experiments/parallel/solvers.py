"""The Newton solvers the study compares and one solve's record, shared by the gain sweep
(:mod:`experiments.parallel.run`) and the trained networks (:mod:`experiments.parallel.trained`)."""

from __future__ import annotations

import numpy as np

WARMUP = 200


def methods(damping: float) -> dict[str, dict]:
    """The four solvers: ``newton_unroll`` keyword arguments by name."""
    return {"deer": {"jacobian": "full"}, "quasi_deer": {"jacobian": "diagonal"},
            "elk": {"jacobian": "full", "damping": damping},
            "quasi_elk": {"jacobian": "diagonal", "damping": damping}}


def solve_row(method: str, info) -> dict:
    """One solve's record: method, iterations, converged, residual (None when not finite)."""
    return {"method": method, "iterations": int(info.iterations),
            "converged": bool(info.converged),
            "residual": float(info.residual) if np.isfinite(info.residual) else None}
