"""Intervals: order-statistic medians and Student-t means, against closed forms, SciPy and simulation."""

import math

import numpy as np
import pytest

from experiments.common.stats import (
    bootstrap_ci,
    interval_label,
    level_text,
    mean_interval,
    median_coverage,
    median_interval,
    t_interval,
)


def test_coverage_closed_form():
    # [min, max] of n draws misses the median only when all fall on one side: 1 - 2 / 2^n.
    for n in range(2, 12):
        assert median_coverage(n, 1) == pytest.approx(1 - 2.0 ** (1 - n))
    assert median_coverage(5, 1) == 0.9375 and median_coverage(3, 1) == 0.75
    with pytest.raises(ValueError, match="j <="):
        median_coverage(5, 4)


def test_interval_reports_the_level_it_reaches():
    med, lo, hi, cov = median_interval([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (med, lo, hi, cov) == (3.0, 1.0, 5.0, 0.9375)        # below 0.95: said, not hidden
    med, lo, hi, cov = median_interval(np.arange(20.0))
    assert (lo, hi) == (5.0, 14.0) and cov >= 0.95
    assert median_coverage(20, 7) < 0.95                       # and it is the narrowest that does
    assert median_interval([None, 2.0, float("inf")])[:3] == (2.0, 2.0, 2.0)
    assert all(math.isnan(x) for x in median_interval([None, float("nan")]))
    with pytest.raises(ValueError, match="level"):
        median_interval([1.0, 2.0], level=1.0)


@pytest.mark.parametrize("n", [5, 9, 16])
def test_simulated_coverage_matches(n):
    rng = np.random.default_rng(n)
    hits, cov = 0, None
    for _ in range(4000):
        x = rng.exponential(size=n)
        _, lo, hi, cov = median_interval(x)
        hits += lo <= math.log(2.0) <= hi
    assert abs(hits / 4000 - cov) < 4 * math.sqrt(cov * (1 - cov) / 4000) + 1e-3


def test_t_interval_against_scipy_and_a_closed_form():
    from scipy import stats

    x = np.array([1.0, 2.0, 4.0])
    mean, lo, hi = t_interval(x, level=0.95)
    want = stats.t.interval(0.95, df=2, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(7 / 3) and (lo, hi) == pytest.approx(want, rel=1e-12)
    # n = 2: t_{1, 0.975} = tan(0.475 π) (Cauchy quantile), s / √2 = |x1 - x2| / 2
    mean, lo, hi = t_interval([0.0, 2.0], level=0.95)
    assert hi - mean == pytest.approx(math.tan(0.475 * math.pi), rel=1e-10)
    with pytest.raises(ValueError, match="at least 2 finite"):
        t_interval([1.0])
    with pytest.raises(ValueError, match="level"):
        t_interval([1.0, 2.0], level=0.0)


def test_mean_interval_labels_what_it_reports():
    m = mean_interval([0.9, 0.95, 1.0], bounds=(0, 1))
    assert (m["interval"], m["ci_level"], m["n"]) == ("t", 0.95, 3)
    assert m["ci"][1] == 1.0 and m["ci"][0] == pytest.approx(t_interval([0.9, 0.95, 1.0])[1])
    assert interval_label(m) == "95 % t-interval, 3 seeds"
    r = mean_interval([1.0, math.inf, 3.0])               # a diverged seed: the range, no level
    assert (r["ci"], r["ci_level"], r["interval"], r["nonfinite"]) == ([1.0, math.inf], None,
                                                                       "range", 1)
    assert interval_label(r) == "range of 3 seeds (1 diverged)"
    one = mean_interval([0.5])
    assert (one["ci"], one["ci_level"], interval_label(one)) == ([0.5, 0.5], None, "1 seed")
    assert level_text(0.9375) == "93.75 %"


def test_coverage_of_the_t_interval_and_of_the_bootstrap_with_three_seeds():
    """2000 draws of 3 normal values: the t-interval covers the mean at its level; the
    percentile bootstrap labelled 95 % (about the range) covers it far less often."""
    rng = np.random.default_rng(0)
    draws = 2000
    x = rng.normal(loc=1.0, scale=2.0, size=(draws, 3))
    t_hits = sum(lo <= 1.0 <= hi for _, lo, hi in (t_interval(row) for row in x))
    boot_hits = sum(lo <= 1.0 <= hi for _, lo, hi in
                    (bootstrap_ci(row, resamples=200, seed=i) for i, row in enumerate(x[:500])))
    se = math.sqrt(0.95 * 0.05 / draws)
    assert abs(t_hits / draws - 0.95) < 4 * se
    # the range of 3 normal draws covers the mean with probability 1 - 2/8 = 75 %; the
    # bootstrap's 95 % interval lies inside it
    assert boot_hits / 500 < 0.80
