"""Hopfield theory curves against independent computations."""

import math

import numpy as np
import pytest
from scipy import optimize, special

from rnnjax.hopfield import modern, theory


def ags_solve(alpha, m0=1.0):
    """The three AGS equations m = erf(y), C = √(2/(π α r)) e^{-y²}, r = 1/(1-C)², y = m/√(2αr),
    solved as written by damped fixed-point iteration from m ≈ 1 (the retrieval branch)."""
    m, c = m0, 0.0
    for _ in range(20000):
        r = 1 / (1 - c) ** 2
        y = m / math.sqrt(2 * alpha * r)
        m_new = math.erf(y)
        c_new = math.sqrt(2 / (math.pi * alpha * r)) * math.exp(-y * y)
        m, c = 0.5 * (m + m_new), 0.5 * (c + c_new)
    return m


def test_ags_critical_load_and_overlap():
    branch = theory.ags_retrieval_branch(100)
    assert round(branch.alpha_c, 3) == 0.138
    assert abs(branch.m_c - 0.967) < 1e-3
    assert np.all(np.diff(branch.alpha) > 0) and np.all(np.diff(branch.m) <= 0)
    assert branch.alpha[-1] == branch.alpha_c and branch.alpha[0] == 0 and branch.m[0] == 1
    # the branch's points solve the original equations
    for a, m in zip(branch.alpha[1::20], branch.m[1::20]):
        assert abs(ags_solve(a) - m) < 1e-6
    # at given loads, against the three equations iterated as written
    for a in (0.02, 0.08, 0.12, 0.135):
        assert abs(theory.ags_overlap(a) - ags_solve(a)) < 1e-6
    # α_c independently: the largest α at which the iteration from m = 1 stays near 1
    alive = lambda a: ags_solve(a) > 0.5      # noqa: E731
    lo, hi = 0.13, 0.15
    for _ in range(12):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if alive(mid) else (lo, mid)
    assert abs(lo - branch.alpha_c) < 1e-4
    assert np.isnan(theory.ags_overlap(0.14)) and theory.ags_overlap(0.0) == 1.0
    with pytest.raises(ValueError, match="alpha"):
        theory.ags_overlap(-0.1)


def test_capacity_formulas():
    n = np.array([100.0, 1000.0])
    np.testing.assert_allclose(theory.mceliece_capacity(n), n / (4 * np.log(n)))
    np.testing.assert_allclose(theory.mceliece_capacity(n, every_pattern=False),
                               n / (2 * np.log(n)))
    assert abs(theory.mceliece_capacity(1000) - 36.19) < 0.01
    # Krotov–Hopfield: n = 2 is McEliece's single-pattern capacity; (2n-3)!! = 1, 3, 15, 105
    np.testing.assert_allclose(theory.krotov_hopfield_capacity(n, 2),
                               theory.mceliece_capacity(n, every_pattern=False))
    for power, df in ((3, 3), (4, 15), (5, 105)):
        np.testing.assert_allclose(theory.krotov_hopfield_capacity(16, power),
                                   16 ** (power - 1) / (2 * df * math.log(16)))
    # Demircigil: 2^(N/2) without noise; with noise ρ the rate is I(1-2ρ)/2 (binary entropy form)
    assert theory.demircigil_capacity(16) == pytest.approx(256.0)
    rho = 0.1
    entropy = -(rho * math.log(rho) + (1 - rho) * math.log(1 - rho))  # I(1-2ρ) = ln 2 - H(ρ)
    assert theory.demircigil_capacity(40, rho) == pytest.approx(
        math.exp(40 * (math.log(2) - entropy) / 2))
    with pytest.raises(ValueError, match="power"):
        theory.krotov_hopfield_capacity(16, 1)
    with pytest.raises(ValueError, match="noise"):
        theory.demircigil_capacity(16, 0.5)


def test_ramsauer_bound_holds_and_eq15_is_eq14_at_its_radius():
    rng = np.random.default_rng(0)
    d, n, beta = 64, 20, 2.0
    x = rng.choice([-1.0, 1.0], size=(n, d)) / 4                     # ‖x‖ = 2
    delta = np.asarray(modern.separation(x), float)
    big_m = float(np.max(np.linalg.norm(x, axis=1)))
    for i in range(5):
        xi = x[i] + rng.normal(size=d) * 0.02
        err = np.linalg.norm(np.asarray(modern.update(x, xi, beta), float) - x[i])
        dist = np.linalg.norm(xi - x[i])                            # ≤ the max in eq. 14
        bound = theory.ramsauer_error_bound(delta[i], n, beta, big_m, distance=dist)
        # the bound from the proof's softmax tail: 1 - p_i ≤ Σ_{j≠i} exp(β (x_j - x_i)ᵀ ξ)
        z = beta * (x @ xi)
        tail = np.sum(np.exp(np.delete(z, i) - z[i]))
        assert err <= 2 * big_m * tail <= bound
    r = 1 / (2 * beta * big_m)
    np.testing.assert_allclose(theory.ramsauer_error_bound(delta, n, beta, big_m, distance=r),
                               theory.ramsauer_error_bound(delta, n, beta, big_m))
    np.testing.assert_allclose(theory.ramsauer_error_bound(3.0, 11, 0.5, 2.0),
                               2 * math.e * 10 * 2.0 * math.exp(-1.5))
    with pytest.raises(ValueError, match="beta"):
        theory.ramsauer_error_bound(1.0, 3, 0.0, 1.0)


def test_erf_parametrisation_matches_scipy_root():
    """α(y) from the reduced equation, against scipy's root of the two-unknown system (m, r)."""
    for a in (0.05, 0.1):
        def eqs(v, a=a):
            m, r = v
            y = m / math.sqrt(2 * a * r)
            c = math.sqrt(2 / (math.pi * a * r)) * math.exp(-y * y)
            return [m - special.erf(y), r - 1 / (1 - c) ** 2]
        m, _ = optimize.fsolve(eqs, [0.99, 1.0], xtol=1e-13)
        assert abs(theory.ags_overlap(a) - m) < 1e-8


def test_finite_n_stability_against_sampled_crosstalk_and_mceliece():
    """q^N from the binomial crosstalk equals sampling the ±1 terms; the finite-N capacities
    exceed McEliece's asymptotic ones and approach them (ratio falling towards 1) as N grows."""
    rng = np.random.default_rng(0)
    n, p = 40, 6
    m = (p - 1) * (n - 1)
    crosstalk = 2 * rng.binomial(m, 0.5, size=(20000, n)) - m
    sampled = np.mean(np.all(crosstalk >= -(n - 1), axis=1))
    assert abs(theory.stable_probability(n, p, every_pattern=False) - sampled) < 0.01
    assert theory.stable_probability(n, p) == pytest.approx(
        theory.stable_probability(n, p, every_pattern=False) ** p)
    assert theory.stable_probability(n, 1) == 1.0
    ratios = []
    for size in (100, 1000, 10000):
        for every in (False, True):
            k = theory.finite_n_capacity(size, every_pattern=every)
            assert theory.stable_probability(size, k, every_pattern=every) >= 0.5
            assert theory.stable_probability(size, k + 1, every_pattern=every) < 0.5
        ratios.append(theory.finite_n_capacity(size) / theory.mceliece_capacity(size))
    assert ratios[0] > ratios[1] > ratios[2] > 1
    with pytest.raises(ValueError, match="n >= 2"):
        theory.stable_probability(1, 3)


@pytest.mark.parametrize("delta, n, m", [(0.4, 10000, 1.0), (1.0, 2, 1.0), (0.05, 100, 2.0)])
def test_ramsauer_beta_threshold_solves_the_separation_condition(delta, n, m):
    b = theory.ramsauer_beta_threshold(delta, n, m)
    cond = lambda beta: delta - 2 / (beta * n) - math.log(2 * (n - 1) * n * beta * m * m) / beta
    assert cond(b) == pytest.approx(0, abs=1e-9)
    # the smallest such β above 1/Δ: the condition fails between them (and holds above it)
    grid = np.geomspace(1 / delta, b * (1 - 1e-6), 2000)
    assert all(cond(x) < 0 for x in grid) and cond(b * 1.01) > 0


def test_ramsauer_beta_threshold_edges():
    assert theory.ramsauer_beta_threshold(0.0, 10) == math.inf
    with pytest.raises(ValueError, match="num_patterns"):
        theory.ramsauer_beta_threshold(0.5, 1)
    with pytest.raises(ValueError, match="max_norm"):
        theory.ramsauer_beta_threshold(0.5, 10, 0.0)


def test_finite_n_crossing_lies_between_the_integers_around_it():
    """The interpolated crossing of 1/2 lies in [P, P + 1] with P = finite_n_capacity, and a
    straight line through the two probabilities passes 1/2 there."""
    for n, every in ((500, True), (2000, False)):
        p = theory.finite_n_capacity(n, every_pattern=every)
        c = theory.finite_n_crossing(n, every_pattern=every)
        assert p <= c <= p + 1
        a = theory.stable_probability(n, p, every_pattern=every)
        b = theory.stable_probability(n, p + 1, every_pattern=every)
        assert a + (b - a) * (c - p) == pytest.approx(0.5)


def test_dense_all_stable_probability_for_x2_is_mceliece_in_closed_form():
    """F(x) = x²: the crosstalk is 4 × a sum of (K − 1)(N − 1) independent ±1 and the signal
    4 (N − 1), so the probability is McEliece's binomial one, q^(N K) (stable_probability)."""
    for n, k in ((16, 3), (64, 10), (100, 7), (31, 2)):
        want = theory.stable_probability(n, k, every_pattern=True)
        assert theory.dense_all_stable_probability(n, k, 2) == pytest.approx(want, rel=1e-9)
        tested = theory.stable_probability(n, k, every_pattern=False) ** 2
        assert theory.dense_all_stable_probability(n, k, 2, tested=2) == pytest.approx(
            tested, rel=1e-9)
    c = theory.dense_capacity_crossing(64, 2)
    lo, hi = math.floor(c), math.ceil(c)
    assert theory.dense_all_stable_probability(64, lo, 2) >= 0.5 > (
        theory.dense_all_stable_probability(64, hi, 2))
    assert theory.dense_capacity_crossing(32, 4) > theory.dense_capacity_crossing(32, 3)


def test_dense_exp_crossing_in_the_near_pattern_limit():
    """F = e^x at N = 24 … 32: a bit flips when a stored pattern equals ξ^μ with that bit flipped
    (K 2^−(N−1)/2 of them on average) and the rest of the crosstalk is negative (½), so
    P ≈ exp(−N T K 2^−N / 2) and K_50 ≈ 2 ln 2 · 2^N / (N T)."""
    for n, t in ((24, 64), (32, 16)):
        want = 2 * math.log(2) * 2.0**n / (n * t)
        got = theory.dense_capacity_crossing(n, kind="exp", tested=t)
        assert got == pytest.approx(want, rel=5e-3)


def _monte_carlo(kind, power, n, k, tested, networks, seed=0):
    """Per network, whether the first ``tested`` of ``k`` random patterns are all fixed points,
    and the fraction of their bits that one update flips (rnnjax.hopfield.dense.update)."""
    import jax

    from rnnjax.hopfield import dense

    def one(key):
        x = jax.random.rademacher(key, (k, n), dtype=np.float32)
        new = jax.vmap(lambda s: dense.update(x, s, kind=kind, n=power))(x[:tested])
        flips = new != x[:tested]
        return flips.mean(), ~flips.any()

    flips, stable = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(seed), networks))
    return float(np.mean(stable)), float(np.mean(flips))


@pytest.mark.parametrize("kind, power, n, k, tested", [
    pytest.param("poly", 3, 16, 12, 4, marks=pytest.mark.slow),
    pytest.param("poly", 4, 12, 16, 4, marks=pytest.mark.slow),
    pytest.param("exp", 0, 12, 24, 8, marks=pytest.mark.slow), ("exp", 0, 16, 160, 8)])
def test_dense_all_stable_probability_against_monte_carlo(kind, power, n, k, tested):
    """The flip probability of one bit (the crosstalk distribution: exact for x^n, near
    patterns Poisson for e^x) within 4 standard errors of a Monte Carlo over 3000 networks; the
    probability that all tested patterns are stable too for e^x, whose bits are close to
    independent (for x^n they share the pattern's overlaps: the Monte Carlo is higher)."""
    networks = 3000
    stable, flips = _monte_carlo(kind, power, n, k, tested, networks)
    p = theory._poly_bit_unstable(n, k, power) if kind == "poly" else theory._exp_bit_unstable(n, k)
    bits = networks * tested * n
    assert abs(flips - p) < 4 * math.sqrt(p * (1 - p) / bits * 4) + 1e-4   # 4 x: bits correlate
    want = theory.dense_all_stable_probability(n, k, power, kind=kind, tested=tested)
    if kind == "exp":
        assert abs(stable - want) < 4 * math.sqrt(want * (1 - want) / networks)
    else:
        assert want < stable < want + 0.15
