"""Order-statistic median intervals: exact coverage against a closed form and a simulation."""

import math

import numpy as np
import pytest

from experiments.common.stats import median_coverage, median_interval


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
