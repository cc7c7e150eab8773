"""The initial-gradient-path claim as a fitted relation: success against ``init_log_jacobian``.

Per model family, a logistic regression of success (0/1 per seed) on the log-Jacobian
log ||dh_T/dh_0|| at initialisation, fitted by Newton's method (iteratively reweighted least
squares); the slope's Wald 95 % interval says whether a longer initial gradient path goes with
more successes. T varies along each fit, so the relation is an association across T, not a
cause (Hochreiter & Schmidhuber 1997 argue the vanishing path; Tallec & Ollivier 2018 set it by
the chrono initialisation).
"""

from __future__ import annotations

import math

import numpy as np

from experiments.longrange.summary import (
    by,
    select,
)
from experiments.longrange.tasks import MODELS as FAMILIES


def logistic_fit(x, y, iterations: int = 50) -> tuple[float, float, float] | None:
    """Slope ``b`` of ``P(y = 1) = σ(a + b x)`` by Newton's method (maximum likelihood), with its
    Wald 95 % interval ``b ± 1.96 sqrt((I^-1)_bb)``; None when it does not exist (all runs alike,
    or the classes are separated by x, where the likelihood has no maximum)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if y.min() == y.max() or x.min() == x.max():
        return None
    lo1, hi0 = x[y == 1].min(), x[y == 0].max()
    lo0, hi1 = x[y == 0].min(), x[y == 1].max()
    if lo1 > hi0 or lo0 > hi1:  # perfect separation
        return None
    X = np.column_stack([np.ones_like(x), (x - x.mean()) / x.std()])
    w = np.zeros(2)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-X @ w))
        info = X.T @ (X * (p * (1 - p))[:, None])
        w = w + np.linalg.solve(info, X.T @ (y - p))
    p = 1 / (1 + np.exp(-X @ w))
    info = X.T @ (X * (p * (1 - p))[:, None])
    se = math.sqrt(np.linalg.inv(info)[1, 1])
    scale = x.std()
    return w[1] / scale, (w[1] - 1.96 * se) / scale, (w[1] + 1.96 * se) / scale


def jacobian_relation(rows) -> str:
    """Per model family: the logistic slope of success on the initial log-Jacobian."""
    runs = [r for r in select(rows, task="adding") if r.get("init_log_jacobian") is not None]
    parts = []
    for family, rs in by([{**r, "family": FAMILIES[r["model"]][0]} for r in runs],
                         "family").items():
        fit = logistic_fit([r["init_log_jacobian"] for r in rs], [r["success"] for r in rs])
        won = sum(bool(r["success"]) for r in rs)
        span = f"{min(r['init_log_jacobian'] for r in rs):.3g} … " \
               f"{max(r['init_log_jacobian'] for r in rs):.3g}"
        parts.append(f"{family[0]} ({won}/{len(rs)} succeed, log-Jacobian {span}): " + (
            f"slope {fit[0]:.3g} [{fit[1]:.3g}, {fit[2]:.3g}] per unit" if fit else
            "no finite fit (all runs alike, or separated by the log-Jacobian)"))
    if not parts:
        return ""
    return ("Success against the initial log ||dh_T/dh_0|| (logistic regression per family, "
            "slope with its Wald 95 % interval; T varies along each fit): " + "; ".join(parts)
            + ".")
