"""Intervals for the figures and tables: one statistic everywhere, with its 95 % interval.

- :func:`bootstrap_ci`: percentile bootstrap of a statistic over seeds (Efron & Tibshirani 1993),
  with a fixed resampling key so that figures are reproducible.
- :func:`wilson_interval`: the Wilson score interval of a success fraction (Wilson 1927), which
  stays inside [0, 1] and is sensible for 0 or n successes, unlike the normal approximation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np


def bootstrap_ci(values, statistic: Callable = np.mean, *, level: float = 0.95,
                 resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """``(statistic(values), low, high)``: the percentile bootstrap interval over the last axis.

    With a single value the interval is that value (no spread can be estimated).
    """
    x = np.asarray(values, dtype=float)
    point = float(statistic(x))
    if x.size < 2:
        return point, point, point
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    stats = np.apply_along_axis(statistic, 1, x[idx])
    alpha = (1 - level) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return point, float(low), float(high)


def wilson_interval(successes: int, n: int, *, level: float = 0.95) -> tuple[float, float, float]:
    """``(fraction, low, high)`` for ``successes`` out of ``n`` trials (Wilson score interval)."""
    if n <= 0:
        raise ValueError(f"wilson_interval needs n > 0 trials, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n={n}], got {successes}")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return p, low, high
