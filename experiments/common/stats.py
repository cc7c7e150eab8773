"""Intervals for the figures and tables, each labelled with the coverage it really has.

- :func:`median_interval`: the distribution-free interval of a median from order statistics
  (Thompson 1936; Hahn & Meeker 1991, §5.2), with its exact binomial coverage. With n seeds no
  order-statistic interval covers more than 1 - 2^(1-n) (93.75 % at n = 5, 75 % at n = 3), and
  the returned level says so rather than claiming the level asked for.
- :func:`mean_interval`: the Student-t interval of a mean over n seeds (Student 1908), which
  reaches its level exactly when the seeds' values are normal; the rule every study uses for a
  mean over a few seeds, reported with its level and n (:func:`interval_label`).
- :func:`bootstrap_ci`: percentile bootstrap of a statistic over seeds (Efron & Tibshirani 1993),
  with a fixed resampling key so that figures are reproducible. Its nominal level is only
  approached for many seeds (with 3 seeds its 95 % interval is about the range of the values
  and covers the mean far less often); use :func:`mean_interval` or :func:`median_interval`.
- :func:`wilson_interval`: the Wilson score interval of a success fraction (Wilson 1927), which
  stays inside [0, 1] and is sensible for 0 or n successes, unlike the normal approximation.
  :func:`side_of_half` places a fraction against ½ with it, and :func:`staged_error` gives the
  exact error rate when trials are added while the interval holds ½.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np
from scipy import stats


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


def t_interval(values, *, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the Student-t interval ``x̄ ± t_{n-1, (1+level)/2} s / √n``.

    ``s`` is the sample standard deviation (ddof = 1). The interval covers the population mean
    with probability exactly ``level`` when the n values are independent draws of one normal
    distribution (Student 1908); for other distributions that holds only approximately. Needs
    n ≥ 2 finite values.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    x = np.asarray(values, dtype=float).ravel()
    if x.size < 2 or not np.isfinite(x).all():
        raise ValueError(f"t_interval needs at least 2 finite values, got {x.tolist()}")
    mean = float(x.mean())
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def mean_interval(values, *, level: float = 0.95,
                  bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """The mean over seeds with its interval, labelled with what the interval is.

    ``{"mean", "ci": [low, high], "ci_level", "n", "interval"}``:

    - n ≥ 2 finite values: ``interval = "t"``, the Student-t interval at ``level``
      (:func:`t_interval`; exact under normality of the seeds' values), clipped to ``bounds``
      (the range the quantity can take, e.g. (0, 1) for an accuracy; clipping never removes the
      true mean, so the coverage stays at least ``level``);
    - a non-finite value (a diverged run): ``interval = "range"``, ``ci`` = [min, max] of the
      values, ``ci_level`` None and ``nonfinite`` the number of such values: no level is claimed;
    - one value: ``interval = "none"``, ``ci`` = [value, value], ``ci_level`` None.
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("mean_interval needs at least one value")
    out = {"mean": float(x.mean()), "n": int(x.size)}
    if not np.isfinite(x).all():
        return {**out, "ci": [float(x.min()), float(x.max())], "ci_level": None,
                "interval": "range", "nonfinite": int((~np.isfinite(x)).sum())}
    if x.size == 1:
        return {**out, "ci": [float(x[0])] * 2, "ci_level": None, "interval": "none"}
    _, low, high = t_interval(x, level=level)
    return {**out, "ci": [float(max(low, bounds[0])), float(min(high, bounds[1]))], "ci_level": level,
            "interval": "t"}


def interval_label(summary: dict) -> str:
    """What a :func:`mean_interval` result's interval is, for a table or a legend:
    ``"95 % t-interval, 3 seeds"``, ``"range of 3 seeds (1 diverged)"``, ``"1 seed"``."""
    n = summary["n"]
    seeds = f"{n} seed{'s' if n != 1 else ''}"
    if summary["interval"] == "t":
        return f"{level_text(summary['ci_level'])} t-interval, {seeds}"
    if summary["interval"] == "range":
        return f"range of {seeds} ({summary['nonfinite']} diverged)"
    return seeds


def intervals_label(summaries) -> str:
    """The :func:`interval_label` of several :func:`mean_interval` results, each distinct label
    once (``"95 % t-interval, 3 seeds"``, or ``"...; range of 3 seeds (1 diverged)"``)."""
    labels = [interval_label(s) for s in summaries]
    return "; ".join(dict.fromkeys(labels))


def level_text(level: float) -> str:
    """``0.95 -> "95 %"``, ``0.9375 -> "93.75 %"``: a coverage as the tables print it."""
    return f"{100 * level:.4g} %"


def median_coverage(n: int, j: int) -> float:
    """Exact coverage of ``[x_(j), x_(n+1-j)]`` (1-based order statistics) for the median.

    The population median m lies in it unless fewer than j or more than n - j of the n draws fall
    below m; the count below m is Binomial(n, 1/2) for a continuous distribution, so the coverage
    is ``sum_{i=j}^{n-j} C(n, i) / 2^n``.
    """
    if not 1 <= j <= (n + 1) // 2:
        raise ValueError(f"median_coverage needs 1 <= j <= (n + 1) // 2 = {(n + 1) // 2}, got j={j}")
    return sum(math.comb(n, i) for i in range(j, n - j + 1)) / 2**n


def median_interval(values, *, level: float = 0.95) -> tuple[float, float, float, float]:
    """``(median, low, high, coverage)`` of the finite values, from order statistics.

    The interval is the narrowest symmetric ``[x_(j), x_(n+1-j)]`` whose exact coverage
    (:func:`median_coverage`) reaches ``level``; when no such j exists (n too small) it is
    ``[min, max]`` and ``coverage`` is that interval's real coverage, below ``level``. Non-finite
    values and ``None`` are left out; with no finite value every entry is nan, and with one value
    the interval is that value with coverage 0.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    v = np.array([np.nan if x is None else x for x in np.ravel(np.asarray(values, dtype=object))], float)
    v = np.sort(v[np.isfinite(v)])
    n = v.size
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    med = float(np.median(v))
    if n == 1:
        return med, med, med, 0.0
    j = median_rank(n, level=level)
    return med, float(v[j - 1]), float(v[n - j]), median_coverage(n, j)


def median_rank(n: int, *, level: float = 0.95) -> int:
    """The j of :func:`median_interval` for n values: the largest ``j <= (n + 1) // 2`` whose
    interval ``[x_(j), x_(n+1-j)]`` covers the median with probability ``>= level``, else 1."""
    j = 1
    while j + 1 <= (n + 1) // 2 and median_coverage(n, j + 1) >= level:
        j += 1
    return j


def sign_side(positives: int, n: int, *, level: float = 0.95) -> int:
    """Where the median's order-statistic interval (:func:`median_interval`) of n values lies
    against 0 when ``positives`` of them are > 0 and the rest < 0: 1 above (``x_(j) > 0``, i.e. at
    least ``n + 1 - j`` positive), -1 below, 0 when it holds 0. This is the sign test of a median of
    0; values equal to 0 count as neither side and can only keep the interval on 0."""
    j = median_rank(n, level=level)
    return 1 if positives >= n + 1 - j else -1 if positives <= j - 1 else 0


def side_of_half(successes: int, n: int, *, level: float = 0.95) -> int:
    """Where the Wilson interval (:func:`wilson_interval`) of ``successes / n`` lies against ½:
    1 above, -1 below, 0 when it holds ½ (then more trials would be needed to decide)."""
    _, low, high = wilson_interval(successes, n, level=level)
    return 1 if low > 0.5 else -1 if high < 0.5 else 0


def staged_error(stages, *, level: float = 0.95, side=side_of_half) -> float:
    """The probability that the staged use of ``side`` (:func:`side_of_half` or
    :func:`sign_side`) places a success probability of ½ above: its error rate, exactly (binomial).

    ``stages`` are increasing trial counts ``n_1 < n_2 < …``: after ``n_i`` trials the count is
    placed above or below (``side(k, n_i, level=level)`` is 1 or -1; then no trials are added),
    else trials are added up to ``n_{i+1}``. For a rule monotone in the count, declaring "above"
    is an increasing event in the outcomes, so its probability grows with p and ``p = ½`` is the
    worst case among ``p ≤ ½``; for a rule symmetric about ½ the error of "below" is the same.
    Looking more than once raises the error above that of one look: with :func:`side_of_half` and
    stages (5, 10) at 95 % it is 1/32 + (5/32)(1/32) ≈ 3.6 % against 3.1 % for 5 trials alone,
    still below 5 %. A rule that never places below (``max(side, 0)``) adds trials on every path
    not yet above: an upper bound for any stopping on the low side.
    """
    counts = np.array([1.0])  # probability of each success count among the trials so far
    done, error = 0, 0.0
    for n in stages:
        if n <= done:
            raise ValueError(f"stages must be increasing trial counts, got {tuple(stages)}")
        counts = np.convolve(counts, stats.binom.pmf(np.arange(n - done + 1), n - done, 0.5))
        done = n
        placed = np.array([side(k, n, level=level) for k in range(n + 1)])
        error += counts[placed == 1].sum()
        counts = np.where(placed == 0, counts, 0.0)
    return float(error)


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
