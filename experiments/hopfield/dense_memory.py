"""Dense associative memories: fixed points and one-update recall against the number of patterns.

Energy ``E = -Σ_μ F(ξ^μ · σ)`` with ``F(x) = x^n`` (Krotov & Hopfield 2016) or ``F(x) = e^x``
(Demircigil et al. 2017); :func:`rnnjax.hopfield.dense.update` flips each unit to the sign that
lowers it.

Capacity against N (:func:`capacity_vs_n`): per network of K random patterns, the first
``T = min(K, tests)`` are checked for one-update stability (``tests`` fixed, so that the check
costs ``O(T K N)`` and K can reach 2^20). K_50(N), where half of the networks pass, is fitted
over a quarter-octave grid across the transition, with a profile-likelihood interval; the slope
of ln K_50 against ln N (exp: against N) gets a weighted least-squares interval, and the verdict
is whether the slope of the theory of the same criterion
(:func:`rnnjax.hopfield.theory.dense_all_stable_probability` with ``tested = T``, at the same
N, through the same estimator) lies inside it. As N → ∞ that theory's slope tends to n − 1
(Krotov & Hopfield) and, for exp with T fixed, to ln 2 (all K checked: ln 2 / 2, Demircigil
et al.).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from experiments.common import cached_part, say
from experiments.hopfield.alpha_c import logistic_crossing
from experiments.hopfield.classical import last_at_least
from experiments.hopfield.config import DenseConfig
from rnnjax.hopfield import dense, theory

KINDS = (("poly", 2), ("poly", 3), ("poly", 4), ("poly", 5), ("exp", 0))
"""``(kind, n)`` of every interaction function compared at one N."""
CAPACITY_KINDS = (("poly", 2), ("poly", 3), ("poly", 4), ("exp", 0))
"""``(kind, n)`` whose capacity is measured against N."""


def curve_name(kind: str, power: int) -> str:
    return f"poly{power}" if kind == "poly" else "exp"


def dense_sweep(key, kind: str, power: int, units: int, ks: tuple[int, ...], tests: int,
                flips: int):
    """For every K in ``ks``: the fraction of (up to ``tests``) stored patterns that are fixed
    points, and that one update recalls exactly from a cue with ``flips`` flipped bits.
    The memories for the K values are prefixes of one set of ``max(ks)`` random patterns."""
    kp, kf = jax.random.split(key)
    x_all = jax.random.rademacher(kp, (max(ks), units), dtype=jnp.float32)
    out = []
    for k in ks:
        x = x_all[:k]
        t = x[:min(k, tests)]
        fixed = jax.vmap(lambda s, x=x: dense.is_fixed_point(x, s, kind=kind, n=power))(t)
        flip = jnp.argsort(jax.random.uniform(jax.random.fold_in(kf, k), t.shape), axis=1) < flips
        cues = jnp.where(flip, -t, t)
        rec = jax.vmap(lambda s, x=x: dense.update(x, s, kind=kind, n=power))(cues)
        out.append((fixed.mean(), jnp.all(rec == t, axis=1).mean()))
    return out


_dense_program = jax.jit(dense_sweep, static_argnums=(1, 2, 3, 4, 5, 6))


def random_patterns(key, k: int, units: int):
    """``k`` random ±1 patterns of ``units`` bits, ``(k, units)`` float32, from 32 random bits
    per word (one draw per 32 units instead of one per unit)."""
    words = -(-units // 32)
    bits = jax.random.bits(key, (k, words), jnp.uint32)
    unpacked = (bits[:, :, None] >> jnp.arange(32, dtype=jnp.uint32)[None, None, :]) & 1
    return (2.0 * unpacked.reshape(k, 32 * words)[:, :units] - 1).astype(jnp.float32)


def _flip_parts(kind: str, power: int, m, units: int):
    """``F(m) − F(m − 2t) = e(m) + t o(m)`` for ``t = ±1``: the even and odd parts, from the
    binomial expansion for ``x^n`` (no cancellation of ``m^n``) and ``e^m (1 − e^{−2t})`` for
    ``exp`` (scaled by ``e^{−N}``, the same sign)."""
    if kind == "exp":
        w = jnp.exp(m - units)
        return (1 - math.cosh(2)) * w, math.sinh(2) * w
    even = sum(-math.comb(power, j) * 2.0**j * m ** (power - j) for j in range(2, power + 1, 2))
    odd = sum(math.comb(power, j) * 2.0**j * m ** (power - j) for j in range(1, power + 1, 2))
    return even + 0 * m, odd


def tested_stable(x, tests: int, kind: str, power: int):
    """Whether each of the first ``tests`` rows of ``x`` (the stored patterns, ``(K, N)``) is a
    fixed point of one update of the dense memory (:func:`rnnjax.hopfield.dense.update`; a tie
    keeps the unit), ``(tests,)`` bool.

    With ``σ = ξ^τ`` and ``m_ν = ξ^ν·σ``, flipping unit ``i`` changes ``Σ_ν F(ξ^ν·σ)`` by
    ``Σ_ν F(m_ν) − F(m_ν − 2 t_ν)``, ``t_ν = ξ_i^ν σ_i``: ``Σ_ν e(m_ν) + σ_i Σ_ν ξ_i^ν o(m_ν)``
    (:func:`_flip_parts`), two products with ``x`` instead of an ``(N, K)`` array per pattern.
    The unit is stable when this is ``≥ 0``."""
    sigma = x[:tests]
    m = x @ sigma.T                                               # (K, T) overlaps
    even, odd = _flip_parts(kind, power, m, x.shape[1])
    gain = even.sum(0)[:, None] + sigma * (x.T @ odd).T           # (T, N)
    return jnp.all(gain >= 0, axis=1)


def stable_networks(key, kind: str, power: int, units: int, k: int, tests: int,
                    networks: int):
    """Of ``networks`` random memories of ``k`` patterns, how many have every one of their
    first ``min(k, tests)`` patterns a fixed point (the fixed-``tests`` criterion whose theory is
    :func:`rnnjax.hopfield.theory.dense_all_stable_probability` with ``tested=tests``)."""
    t = min(k, tests)
    one = lambda kk: jnp.all(tested_stable(random_patterns(kk, k, units), t, kind, power))
    return jnp.sum(jax.lax.map(one, jax.random.split(key, networks)).astype(jnp.int32))


_stable_networks = jax.jit(stable_networks, static_argnums=(1, 2, 3, 4, 5, 6))


def all_stable_fraction(key, kind: str, power: int, units: int, k: int, networks: int):
    """The fraction of ``networks`` random memories of ``k`` patterns in which every stored
    pattern is a fixed point (all ``k`` tested)."""
    return _stable_networks(key, kind, power, units, k, k, networks) / networks


def quarter_octave(q: int) -> int:
    """``K = 2^(q/4)`` rounded: the capacity grid (``q`` a multiple of 4: powers of two)."""
    return int(round(2 ** (q / 4)))


def measure_size(count, cap: int, networks: int) -> dict[str, Any]:
    """The stable-network counts of one (curve, N) on a quarter-octave grid over its transition.

    ``count(K)`` gives the stable networks at ``K``. Doubling ``K = 2, 4, ...`` until at most a
    fifth of the ``networks`` are stable (or ``K`` reaches ``cap``; ``capped`` when half or
    more are still stable there); then every ``K = 2^(q/4)`` from the last doubling with at
    least four fifths stable to the last one: the window the crossing is fitted over."""
    counts: dict[int, int] = {}
    q, cap_q = 4, int(math.floor(4 * math.log2(cap) + 1e-9))
    low = 4
    while True:
        counts[quarter_octave(q)] = count(quarter_octave(q))
        if counts[quarter_octave(q)] >= 0.8 * networks:
            low = q
        if counts[quarter_octave(q)] <= 0.2 * networks or q + 4 > cap_q:
            break
        q += 4
    capped = counts[quarter_octave(q)] >= 0.5 * networks
    window = [] if capped else sorted({quarter_octave(j) for j in range(low, q + 1)})
    for k in window:
        if k not in counts:
            counts[k] = count(k)
    return {"K": sorted(counts), "stable": [counts[k] for k in sorted(counts)],
            "window": window, "capped": capped}


def size_crossing(row: dict[str, Any], networks: int, level: float) -> dict[str, Any]:
    """The crossing of 1/2 by the stable fraction over the row's window, as ``K`` and
    ``[K_lo, K_hi]``: the maximum-likelihood curve ``exp(−ln 2 · (K/K_50)^(1/w))``, the form of
    ``(1 − p)^(N T)`` with ``ln p`` linear in ``ln K`` (:func:`experiments.hopfield.alpha_c.
    logistic_crossing` with ``link="cloglog"`` in ``log2 K``), with its profile-likelihood
    interval."""
    stable = dict(zip(row["K"], row["stable"], strict=True))
    x = np.log2(row["window"])
    c = logistic_crossing(x, [stable[k] for k in row["window"]], [networks] * len(x),
                          level=level, link="cloglog")
    if c["alpha_c"] is None or None in c["ci"]:
        return {"capacity": None, "capacity_ci": [None, None]}
    return {"capacity": float(2 ** c["alpha_c"]),
            "capacity_ci": [float(2 ** c["ci"][0]), float(2 ** c["ci"][1])],
            "log2_width": c["width"], "pearson_x2": c["pearson_x2"], "dof": c["dof"]}


def capacity_slope(ns, capacity, ci, *, exponential: bool, level: float,
                   theory=None) -> dict[str, Any]:
    """The slope of ``ln K`` against ``ln N`` (``exponential``: against ``N``) by weighted least
    squares, each point's standard error from its interval (half its width in ``ln K`` over
    ``z``), with a normal interval at ``level``; and the slope of ``theory`` (the theory's ``K``
    at the same ``N``) by the same estimator.

    The interval is scaled by ``√(χ²/dof)`` when that exceeds 1, ``χ²`` that of the straight
    line fitted to ``ln K − ln K_theory`` when ``theory`` is given (the measured slope is the
    theory's plus that line's, exactly, the fit being linear), so that the curvature the theory
    predicts over the N range (the ln N factor of x^n, the slow start of e^x) is not counted as
    scatter; that of the line fitted to ``ln K`` without it."""
    z = stats.norm.ppf(0.5 + level / 2)
    ns, y = np.asarray(ns, float), np.log(capacity)
    se = (np.log([c[1] for c in ci]) - np.log([c[0] for c in ci])) / (2 * z)
    x = ns if exponential else np.log(ns)
    a = np.stack([np.ones_like(x), x], 1) / se[:, None]
    fit = lambda v: np.linalg.lstsq(a, v / se, rcond=None)[0]
    coef = fit(y)
    resid = y if theory is None else y - np.log(theory)
    chi2 = float(np.sum((resid / se - a @ fit(resid)) ** 2))
    cov = np.linalg.inv(a.T @ a)
    dof = len(ns) - 2
    if dof > 0:
        cov *= max(1.0, chi2 / dof)
    half = z * math.sqrt(cov[1, 1])
    out = {"slope": float(coef[1]), "slope_ci": [float(coef[1] - half), float(coef[1] + half)],
           "chi2": chi2, "dof": dof, "level": level, "N": ns.astype(int).tolist(),
           "x": "N" if exponential else "ln N",
           "chi2_of": "ln K" if theory is None else "ln K - ln K_theory"}
    if theory is not None:
        out["theory_slope"] = float(fit(np.log(theory))[1])
    return out


class _Counter:
    """``count(K)``: the stable networks of one (curve, N) at ``K`` (``networks`` per K)."""

    def __init__(self, key, kind, power, units, tests, networks):
        self.key, self.kind, self.power, self.units = key, kind, power, units
        self.tests, self.networks = tests, networks

    def __call__(self, k: int) -> int:
        kk = jax.random.fold_in(self.key, self.units * 100003 + k)
        return int(_stable_networks(kk, self.kind, self.power, self.units, k, self.tests,
                                    self.networks))


def capacity_curve(config: DenseConfig, key, kind: str, power: int, workdir) -> dict[str, Any]:
    """One interaction function: per N (``config.exp_sizes`` for exp, else ``config.sizes``) the
    counts near the crossing (:func:`measure_size`, each N a cached part of its own under
    ``workdir``), the crossing with its interval, the theory's crossing for the same criterion
    (:func:`rnnjax.hopfield.theory.dense_capacity_crossing`, ``tested = tests``), and the slope
    against N with its interval and the theory's (:func:`capacity_slope`). A size after a capped
    one is capped too, without computing (the capacity grows with N)."""
    name = curve_name(kind, power)
    sizes = config.exp_sizes if kind == "exp" else config.sizes
    settings = {"key": np.asarray(jax.random.key_data(key)).tolist(), "fold": 10 * power + 1,
                "networks": config.networks, "tests": config.tests,
                "cap": config.capacity_max_patterns}
    rows = []
    for n in sizes:
        if rows and rows[-1]["capped"]:
            rows.append({"N": n, "K": [], "stable": [], "window": [], "capped": True})
            continue
        counter = _Counter(jax.random.fold_in(key, 10 * power + 1), kind, power, n,
                           config.tests, config.networks)
        row = cached_part(workdir, f"{name}_N{n}", {**settings, "N": n},
                          lambda c=counter: measure_size(c, config.capacity_max_patterns,
                                                           config.networks),
                          compact=True)
        row = {"N": n, **{k: row[k] for k in ("K", "stable", "window", "capped")}}
        if not row["capped"]:
            row.update(size_crossing(row, config.networks, config.level))
            row["theory_capacity"] = theory.dense_capacity_crossing(
                n, power, kind=kind, tested=config.tests)
        rows.append(row)
    done = [r for r in rows if r.get("capacity") is not None]
    fit = None
    if len(done) >= 3:
        fit = capacity_slope([r["N"] for r in done], [r["capacity"] for r in done],
                             [r["capacity_ci"] for r in done], exponential=kind == "exp",
                             level=config.level, theory=[r["theory_capacity"] for r in done])
        lo, hi = fit["slope_ci"]
        fit["reproduced"] = bool(lo <= fit["theory_slope"] <= hi)
        fit["rule"] = (f"reproduced when the theory's slope lies inside the measured slope's "
                       f"{config.level:.0%} interval")
    say(f"dense: capacity vs N, {name}: " + ", ".join(
        f"N={r['N']}: {'capped' if r['capped'] else r.get('capacity') and round(r['capacity'])}"
        for r in rows) + ("" if fit is None else f"; slope {fit['slope']:.3f} "
                          f"[{fit['slope_ci'][0]:.3f}, {fit['slope_ci'][1]:.3f}], theory "
                          f"{fit['theory_slope']:.3f}"))
    return {"rows": rows, "fit": fit, "sizes": list(sizes)}


def capacity_vs_n(config: DenseConfig, key, workdir) -> dict[str, Any]:
    """Capacity K_50(N) of every function in ``CAPACITY_KINDS``: the K at which the fraction of
    ``networks`` random memories whose first ``min(K, tests)`` patterns are all fixed points
    crosses 1/2, with its slope against N (log–log; exp: ln K against N) and the theory's for
    the same criterion."""
    curves = {curve_name(kind, power): capacity_curve(config, key, kind, power, workdir)
              for kind, power in CAPACITY_KINDS}
    return {"networks": config.networks, "tests": config.tests, "level": config.level,
            "max_patterns": config.capacity_max_patterns,
            "criterion": f"the first min(K, {config.tests}) stored patterns are all fixed points "
                         "of one update",
            "theory": "rnnjax.hopfield.theory.dense_all_stable_probability (tested = tests)",
            "curves": curves}


def run_dense(config: DenseConfig, key, workdir) -> dict[str, Any]:
    """``dense.json``: per interaction function, fixed-point and recall fractions against K."""
    n = config.units
    ks = [2**i for i in range(1, int(math.log2(config.max_patterns)) + 1)]
    flips = int(round(config.noise * n))
    curves = {}
    for kind, power in KINDS:
        out = jax.device_get(_dense_program(jax.random.fold_in(key, power), kind, power, n,
                                            tuple(ks), config.tests, flips))
        fixed = [float(f) for f, _ in out]
        recall = [float(r) for _, r in out]
        curves[curve_name(kind, power)] = {
            "fixed_fraction": fixed, "recall_fraction": recall,
            "tested": [min(k, config.tests) for k in ks],
            "K_fixed_half": last_at_least(ks, fixed, 0.5),
            "K_recall_half": last_at_least(ks, recall, 0.5)}
        say(f"dense: {curve_name(kind, power)} done")
    return {"N": n, "K": ks, "flips": flips, "curves": curves,
            "capacity_vs_n": capacity_vs_n(config, jax.random.fold_in(key, 99),
                                            Path(workdir) / "checkpoints" / "dense")}
