"""Iterations against T and λ_max: the growth exponent of each λ_max bin with its interval,
competing fitted forms compared by AIC, and the verdict on "iterations are governed by λ_max";
from ``summary.json`` rows only.

The verdict tests growth: a bin's exponent ``p`` in ``iterations ≈ c·T^p`` is the mean over its
networks of each network's least-squares slope of ln(iterations) against ln T, with its 95 %
Student-t interval (networks are independent; the lengths of one network are not). ``p = 1`` is
Newton's worst case (one exact step per iteration); a constant gives 0, and ln T or (ln T)²
growth (Gonzalez et al. 2025, "Predictability enables parallelization of nonlinear state space
models": the theory's prediction where the dynamics contract) give ``p`` well below 1 over
T = 64 … 2048. An interval wholly below 1 is "sublinear". Solves that ran out of iterations are
left out of the slopes, so where some did, ``p`` is a lower bound (such a bin already counts as
failed or slow in the verdict).

Forms of ``iterations ≈ a + b·φ(T)``, reported beside it: ``constant`` (``b = 0``), ``ln T``,
``(ln T)²`` and ``T``, each fitted by least squares to the converged solves of one bin and
compared by the Gaussian AIC ``n ln(RSS/n) + 2k`` (``k`` the fitted parameters, σ included: 2 for
the constant, 3 otherwise; Akaike 1974); the form with the lowest AIC wins, and a ΔAIC below 2
is reported as a tie. They describe the shape; they do not decide the verdict, because the
linear form nests the constant (``b → 0``), so flat data can never reject it by more than 2.
"""

from __future__ import annotations

import math

import numpy as np

from experiments.common.stats import median_interval, t_interval, wilson_interval
from rnnjax.parallel.outlook import extrapolate_iterations

FORMS = {"constant": lambda T: np.zeros_like(T), "ln T": np.log, "(ln T)²": lambda T: np.log(T) ** 2,
         "T": lambda T: T}
SUBLINEAR = ("constant", "ln T", "(ln T)²")


def fit_forms(T, iterations) -> dict:
    """``{form: {"a", "b", "aic"}}`` and ``"best"``, ``"runner_up_delta"`` for points (T, iterations);
    ``{}`` when fewer than 3 points or fewer than 2 distinct T."""
    T, y = np.asarray(T, float), np.asarray(iterations, float)
    if y.size < 3 or np.unique(T).size < 2:
        return {}
    out = {}
    for name, phi in FORMS.items():
        if name == "constant":
            a, b, k = float(np.mean(y)), 0.0, 2
        else:
            X = np.stack([np.ones_like(T), phi(T)], axis=1)
            (a, b), *_ = np.linalg.lstsq(X, y, rcond=None)
            k = 3
        rss = float(np.sum((y - a - b * phi(T)) ** 2))
        rss = max(rss, 1e-12 * y.size)  # an exact fit: a finite, very low AIC
        out[name] = {"a": float(a), "b": float(b), "aic": y.size * math.log(rss / y.size) + 2 * k}
    ranked = sorted(FORMS, key=lambda f: out[f]["aic"])
    return {"forms": out, "best": ranked[0],
            "runner_up_delta": out[ranked[1]]["aic"] - out[ranked[0]]["aic"]}


def lambda_bins(networks: list[dict], per_bin: int) -> list[list[dict]]:
    """Networks sorted by λ_max in consecutive groups of ``per_bin`` (the last one takes the
    remainder when it would be smaller than ``per_bin``)."""
    nets = sorted(networks, key=lambda n: n["lambda_max"])
    bins = [nets[i:i + per_bin] for i in range(0, len(nets), per_bin)]
    if len(bins) > 1 and len(bins[-1]) < per_bin:
        last = bins.pop()
        bins[-1] = bins[-1] + last
    return bins


def _key(r: dict) -> tuple:
    return (r["gain"], r["network"])


def growth_exponent(rows: list[dict]) -> dict:
    """``{"p", "ci", "ci_level", "n"}``: the growth exponent of the converged solves ``rows``
    (module docstring) over the networks with converged solves at 2 lengths or more; ``{}``
    when fewer than 2 such networks."""
    slopes = []
    for key in dict.fromkeys(_key(r) for r in rows):
        pts = [(r["T"], r["iterations"]) for r in rows if _key(r) == key]
        if len({T for T, _ in pts}) >= 2:
            T, it = np.log(np.array(pts, float)).T
            slopes.append(float(np.polyfit(T, it, 1)[0]))
    if len(slopes) < 2:
        return {}
    p, lo, hi = t_interval(slopes)
    return {"p": p, "ci": [lo, hi], "ci_level": 0.95, "n": len(slopes)}


def bin_table(summary: dict, method: str, dtype: str, per_bin: int) -> list[dict]:
    """Per λ_max bin of the networks with solves: the λ_max median and interval, and per T the
    converged fraction (Wilson), the median iterations of the converged solves (order-statistic
    interval with its coverage), the solves whose plain first step overflowed; and the fitted
    forms and the growth exponent over all T."""
    rows = [r for r in summary["rows"] if r["method"] == method and r["dtype"] == dtype]
    measured = {_key(r) for r in rows}
    out = []
    for nets in lambda_bins([n for n in summary["networks"] if _key(n) in measured], per_bin):
        keys = {_key(n) for n in nets}
        sel = [r for r in rows if _key(r) in keys]
        lam = median_interval([n["lambda_max"] for n in nets])
        per_T = []
        for T in sorted({r["T"] for r in sel}):
            at = [r for r in sel if r["T"] == T]
            ok = [r["iterations"] for r in at if r["converged"]]
            med = median_interval(ok)
            per_T.append({"T": T, "n": len(at), "converged": len(ok),
                          "converged_ci": list(wilson_interval(len(ok), len(at))[1:]),
                          "overflow_1": sum(r["overflow_1"] for r in at),
                          "diverged": sum(r["outcome"] == "diverged" for r in at),
                          "median": med[0], "median_ci": [med[1], med[2]],
                          "median_ci_level": med[3]})
        conv = [r for r in sel if r["converged"]]
        out.append({"networks": len(nets), "lambda_max": lam[0],
                    "lambda_max_ci": [lam[1], lam[2]], "lambda_max_range": [
                        nets[0]["lambda_max"], nets[-1]["lambda_max"]],
                    "gains": sorted({n["gain"] for n in nets}), "per_T": per_T,
                    "fit": fit_forms([r["T"] for r in conv], [r["iterations"] for r in conv]),
                    "exponent": growth_exponent(conv)})
    return out


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties); nan for fewer than 3 points."""
    from scipy.stats import spearmanr

    if len(x) < 3:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def sublinear(b: dict) -> bool:
    """The bin's growth exponent has its interval wholly below 1."""
    return bool(b.get("exponent")) and b["exponent"]["ci"][1] < 1


def verdict(bins: list[dict]) -> dict:
    """"Iterations are governed by λ_max" holds when every bin with median λ_max < 0 converges
    in all its solves and grows sublinearly (growth exponent's interval below 1), and every bin
    with median λ_max ≥ 0 has a failed solve or does not (interval reaching 1); the counts
    behind the call."""
    stable = [b for b in bins if b["lambda_max"] < 0]
    chaotic = [b for b in bins if b["lambda_max"] >= 0]
    good_stable = [b for b in stable if sublinear(b)
                   and all(t["converged"] == t["n"] for t in b["per_T"])]
    good_chaotic = [b for b in chaotic if not sublinear(b)
                    or any(t["converged"] < t["n"] for t in b["per_T"])]
    return {"stable_bins": len(stable), "stable_sublinear": len(good_stable),
            "chaotic_bins": len(chaotic), "chaotic_slow": len(good_chaotic),
            "holds": len(good_stable) == len(stable) and len(good_chaotic) == len(chaotic)}


def rank_correlation(summary: dict, method: str, dtype: str) -> dict:
    """Spearman's ρ, over networks at the largest T solved, of the iterations (a solve that did not
    converge ranked above every converged one) against λ_max and against the gain."""
    T = max((r["T"] for r in summary["rows"]), default=max(summary["T"]))
    rows = [r for r in summary["rows"] if r["method"] == method and r["dtype"] == dtype
            and r["T"] == T]
    its = [r["iterations"] if r["converged"] else 10 * r["max_iters"] for r in rows]
    return {"T": T, "n": len(rows), "lambda_max": spearman([r["lambda_max"] for r in rows], its),
            "gain": spearman([r["gain"] for r in rows], its)}


FLOAT32_DIGITS = 24 * math.log(2)
"""ln(1/u) for float32's unit roundoff u = 2⁻²⁴."""


def float32_failures(summary: dict, method: str = "deer") -> dict:
    """Solves (network, T) that converged in float64 but not in float32 ("lost"), split by
    whether plain float32 Newton overflowed at iteration 1, whether the float32 solve diverged
    (a non-finite iterate: overflow the safeguard did not remove) and whether the network is
    chaotic (λ_max > 0); and how many overflowed at iteration 1 in all.

    On a chaotic network a Newton step's linear scan sums terms ``(Π_k J_k) b`` that grow like
    ``e^{λ_max t}`` and cancel to a state of order 1, so its rounding error grows like
    ``u e^{λ_max t}``: past ``λ_max T ≈ ln(1/u)`` no float32 digit of the step is right,
    whatever the guess (conditioning, not overflow). ``lambda_T_converged_max`` (the largest
    ``λ_max T`` of a chaotic pair that converged in both dtypes) and ``lambda_T_lost_min`` (the
    smallest of a lost chaotic pair) say whether ``λ_max T`` separates them. ``remedy_failures``
    counts the losses the safeguard should have prevented: lost solves that diverged or whose
    network is not chaotic."""
    by = {}
    for r in summary["rows"]:
        if r["method"] == method:
            by.setdefault((r["gain"], r["network"], r["T"]), {})[r["dtype"]] = r
    pairs = [p for p in by.values() if "float32" in p and "float64" in p]
    lost = [p for p in pairs if p["float64"]["converged"] and not p["float32"]["converged"]]
    over = [p for p in pairs if p["float32"]["overflow_1"]]
    chaotic = lambda p: p["float32"].get("lambda_max", 0.0) > 0
    lam_T = lambda p: p["float32"]["lambda_max"] * p["float32"]["T"]
    diverged = lambda p: p["float32"]["outcome"] == "diverged"
    both = [lam_T(p) for p in pairs if chaotic(p) and p["float32"]["converged"]
            and p["float64"]["converged"]]
    lost_chaotic = [lam_T(p) for p in lost if chaotic(p)]
    return {"pairs": len(pairs), "overflow_1": len(over),
            "overflow_1_converged": sum(p["float32"]["converged"] for p in over),
            "lost": len(lost), "lost_overflow_1": sum(p["float32"]["overflow_1"] for p in lost),
            "lost_diverged": sum(map(diverged, lost)), "lost_chaotic": len(lost_chaotic),
            "remedy_failures": sum(diverged(p) or not chaotic(p) for p in lost),
            "lambda_T_converged_max": max(both, default=None),
            "lambda_T_lost_min": min(lost_chaotic, default=None)}


def outlook_check(summary: dict, dtype: str = "float64", method: str = "deer") -> dict:
    """:func:`rnnjax.parallel.extrapolate_iterations` (what ``newton_outlook`` predicts) tested on
    the study's networks: the solves at the two shortest lengths are the probes, the converged
    solves at every longer length the targets. ``ratios`` are predicted / measured iterations;
    ``worthwhile`` networks have λ_max < 0 and a probe exponent below 1/2."""
    Ts = sorted(summary["T"])
    if len(Ts) < 3 or Ts[1] != 2 * Ts[0]:
        return {}
    by = {}
    for r in summary["rows"]:
        if r["method"] == method and r["dtype"] == dtype:
            by.setdefault(_key(r), {})[r["T"]] = r
    ratios, worth, worth_rows = [], 0, []
    for runs in by.values():
        short, long = runs.get(Ts[0]), runs.get(Ts[1])
        if not (short and long and short["converged"] and long["converged"]):
            continue
        p, _ = extrapolate_iterations(short["iterations"], long["iterations"], Ts[1], Ts[1])
        good = short["lambda_max"] < 0 and p < 0.5
        worth += good
        for T, r in runs.items():
            if T > Ts[1]:
                if good:
                    worth_rows.append(r)
                if r["converged"]:
                    pred = extrapolate_iterations(short["iterations"], long["iterations"], Ts[1],
                                                  T)[1]
                    ratios.append(pred / r["iterations"])
    ratios = np.asarray(ratios)
    return {"probe_T": Ts[:2], "n": int(ratios.size),
            "median_ratio": float(np.median(ratios)) if ratios.size else None,
            "within_2": float(np.mean((ratios >= 0.5) & (ratios <= 2))) if ratios.size else None,
            "worthwhile_networks": worth,
            "worthwhile_converged": sum(r["converged"] for r in worth_rows),
            "worthwhile_solves": len(worth_rows)}
