"""Theory curves for Hopfield networks: capacities and retrieval bounds from the papers.

Host-side NumPy in float64 (these are reference curves for figures and tests, not traced code).

- :func:`ags_retrieval_branch`, :func:`ags_overlap`: the zero-temperature replica-symmetric
  overlap ``m(α)`` of the classical network at load ``α = P/N`` (Amit, Gutfreund & Sompolinsky
  1987) and its critical load ``α_c ≈ 0.138``.
- :func:`mceliece_capacity`: perfect-recall capacities ``N/(2 ln N)``, ``N/(4 ln N)`` (McEliece,
  Posner, Rodemich & Venkatesh 1987).
- :func:`krotov_hopfield_capacity`: dense memories with ``F(x) = x^n``, ``~N^(n-1)``
  (Krotov & Hopfield 2016).
- :func:`demircigil_capacity`: ``F(x) = e^x``, exponential in ``N`` (Demircigil et al. 2017).
- :func:`ramsauer_error_bound`: the one-update retrieval error bound of modern Hopfield
  networks in the separation ``Δ_i`` (Ramsauer et al. 2021, Theorem 5).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import optimize, special

__all__ = [
    "AGSBranch",
    "ags_overlap",
    "ags_retrieval_branch",
    "demircigil_capacity",
    "finite_n_capacity",
    "krotov_hopfield_capacity",
    "mceliece_capacity",
    "ramsauer_error_bound",
    "stable_probability",
]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ----------------------------------------------------------------------------- AGS


def _sqrt_two_alpha(y):
    """``√(2α)`` as a function of ``y = m/√(2αr)`` on a solution: ``erf(y)/y - (2/√π) e^{-y²}``."""
    y = np.asarray(y, float)
    return special.erf(y) / y - _TWO_OVER_SQRT_PI * np.exp(-y * y)


def _y_critical() -> float:
    """The ``y`` at which ``α(y)`` is largest: the end of the retrieval branch."""
    res = optimize.minimize_scalar(lambda y: -_sqrt_two_alpha(y), bounds=(0.5, 3.0),
                                   method="bounded", options={"xatol": 1e-12})
    return float(res.x)


class AGSBranch(NamedTuple):
    """The retrieval branch of the replica-symmetric solution at zero temperature.

    Attributes:
      alpha: ``(num,)`` loads ``α = P/N``, increasing from near 0 to ``alpha_c``.
      m: ``(num,)`` overlaps with the retrieved pattern, decreasing from near 1 to ``m_c``.
      alpha_c: the largest load with a retrieval solution (``≈ 0.1379``).
      m_c: the overlap there (``≈ 0.967``); above ``alpha_c`` it jumps to a spin-glass state.
    """

    alpha: np.ndarray
    m: np.ndarray
    alpha_c: float
    m_c: float


def ags_retrieval_branch(num: int = 200) -> AGSBranch:
    """``m(α)`` on the retrieval branch, and ``α_c`` (Amit, Gutfreund & Sompolinsky 1987).

    The zero-temperature replica-symmetric equations are, with ``y = m/√(2αr)``::

        m = erf(y),     C = √(2/(π α r)) e^{-y²},     r = 1/(1 - C)²

    Since ``√r = 1/(1 - C)``, ``C = a/(1 + a)`` with ``a = √(2/(πα)) e^{-y²}``, and the three
    reduce to one equation in ``y`` (Amit, Gutfreund & Sompolinsky 1987; Hertz, Krogh & Palmer
    1991, §2.5)::

        √(2α) = erf(y)/y - (2/√π) e^{-y²}        ⇒    α(y),  m(y) = erf(y)

    so the solutions are parametrised exactly by ``y``. ``α(y)`` has one maximum, at ``y_c``:
    ``α_c = α(y_c) ≈ 0.1379``, ``m_c = erf(y_c) ≈ 0.967``. The retrieval branch (stable, large
    ``m``) is ``y ≥ y_c``; ``y < y_c`` is the unstable branch. ``α_c`` is found by maximising
    ``α(y)``, and ``m`` at each load by :func:`ags_overlap`.

    Args:
      num: number of loads, uniform on ``[0, α_c]`` (``m(0) = 1``).
    """
    num = int(num)
    if num < 2:
        raise ValueError(f"num must be >= 2, got {num}")
    yc = _y_critical()
    alpha_c = float(_sqrt_two_alpha(yc) ** 2 / 2)
    alpha = np.linspace(0.0, alpha_c, num)
    m = ags_overlap(alpha[:-1])
    m_c = float(special.erf(yc))
    return AGSBranch(alpha, np.append(m, m_c), alpha_c, m_c)


def ags_overlap(alpha) -> np.ndarray:
    """``m(α)`` on the retrieval branch for given loads; NaN where ``α > α_c`` (no retrieval).

    Solves ``√(2α) = erf(y)/y - (2/√π) e^{-y²}`` for ``y ≥ y_c`` (where the right side
    decreases from ``√(2 α_c)`` to 0) by bracketing, then ``m = erf(y)``; ``α = 0`` gives 1.
    See :func:`ags_retrieval_branch`.
    """
    alpha = np.asarray(alpha, float)
    if np.any(alpha < 0) or np.any(~np.isfinite(alpha)):
        raise ValueError(f"alpha must be finite and >= 0, got {alpha}")
    yc = _y_critical()
    ac = float(_sqrt_two_alpha(yc) ** 2 / 2)
    out = np.full(alpha.shape, np.nan)
    for idx, a in np.ndenumerate(alpha):
        if a == 0:
            out[idx] = 1.0
        elif a <= ac:
            target = math.sqrt(2 * a)
            hi = yc
            while _sqrt_two_alpha(hi) > target:
                hi *= 2
            y = yc if a == ac else optimize.brentq(
                lambda v, t=target: _sqrt_two_alpha(v) - t, yc, hi, xtol=1e-14)
            out[idx] = special.erf(y)
    return out


# ----------------------------------------------------------------------------- capacities


def mceliece_capacity(n, *, every_pattern: bool = True):
    """Perfect-recall capacity of the Hebbian network with ``N`` units (McEliece et al. 1987).

    The number of random patterns ``P`` below which, as ``N → ∞``, with probability → 1:

    - ``every_pattern=True``: *all* ``P`` patterns are fixed points: ``P = N / (4 ln N)``;
    - ``every_pattern=False``: a given pattern is a fixed point (all but a vanishing fraction
      of them are): ``P = N / (2 ln N)``.

    These are asymptotic (leading-order) results; at ``N ≤ 500`` finite-``N`` estimates differ
    from them a lot.
    """
    n = np.asarray(n, float)
    if np.any(n <= 1):
        raise ValueError(f"n must be > 1, got {n}")
    return n / ((4.0 if every_pattern else 2.0) * np.log(n))


def stable_probability(n: int, p: int, *, every_pattern: bool = True) -> float:
    """Finite-``N`` probability that one given pattern (``every_pattern=False``) or all ``P``
    patterns are fixed points of the Hebbian network, treating the bits as independent.

    On bit ``i`` of pattern ``ν`` the field times the bit is ``ξ_i^ν h_i = (N - 1) + C`` with
    crosstalk ``C = Σ_{μ≠ν} Σ_{j≠i} ξ_i^ν ξ_i^μ ξ_j^μ ξ_j^ν``: a sum of ``M = (P-1)(N-1)``
    independent ±1 terms, ``C = 2K - M`` with ``K ~ Binomial(M, ½)``. The bit is stable when
    ``C ≥ -(N - 1)`` (a tie keeps it), so ``q = P(K ≥ (M - N + 1)/2)``, and the pattern is stable
    with probability ``q^N`` (all patterns: ``q^(N P)``). As ``N → ∞`` the level ½ of these is
    reached at McEliece et al.'s ``N/(2 ln N)`` and ``N/(4 ln N)`` (:func:`mceliece_capacity`).
    """
    n, p = int(n), int(p)
    if n < 2 or p < 1:
        raise ValueError(f"need n >= 2 units and p >= 1 patterns, got n={n}, p={p}")
    m = (p - 1) * (n - 1)
    q = 1.0 if m == 0 else float(special.bdtr(np.floor((m + n - 1) / 2), m, 0.5))
    return q ** (n * p if every_pattern else n)


def finite_n_capacity(n: int, *, every_pattern: bool = True, level: float = 0.5) -> int:
    """The largest ``P`` with :func:`stable_probability` ``≥ level`` (the finite-``N``
    counterpart of :func:`mceliece_capacity`)."""
    p = 1
    while stable_probability(n, p + 1, every_pattern=every_pattern) >= level:
        p += 1
    return p


def finite_n_crossing(n: int, *, every_pattern: bool = True, level: float = 0.5) -> float:
    """The ``P`` at which :func:`stable_probability` falls through ``level``, linearly
    interpolated between the integers ``P`` and ``P + 1`` around it (``P`` from
    :func:`finite_n_capacity`): the counterpart of an interpolated measured crossing."""
    p = finite_n_capacity(n, every_pattern=every_pattern, level=level)
    a = stable_probability(n, p, every_pattern=every_pattern)
    b = stable_probability(n, p + 1, every_pattern=every_pattern)
    return p + (a - level) / (a - b)


def _double_factorial(k: int) -> int:
    return math.prod(range(k, 0, -2)) if k > 0 else 1


def krotov_hopfield_capacity(n, power: int):
    """Capacity of a dense associative memory with ``F(x) = x^power`` and ``N`` units, no errors
    allowed (Krotov & Hopfield 2016, "Dense associative memory for pattern recognition")::

        K_max ≈ N^(n-1) / (c_n ln N),     c_n = 2 (2n - 3)!!

    (``n = 2``: ``N/(2 ln N)``, McEliece et al.'s single-pattern capacity). Asymptotic in ``N``.
    """
    power = int(power)
    if power < 2:
        raise ValueError(f"power must be an integer >= 2, got {power}")
    n = np.asarray(n, float)
    if np.any(n <= 1):
        raise ValueError(f"n must be > 1, got {n}")
    return n ** (power - 1) / (2 * _double_factorial(2 * power - 3) * np.log(n))


def dense_all_stable_probability(n: int, k, power: int) -> float:
    """Probability that all ``K`` random patterns of a dense memory with ``F(x) = x^n`` are
    fixed points, from the crosstalk distribution (the counterpart of
    :func:`stable_probability` for Krotov & Hopfield 2016).

    Flipping bit ``i`` of stored pattern ``μ`` changes ``Σ_ν F(ξ^ν·σ)`` by ``S + C``: the signal
    ``S = F(N) − F(N − 2)`` and the crosstalk ``C = Σ_{ν≠μ} s_ν g(y_ν)`` with
    ``g(y) = F(y + 1) − F(y − 1)``, ``y_ν`` the overlap on the other ``N − 1`` bits (a sum of
    ``N − 1`` independent ±1) and ``s_ν = ±1``. ``C`` has mean 0 and variance
    ``(K − 1) E[g(y)²]`` (exact, from the binomial distribution of ``y``); taking it Gaussian
    (central limit over the ``K − 1`` patterns) and the ``N K`` bits independent, as McEliece et
    al. do for ``n = 2``: ``P = Φ(S / σ_C)^(N K)``. A tie keeps the bit; ``k`` may be real.
    """
    n, power = int(n), int(power)
    if n < 2 or power < 2:
        raise ValueError(f"need n >= 2 units and power >= 2, got n={n}, power={power}")
    k = float(k)
    if k < 1:
        raise ValueError(f"k must be >= 1 patterns, got {k}")
    if k == 1:
        return 1.0
    y = np.arange(-(n - 1), n, 2, dtype=float)
    w = special.comb(n - 1, (y + n - 1) / 2) / 2.0 ** (n - 1)
    g = (y + 1) ** power - (y - 1) ** power
    signal = float(n) ** power - (n - 2.0) ** power
    sigma = math.sqrt((k - 1) * float(np.sum(w * g * g)))
    return math.exp(n * k * float(special.log_ndtr(signal / sigma)))


def dense_capacity_crossing(n: int, power: int, level: float = 0.5) -> float:
    """The ``K`` (real) at which :func:`dense_all_stable_probability` falls to ``level``."""
    f = lambda lk: dense_all_stable_probability(n, math.exp(lk), power) - level
    if f(0.0) < 0:
        return 1.0
    return float(math.exp(optimize.brentq(f, 0.0, 60.0, xtol=1e-10)))


def demircigil_capacity(n, noise: float = 0.0):
    """Capacity of the exponential dense memory ``F(x) = e^x`` with ``N`` units (Demircigil,
    Heusel, Löwe, Upgang & Vermet 2017, "On a model of associative memory with huge storage
    capacity", Theorem 3)::

        M = exp(α N),    α < I(1 - 2ρ) / 2,    I(x) = ½ [(1 + x) ln(1 + x) + (1 - x) ln(1 - x)]

    patterns are all retrieved, with probability → 1, from any cue with ``ρ N`` flipped bits
    (``noise = ρ ∈ [0, ½)``). At ``ρ = 0``: ``I(1) = ln 2`` and ``M = 2^(N/2)``. Returns the
    bound ``exp(N I(1 - 2ρ)/2)`` (asymptotic in ``N``).
    """
    rho = float(noise)
    if not 0 <= rho < 0.5:
        raise ValueError(f"noise must be in [0, 0.5), got {noise}")
    x = 1 - 2 * rho
    rate = 0.5 * ((1 + x) * math.log1p(x) + ((1 - x) * math.log1p(-x) if x < 1 else 0.0))
    return np.exp(np.asarray(n, float) * rate / 2)


# ----------------------------------------------------------------------------- modern


def ramsauer_error_bound(separation, num_patterns: int, beta, max_norm, distance=None):
    """Bound on the error ``‖f(ξ) - x_i‖`` of one update ``f(ξ) = Xᵀ softmax(β X ξ)`` retrieving
    pattern ``x_i`` (Ramsauer et al. 2021, "Hopfield Networks is All You Need", Theorem 5)::

        ‖f(ξ) - x_i‖ ≤ 2 (N - 1) exp(-β (Δ_i - 2 max{‖ξ - x_i‖, ‖x_i* - x_i‖} M)) M     (eq. 14)

    and, when ``‖ξ - x_i‖ ≤ 1/(2βM)`` and ``‖x_i* - x_i‖ ≤ 1/(2βM)``::

        ‖f(ξ) - x_i‖ ≤ 2 e (N - 1) M exp(-β Δ_i)                                        (eq. 15)

    ``Δ_i = x_iᵀx_i - max_{j≠i} x_iᵀx_j`` is the separation
    (:func:`rnnjax.hopfield.modern.separation`), ``M = max_j ‖x_j‖``, ``N`` the number of
    stored patterns and ``x_i*`` the fixed point near ``x_i``. (Eq. 15 is eq. 14 at distance
    ``1/(2βM)``.)

    Args:
      separation: ``Δ_i`` (array-like).
      num_patterns: ``N``.
      beta: ``β > 0``.
      max_norm: ``M``.
      distance: ``max{‖ξ - x_i‖, ‖x_i* - x_i‖}`` for eq. 14; None for eq. 15.
    """
    beta = np.asarray(beta, float)
    if np.any(~(beta > 0)):
        raise ValueError(f"beta must be > 0, got {beta}")
    if int(num_patterns) < 1:
        raise ValueError(f"num_patterns must be >= 1, got {num_patterns}")
    m = np.asarray(max_norm, float)
    delta = np.asarray(separation, float)
    if distance is None:
        return 2 * math.e * (num_patterns - 1) * m * np.exp(-beta * delta)
    distance = np.asarray(distance, float)
    if np.any(distance < 0):
        raise ValueError(f"distance must be >= 0, got {distance}")
    return 2 * (num_patterns - 1) * np.exp(-beta * (delta - 2 * distance * m)) * m


def ramsauer_beta_threshold(separation: float, num_patterns: int, max_norm: float = 1.0) -> float:
    """The smallest ``β`` at which pattern ``x_i`` is well separated (Ramsauer et al. 2021,
    Theorem 3 and eq. 15)::

        Δ_i ≥ 2/(βN) + (1/β) ln(2 (N - 1) N β M²)

    i.e. ``g(β) = βΔ_i - 2/N - ln(2 (N-1) N β M²) ≥ 0``; ``g`` is convex with its minimum at
    ``β = 1/Δ_i``, so the threshold is the root of ``g`` above ``1/Δ_i`` (``inf`` when
    ``Δ_i ≤ 0``: the pattern is never separated; ``1/Δ_i`` when ``g`` is already ``≥ 0`` there).
    Below ``β = 1/(2 (N-1) N M²)`` the logarithm is negative and the inequality holds trivially;
    that branch is not the separated regime and is not returned.
    """
    from scipy.optimize import brentq

    n, m = int(num_patterns), float(max_norm)
    if n < 2:
        raise ValueError(f"num_patterns must be >= 2, got {num_patterns}")
    if not m > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    delta = float(separation)
    if delta <= 0:
        return math.inf
    g = lambda b: b * delta - 2 / n - math.log(2 * (n - 1) * n * b * m * m)
    low = 1 / delta
    if g(low) >= 0:
        return low
    high = 2 * low
    while g(high) < 0:
        high *= 2
    return float(brentq(g, low, high, xtol=1e-12, rtol=1e-12))
