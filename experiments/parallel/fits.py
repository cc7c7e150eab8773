"""Iterations against T and λ_max: competing fitted forms compared by AIC, λ_max bins with
intervals, and the verdict on "iterations are governed by λ_max"; from ``summary.json`` rows only.

Forms of ``iterations ≈ a + b·φ(T)``: ``constant`` (``b = 0``), ``ln T``, ``(ln T)²``
(Gonzalez et al. 2025, "Predictability enables parallelization of nonlinear state space
models": the theory's prediction where the dynamics contract) and ``T`` (Newton's worst case,
one exact step per iteration). Each is fitted by least squares to the converged solves of one
λ_max bin, and compared by the Gaussian AIC ``n ln(RSS/n) + 2k`` (``k`` the fitted parameters,
σ included: 2 for the constant, 3 otherwise; Akaike 1974); the form with the lowest AIC wins,
and a ΔAIC below 2 is reported as a tie.
"""

from __future__ import annotations

import math

import numpy as np

from experiments.common.stats import median_interval, wilson_interval

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


def bin_table(summary: dict, method: str, dtype: str, per_bin: int) -> list[dict]:
    """Per λ_max bin of the networks with solves: the λ_max median and interval, and per T the
    converged fraction (Wilson), the median iterations of the converged solves (order-statistic
    interval with its coverage), the solves whose plain first step overflowed; and the fitted
    forms over all T."""
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
                    "fit": fit_forms([r["T"] for r in conv], [r["iterations"] for r in conv])})
    return out


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties); nan for fewer than 3 points."""
    from scipy.stats import spearmanr

    if len(x) < 3:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def linear_rejected(fit: dict) -> bool:
    """The linear form ``T`` is worse than the best form by ΔAIC ≥ 2."""
    return bool(fit) and fit["forms"]["T"]["aic"] - fit["forms"][fit["best"]]["aic"] >= 2


def verdict(bins: list[dict]) -> dict:
    """"Iterations are governed by λ_max" holds when every bin with median λ_max < 0 converges
    in all its solves and rejects the linear form (a sublinear form better by ΔAIC ≥ 2), and
    every bin with median λ_max ≥ 0 has a failed solve or does not reject the linear form;
    the counts behind the call."""
    stable = [b for b in bins if b["lambda_max"] < 0]
    chaotic = [b for b in bins if b["lambda_max"] >= 0]
    good_stable = [b for b in stable if linear_rejected(b["fit"])
                   and all(t["converged"] == t["n"] for t in b["per_T"])]
    good_chaotic = [b for b in chaotic if not linear_rejected(b["fit"])
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
