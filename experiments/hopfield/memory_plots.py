"""Figures of the dense and modern memories (``dense.json``, ``modern.json``).

Theory curves come from :mod:`rnnjax.hopfield.theory`; success fractions carry 95 % Wilson
score intervals over their trials (:func:`experiments.common.stats.wilson_interval`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import save_figure
from experiments.common.stats import wilson_interval
from experiments.hopfield.modern_memory import mass_count_uniform
from rnnjax.hopfield import theory

FLOOR = 1e-8   # float32 resolution: smaller errors are drawn here on log axes
COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]


def wilson_band(fractions, trials) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper 95 % Wilson bounds of each fraction of ``trials`` (scalar or per point)."""
    trials = np.broadcast_to(np.asarray(trials), np.shape(fractions))
    bounds = [wilson_interval(int(round(f * n)), int(n))[1:] for f, n in zip(fractions, trials, strict=True)]
    low, high = np.array(bounds).T
    return low, high


def dense_theory(den: dict, name: str) -> float:
    """The asymptotic capacity of curve ``name``: Krotov–Hopfield for x^n, 2^(N/2) for exp."""
    if name.startswith("poly"):
        return float(theory.krotov_hopfield_capacity(den["N"], int(name[4:])))
    return float(theory.demircigil_capacity(den["N"]))


def dense_figure(den: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    ks, n, rho = den["K"], den["N"], den["flips"] / den["N"]
    for c, (name, cv) in zip(COLORS, den["curves"].items(), strict=False):
        label = f"$F = x^{name[4:]}$" if name.startswith("poly") else "$F = e^x$"
        for ax, key in zip(axes, ("fixed_fraction", "recall_fraction"), strict=True):
            ax.plot(ks, cv[key], "o-", ms=3, color=c, label=label)
            ax.fill_between(ks, *wilson_band(cv[key], cv["tested"]), color=c, alpha=0.12)
        axes[0].axvline(dense_theory(den, name), color=c, ls=":", lw=1)
        if name == "exp":
            axes[1].axvline(float(theory.demircigil_capacity(n, rho)), color=c, ls=":", lw=1)
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("stored patterns K")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of tested patterns that are fixed points")
    axes[1].set_ylabel(f"fraction recalled exactly in one update ({den['flips']} bits flipped)")
    axes[0].set_title(f"Dense associative memory, N = {n} units (bands: 95 % Wilson)\n"
                      "dotted: theory $K_{max}$ (Krotov–Hopfield; exp: $2^{N/2}$)", fontsize=10)
    axes[1].set_title(f"Recall from noisy cues\ndotted (exp): exp(N I(1−2ρ)/2), ρ = {rho:.2f} "
                      "(Demircigil et al.)", fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def dense_capacity_figure(den: dict, path: Path) -> None:
    """K_50 against N with its intervals: x^n log–log (left), e^x against N on a log axis
    (right), next to the theory of the measured criterion at the same N (dotted); each legend
    entry states the measured slope with its interval and the theory's slope that the verdict
    compares with it."""
    import matplotlib.pyplot as plt

    cvn = den["capacity_vs_n"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.3, 1]})
    for c, (name, cv) in zip(COLORS, cvn["curves"].items(), strict=False):
        ax = axes[1] if name == "exp" else axes[0]
        done = [r for r in cv["rows"] if r.get("capacity") is not None]
        label = "$e^x$" if name == "exp" else f"$x^{name[4:]}$"
        fit = cv["fit"]
        if fit is not None:
            lo, hi = fit["slope_ci"]
            label += (f": slope {fit['slope']:.3f} [{lo:.3f}, {hi:.3f}], theory "
                      f"{fit['theory_slope']:.3f} ({'yes' if fit['reproduced'] else 'no'})")
        if done:
            ns = np.array([r["N"] for r in done], float)
            k = np.array([r["capacity"] for r in done])
            err = np.abs(np.array([r["capacity_ci"] for r in done]).T - k)
            ax.errorbar(ns, k, yerr=err, fmt="o-", ms=4, color=c, capsize=3, label=label)
            ax.plot(ns, [r["theory_capacity"] for r in done], ":", color=c, lw=1.5)
        capped = [r["N"] for r in cv["rows"] if r["capped"]]
        if capped:
            ax.plot(capped, [cvn["max_patterns"]] * len(capped), "^", color=c, ms=7)
    axes[0].set_xscale("log", base=2)
    sizes = sorted({r["N"] for n, cv in cvn["curves"].items() if n != "exp" for r in cv["rows"]})
    axes[0].set_xticks(sizes, [str(n) for n in sizes])
    for ax, x in zip(axes, ("ln N", "N"), strict=True):
        ax.set_yscale("log", base=2)
        ax.set_xlabel("units N")
        ax.grid(alpha=0.3, which="both")
        ax.axhline(cvn["max_patterns"], color="gray", lw=0.8, ls="--")
        ax.legend(fontsize=7.5, loc="upper left", title_fontsize=7.5,
                  title=f"slope of ln K vs {x} [{cvn['level']:.0%}]; theory slope (verdict)")
    axes[0].set_ylabel(f"K_50: first min(K, {cvn['tests']}) patterns all stable\n"
                       f"in half of {cvn['networks']} networks ({cvn['level']:.0%} intervals)")
    fig.suptitle("Dense associative memories: capacity vs N (dotted: theory of the same "
                 "criterion from the crosstalk distribution; dashed: largest K tried, ▲ above "
                 "it)", fontsize=9.5)
    fig.tight_layout()
    save_figure(fig, path)


def modern_beta_figure(mod: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), sharey=True)
    betas, s = mod["beta"], mod["settings"]
    floor = lambda e: np.maximum(np.asarray(e), FLOOR)
    for ax, kind in zip(axes, ("noisy", "masked"), strict=True):
        for c, (n, r) in zip(COLORS, mod["retrieval"].items(), strict=False):
            ax.plot(betas, floor(r[kind]["error_one_step"]), "-", color=c,
                    label=f"N = {int(n):,}, one update")
            ax.plot(betas, floor(r[kind]["error_fixed_point"]), "--", color=c,
                    label=f"N = {int(n):,}, fixed point (ε = {s['eps']:g})")
        for c, (n, r) in zip(COLORS, mod["retrieval"].items(), strict=False):
            if "separation_min" not in r:
                continue
            delta = r["separation_min"]
            fine = np.geomspace(betas[0], betas[-1], 400)
            bound = theory.ramsauer_error_bound(delta, int(n), fine, 1.0)
            shown = (bound <= 10) & (bound >= FLOOR / 10)
            ax.plot(fine[shown], bound[shown], ":", color=c, lw=1.5,
                    label=f"N = {int(n):,}: Ramsauer Thm 5 bound 2e(N−1)e^(−βΔ), "
                          f"Δ = min Δ_i = {delta:.2f}")
            ax.axvline(theory.ramsauer_beta_threshold(delta, int(n)), color=c, lw=0.8,
                       ls="-.", alpha=0.7)
        ax.axhline(FLOOR, color="gray", lw=0.8, ls=":")
        ax.text(betas[0], FLOOR * 2, "errors below 1e-8 (float32) drawn at 1e-8", fontsize=7,
                color="gray")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(FLOOR / 10, 10)
        ax.set_xlabel("inverse temperature β")
        ax.grid(alpha=0.3, which="both")
        ax.set_title({"noisy": f"noisy queries (‖noise‖ = {s['noise']}, ‖x‖ = 1)",
                      "masked": "masked queries (half the coordinates zeroed)"}[kind])
    axes[0].set_ylabel("retrieval error ‖ξ − x‖ / ‖x‖")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=7)
    fig.suptitle(f"Modern Hopfield network, d = {mod['d']}: retrieval error vs β\n"
                 "dash-dot: β at which Δ ≥ 2/(βN) + ln(2(N−1)Nβ)/β (Ramsauer et al. 2021; the "
                 "bound holds for ‖ξ − x‖ ≤ 1/(2β), e.g. at the fixed point)", fontsize=9)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    save_figure(fig, path)


def regimes_figure(mod: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    reg = mod["regimes"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.plot(reg["beta"], reg["count_median"], "o-", ms=3, color="tab:blue", label="median")
    ax.fill_between(reg["beta"], reg["count_q10"], reg["count_q90"], color="tab:blue", alpha=0.2,
                    label="10–90 % of start patterns")
    mass = reg.get("mass", 0.9)
    share = f"{mass:.0%} of"
    for n, lab, c in ((reg["N"], f"global average: {share} N = {reg['N']} equal weights",
                       "tab:red"),
                      (reg["cluster_size"], f"metastable: {share} one cluster's "
                       f"{reg['cluster_size']}", "tab:green"),
                      (1, "single pattern", "black")):
        y = mass_count_uniform(n, mass)
        ax.axhline(y, ls=":", color=c, label=f"{lab} → {y}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("inverse temperature β")
    ax.set_ylabel(f"patterns carrying {mass:.0%} of the softmax mass")
    ax.set_title(f"Fixed points on clustered patterns ({reg['clusters']} clusters × "
                 f"{reg['cluster_size']}, d = {mod['d']})")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, path)


def capacity_dim_figure(mod: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    caps = mod["capacity"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ds = [c["d"] for c in caps]
    mc = [c["modern_capacity"] or 0.5 for c in caps]
    ax.plot(ds, mc, "o-", color="tab:blue",
            label=f"modern, one update (β = {mod['settings']['capacity_beta']})")
    for c, y in zip(caps, mc, strict=True):
        ax.annotate(f"{c['flips']} of {c['d']} flipped", (c["d"], y), textcoords="offset points",
                    xytext=(0, 7), ha="center", fontsize=7, color="tab:blue")
    capped = [c for c in caps if c["modern_capped"]]
    if capped:
        ax.plot([c["d"] for c in capped], [c["modern_capacity"] for c in capped], "^",
                color="tab:blue", ms=9, label="≥ (grid limit reached)")
    ax.plot(ds, [c["classical_capacity"] or 0.5 for c in caps], "s-", color="tab:red",
            label="classical, asynchronous run")
    dd = np.linspace(min(ds), max(ds), 50)
    ax.plot(dd, theory.ags_retrieval_branch().alpha_c * dd, ":", color="tab:red", label="0.138 d")
    ax.set_yscale("log", base=2)
    ax.set_ylim(top=ax.get_ylim()[1] * 4)
    ax.set_xlabel("pattern dimension d (units)")
    ax.set_ylabel(f"patterns stored (≥ 90 % of {mod['settings']['capacity_queries']} "
                  "cues recalled)")
    noise = sorted({round(c["flips"] / c["d"], 6) for c in caps})
    noise_text = " / ".join(f"{x:.0%}" for x in noise)
    ax.set_title(f"Capacity vs dimension: exponential vs linear\n(cues with exactly {noise_text} "
                 "of bits flipped; none: drawn at 0.5)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, path)
