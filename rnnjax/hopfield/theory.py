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
from scipy import optimize, special, stats

__all__ = [
    "AGSBranch",
    "ags_overlap",
    "ags_retrieval_branch",
    "demircigil_capacity",
    "dense_all_stable_probability",
    "dense_capacity_crossing",
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


def _binomial_overlaps(n: int):
    """The overlap ``y`` of a random pattern with another on ``n − 1`` bits and its probability."""
    y = np.arange(-(n - 1), n, 2, dtype=float)
    return y, special.comb(n - 1, (y + n - 1) / 2) / 2.0 ** (n - 1)


def _check_dense(n, k, power, kind, tested):
    n, k = int(n), float(k)
    if kind not in ("poly", "exp"):
        raise ValueError(f"kind must be 'poly' or 'exp', got {kind!r}")
    if n < 2 or (kind == "poly" and int(power) < 2):
        raise ValueError(f"need n >= 2 units and power >= 2, got n={n}, power={power}")
    if k < 1:
        raise ValueError(f"k must be >= 1 patterns, got {k}")
    if tested is not None and int(tested) < 1:
        raise ValueError(f"tested must be >= 1 patterns or None, got {tested}")
    return n, k


EXP_ATOMS = 3
"""F = e^x: overlaps with ``j < EXP_ATOMS`` disagreements on the other bits are counted one by one
(Poisson), the rest taken Gaussian (:func:`dense_bit_unstable_probability`)."""


def _exp_bit_unstable(n: int, k: float) -> float:
    """F = e^x: probability that one bit of one stored pattern flips (see
    :func:`dense_all_stable_probability`)."""
    y, w = _binomial_overlaps(n)
    j = ((n - 1) - y) / 2                                     # disagreements on the other bits
    a = np.exp(-2 * j)                                        # g(y) / S
    atoms = j < EXP_ATOMS
    var = (k - 1) * float(np.sum((w * a * a)[~atoms]))
    total, prob = np.ones(1), np.ones(1)                      # 1 + Σ_j D_j a_j, its probability
    for lam, aj in zip((k - 1) * w[atoms] / 2, a[atoms], strict=True):
        r = int(math.ceil(2 * lam + 12 * math.sqrt(2 * lam) + 8))
        d = np.arange(-r, r + 1)
        pd = stats.skellam.pmf(d, lam, lam)
        total = (total[:, None] + aj * d[None, :]).ravel()
        prob = (prob[:, None] * pd[None, :]).ravel()
        big = prob > 1e-18 * prob.max()
        total, prob = total[big], prob[big]
    if var == 0:
        return float(np.sum(prob * (total < 0)))
    return float(np.sum(prob * special.ndtr(-total / math.sqrt(var))))


def _poly_bit_unstable(n: int, k: int, power: int, bins: int = 2**17) -> float:
    """F = x^n: probability that one bit of one stored pattern flips, ``P(C < −S)`` from the
    distribution of the crosstalk ``C`` (a sum of ``K − 1`` independent terms ``±g(y)``,
    computed on a grid by FFT: exact on the lattice of ``C`` where the grid holds it, else
    with each ``g`` rounded to the grid); see :func:`dense_all_stable_probability`."""
    y, w = _binomial_overlaps(n)
    g = np.rint((y + 1) ** power - (y - 1) ** power)
    signal = float(n) ** power - (n - 2.0) ** power
    reach = min((k - 1) * signal, 3 * signal)                 # the grid holds C in ±reach
    step = float(np.gcd.reduce(np.abs(g).astype(np.int64)))
    h = max(step, 2 * reach / bins)
    offset = bins // 2
    single = np.zeros(bins)
    for sign in (1, -1):
        np.add.at(single, (offset + sign * np.round(g / h)).astype(int) % bins, w / 2)
    spectrum = np.fft.fft(np.fft.ifftshift(single)) ** (k - 1)
    pmf = np.fft.fftshift(np.clip(np.fft.ifft(spectrum).real, 0, None))
    return float(np.sum(pmf[: offset + int(round(-signal / h))]))


def dense_all_stable_probability(n: int, k, power: int = 3, *, kind: str = "poly",
                                 tested: int | None = None) -> float:
    """Probability that every one of ``T = min(K, tested)`` checked stored patterns (all ``K``
    with ``tested=None``) of a dense memory of ``K`` random patterns with ``N`` units is a fixed
    point of one update (Krotov & Hopfield 2016; Demircigil et al. 2017): the counterpart of
    :func:`stable_probability` for ``F(x) = x^n`` (``kind="poly"``) and ``e^x`` (``"exp"``).

    Flipping bit ``i`` of stored pattern ``μ`` changes ``Σ_ν F(ξ^ν·σ)`` by ``S + C``: the signal
    ``S = F(N) − F(N − 2)`` and the crosstalk ``C = Σ_{ν≠μ} t_ν g(y_ν)`` with
    ``g(y) = F(y + 1) − F(y − 1)``, ``y_ν`` the overlap on the other ``N − 1`` bits (a sum of
    ``N − 1`` independent ±1) and ``t_ν = ξ_i^ν ξ_i^μ = ±1``, independent across bits and
    patterns. The bit flips when ``S + C < 0`` (a tie keeps it). The approximations:

    - ``"poly"``: the distribution of ``C``, a sum of ``K − 1`` independent terms, computed on
      a grid (FFT; :func:`_poly_bit_unstable`), gives the flip probability ``p`` of one bit.
      (A Gaussian with the same variance has tails too thin by a factor 2 or more at
      ``n = 3, 4``.) ``k`` is rounded to a whole number.
    - ``"exp"``: ``g(y)/S = e^{−2j}`` with ``j`` the disagreements on the other bits, so the
      crosstalk is dominated by the rare patterns close to ``ξ^μ`` (one at ``j = 0`` with
      ``t = −1``, ``ξ^μ`` with bit ``i`` flipped, cancels the signal). For ``j < EXP_ATOMS`` the
      numbers of patterns with ``t = ±1`` are Poisson with mean ``(K − 1) P(j)/2`` each (their
      difference Skellam, summed over exactly), the rest Gaussian with its exact variance
      ``(K − 1) Σ_{j ≥ EXP_ATOMS} P(j) e^{−4j}``: a bit flips with probability
      ``p = P(1 + Σ_j D_j e^{−2j} + G < 0)``. ``k`` may be real.

    The ``N T`` bits of the ``T`` checked patterns are taken independent, as McEliece et al. do
    for ``n = 2``: ``P = (1 − p)^(N T)``. (For ``x^n`` the bits of a pattern share its overlaps
    with the others, so failures cluster: at ``N = 24 … 64`` the probability is higher than
    this, by a factor up to about 1.5 near 1/2, see the tests.)
    """
    n, k = _check_dense(n, k, power, kind, tested)
    if kind == "poly":
        k = float(max(1, round(k)))
    if k == 1:
        return 1.0
    t = k if tested is None else min(k, float(tested))
    p = _poly_bit_unstable(n, int(k), int(power)) if kind == "poly" else _exp_bit_unstable(n, k)
    return math.exp(n * t * math.log1p(-p)) if p < 1 else 0.0


def dense_capacity_crossing(n: int, power: int = 3, level: float = 0.5, *, kind: str = "poly",
                            tested: int | None = None) -> float:
    """The ``K`` at which :func:`dense_all_stable_probability` falls to ``level`` (for
    ``"poly"``, between the whole numbers around it, linear in ``ln K``)."""
    prob = lambda kk: dense_all_stable_probability(n, kk, power, kind=kind, tested=tested)
    if prob(1.0) < level:
        return 1.0
    hi = 2
    while prob(hi) >= level:
        hi *= 2
    if kind == "exp":
        return float(math.exp(optimize.brentq(lambda lk: prob(math.exp(lk)) - level, 0.0,
                                              math.log(hi), xtol=1e-10)))
    lo = hi // 2
    while hi - lo > 1:                                        # prob(lo) >= level > prob(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if prob(mid) >= level else (lo, mid)
    a, b = prob(lo), prob(hi)
    return float(math.exp(math.log(lo) + (a - level) / (a - b) * math.log(hi / lo)))


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
