"""Figures, the headline and the tables, from the saved ``<part>.json`` files only.

Theory curves come from :mod:`rnnjax.hopfield.theory`; success fractions carry 95 % Wilson
score intervals over their trials (:func:`experiments.common.stats.wilson_interval`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import read_json, save_figure, write_index, write_text
from experiments.common.seeds import band, band_label
from experiments.hopfield.memory_plots import (
    COLORS,
    capacity_dim_figure,
    dense_capacity_figure,
    dense_figure,
    modern_beta_figure,
    regimes_figure,
    wilson_band,
)
from experiments.hopfield.table import abs_diff, comparison_table, ratio_label, ratio_with_interval
from experiments.hopfield.table import readme_table as readme_table  # for experiments.readme
from rnnjax.hopfield import theory

PARTS = ("capacity", "perfect_recall", "dense", "modern", "theorem5", "attention",
         "attention_task")


def load(workdir: Path) -> dict:
    """Every saved part's result, by part name (parts not computed yet are left out)."""
    return {name: read_json(Path(workdir) / f"{name}.json") for name in PARTS
            if (Path(workdir) / f"{name}.json").exists()}


def _alpha_c() -> float:
    return theory.ags_retrieval_branch().alpha_c


def capacity_figure(cap: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    noises = list(cap["rows"][0]["noise"])
    trials = cap["trials"]
    per = f"{cap['settings']['networks']} networks × {cap['settings']['cues']} cues"
    ags = theory.ags_retrieval_branch()
    fig, axes = plt.subplots(2, len(noises), figsize=(4.2 * len(noises), 7), sharex=True,
                             squeeze=False)
    for j, nz in enumerate(noises):
        ax, bx = axes[0, j], axes[1, j]
        for c, row in zip(COLORS, cap["rows"], strict=False):
            d = row["noise"][nz]
            ax.plot(row["alpha"], d["overlap_mean"], "o-", ms=3, color=c, label=f"N = {row['N']}")
            bx.plot(row["alpha"], d["exact_fraction"], "o-", ms=3, color=c)
            low, high = wilson_band(d["exact_fraction"], trials)
            bx.fill_between(row["alpha"], low, high, color=c, alpha=0.1,
                            label=f"95 % Wilson interval ({per})" if c == COLORS[0]
                            else None)
        ax.plot(ags.alpha, ags.m, "-", color="black", lw=2.5, zorder=5,
                label="AGS m(α), N → ∞ (retrieval branch)")
        ax.plot([ags.alpha_c], [ags.m_c], "o", color="black", ms=6, zorder=5)
        ax.axvline(ags.alpha_c, color="gray", ls=":", label=f"α_c = {ags.alpha_c:.3f} (AGS)")
        bx.axvline(ags.alpha_c, color="gray", ls=":")
        for a in (ax, bx):
            a.grid(alpha=0.3)
        ax.set_title(f"cue: {float(nz):.0%} of bits flipped")
        ax.set_ylabel("mean final overlap m")
        bx.set_ylabel("fraction recalled exactly")
        bx.set_xlabel("load α = P / N")
        ax.set_ylim(0, 1.05)
        bx.set_ylim(-0.02, 1.02)
    handles = [h for a in (axes[0, 0], axes[1, 0]) for h in a.get_legend_handles_labels()[0]]
    labels = [lb for a in (axes[0, 0], axes[1, 0]) for lb in a.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=4)
    stop = ("until a sweep flips nothing" if "capped_runs" in cap
            else f"at most {cap['settings']['max_sweeps']} sweeps")
    fig.suptitle(f"Classical Hopfield network: recall of a stored pattern vs load "
                 f"(asynchronous updates, {stop})")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    save_figure(fig, path)


def _logistic(alpha, alpha_c, width):
    return 1 / (1 + np.exp((np.asarray(alpha) - alpha_c) / width))


def alpha_c_figure(cap: dict, path: Path) -> None:
    """Left: the retrieval probability against α per N (Wilson intervals) with the fitted
    logistic curves. Right: α_c(N) (profile-likelihood intervals) against N^(−ν̂), the fit
    α_∞ + b N^(−ν̂) with α_∞'s interval (ν free) and AGS's N → ∞ value."""
    import matplotlib.pyplot as plt

    thr = str(cap["thresholds"][0])
    level = f"{cap['level']:.0%}"
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.4))
    for c, (n, t) in zip(COLORS, cap["retrieval"].items(), strict=False):
        runs = np.array(t["runs"])
        frac = np.array(t["retrieved"][thr]) / runs
        low, high = wilson_band(frac, runs)
        ax.errorbar(t["alpha"], frac, yerr=[frac - low, high - frac], fmt="o", ms=3, color=c,
                    capsize=2, label=f"N = {n} ({runs[0]} networks per α)")
        cr = t["crossing"][thr]
        if cr["alpha_c"] is not None:
            aa = np.linspace(min(t["alpha"]), max(t["alpha"]), 100)
            ax.plot(aa, _logistic(aa, cr["alpha_c"], cr["width"]), "-", color=c, lw=1)
    ax.axvline(cap["ags"]["alpha_c"], color="black", ls=":", label="AGS α_c (N → ∞)")
    ax.axhline(0.5, color="gray", lw=0.8)
    ax.set_xlabel("load α = P / N")
    ax.set_ylabel(f"P(final overlap ≥ {thr}) from a stored pattern")
    ax.set_title(f"retrieval probability ({level} Wilson intervals) and logistic fits", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    ext = cap.get("alpha_c_extrapolated")
    ns = np.array([int(n) for n in cap["alpha_c"] if cap["alpha_c"][n] is not None], float)
    ac = np.array([cap["alpha_c"][str(int(n))] for n in ns])
    ci = np.array([[np.nan if v is None else v for v in cap["alpha_c_ci"][str(int(n))]]
                   for n in ns])
    nu = ext["nu"] if ext else 0.5
    x = ns ** -nu
    bx.errorbar(x, ac, yerr=[ac - ci[:, 0], ci[:, 1] - ac], fmt="o", color="tab:blue", capsize=3,
                label=f"α_c(N) ({level} profile likelihood)")
    for n, xi, yi in zip(ns, x, ac, strict=True):
        bx.annotate(f"N = {n:.0f}", (xi, yi), textcoords="offset points", xytext=(6, -10),
                    fontsize=7)
    if ext:
        lo, hi = ext["alpha_inf_ci"]
        xx = np.linspace(0, x.max() * 1.05, 50)
        bx.plot(xx, ext["alpha_inf"] + ext["b"] * xx, "-", color="tab:orange",
                label=f"α_∞ + b N^(−ν), ν = {nu:.2f} [{ext['nu_ci'][0]:.2f}, {ext['nu_ci'][1]:.2f}]")
        bx.errorbar([0], [ext["alpha_inf"]],
                    yerr=[[ext["alpha_inf"] - (lo if lo is not None else -1)],
                          [(hi if hi is not None else 1) - ext["alpha_inf"]]],
                    fmt="s", color="tab:orange", capsize=4,
                    label=f"α_∞ = {ext['alpha_inf']:.3f} [{_bound(lo)}, {_bound(hi)}] "
                          f"({level}, ν free)")
    bx.axhline(cap["ags"]["alpha_c"], color="black", ls=":",
               label=f"AGS α_c = {cap['ags']['alpha_c']:.3f}")
    bx.set_xlim(left=-0.02 * (x.max() if len(x) else 1))
    bx.set_ylim(min(0.1, *(ac - 0.01)), max(ac.max() + 0.01, 0.16) if len(ac) else 0.2)
    bx.set_xlabel(f"N^(−ν), ν = {nu:.2f} (the best fit)")
    bx.set_ylabel(f"α_c(N): retrieval probability 1/2 at overlap ≥ {thr}")
    bx.set_title(f"extrapolation to N → ∞; capped runs: {cap['capped_runs']}", fontsize=9)
    bx.legend(fontsize=7, loc="lower right")
    bx.grid(alpha=0.3)
    fig.suptitle("Classical network: the finite-size storage capacity and its N → ∞ limit")
    fig.tight_layout()
    save_figure(fig, path)


def _bound(v) -> str:
    return "open" if v is None else f"{v:.3f}"


def _log_axes_plain(ax) -> None:
    import matplotlib.ticker

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def perfect_recall_figure(pr: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ns = np.array([r["N"] for r in pr["rows"]], float)
    nn = np.geomspace(ns.min() * 0.8, ns.max() * 1.25, 50)
    crossed = all("crossing_one" in r for r in pr["rows"])
    for key, marker, c, what in (("one", "o", "tab:blue", "pattern 1"),
                                 ("all", "s", "tab:red", "every pattern")):
        if crossed:      # the crossing of 1/2 with its profile-likelihood interval
            cr = [r[f"crossing_{key}"] for r in pr["rows"]]
            y = np.array([np.nan if x["alpha_c"] is None else x["alpha_c"] for x in cr])
            ci = np.array([[np.nan if v is None else v for v in x["ci"]] for x in cr])
            ax.errorbar(ns, y, yerr=[y - ci[:, 0], ci[:, 1] - y], fmt=marker, color=c,
                        capsize=3, label=f"measured: {what} a fixed point, crossing of ½ "
                                         f"({cr[0]['level']:.0%} interval)")
        else:
            ax.plot(ns, [r[f"P_{key}"] for r in pr["rows"]], marker, color=c,
                    label=f"measured: {what} is a fixed point")
    ax.plot(nn, theory.mceliece_capacity(nn, every_pattern=False), "-", color="tab:blue", lw=1,
            label="N / (2 ln N) (McEliece et al., N → ∞)")
    ax.plot(nn, theory.mceliece_capacity(nn), "-", color="tab:red", lw=1,
            label="N / (4 ln N) (McEliece et al., N → ∞)")
    grid = np.unique(np.round(nn).astype(int))
    for every, c in ((False, "tab:blue"), (True, "tab:red")):
        ax.plot(grid, [theory.finite_n_crossing(int(n), every_pattern=every) for n in grid], "--",
                color=c, lw=1, label="finite N: P(" + ("every pattern" if every else "pattern 1")
                + " stable) = ½, binomial crosstalk")
    ax.plot(nn, _alpha_c() * nn, ":", color="gray", label="0.138 N (recall with a few % errors)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_axes_plain(ax)
    ax.set_xticks(ns, [f"{n:.0f}" for n in ns])
    yt = [t for t in (5, 10, 20, 50, 100, 200, 500) if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    ax.set_yticks(yt, [str(t) for t in yt])
    ax.set_xlabel("number of units N")
    ax.set_ylabel(f"patterns P where ½ of {pr['settings']['trials']} networks are stable")
    ax.set_title("Perfect-recall capacity of the classical network")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, path)


def attention_task_figure(task: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    labels = {"hopfield_pooling": "Hopfield pooling", "elman": "Elman (tanh)", "lstm": "LSTM"}
    colors = {"hopfield_pooling": "tab:green", "elman": "tab:red", "lstm": "tab:blue"}
    seeds = task["settings"].get("seeds", 1)
    for name, r in task["runs"].items():
        label = f"{labels[name]} ({r['parameters']:,} params)"
        if len(r.get("seeds", [])) < 2:
            ax.plot(r["steps"], r["test_loss"], "-", color=colors[name], label=label)
            continue
        band(ax, r["steps"], np.array([one["test_loss"] for one in r["seeds"]]).T, log=True,
             color=colors[name], label=label)
        for one in r["seeds"]:
            ax.plot(one["steps"], one["test_loss"], "-", color=colors[name], lw=0.5, alpha=0.4)
    ax.axhline(task["baseline"], color="black", ls="--", lw=1, label="baseline 1/6 (predict 1)")
    ax.set_yscale("log")
    ax.set_xlabel("training step (Adam, fresh batch each)")
    ax.set_ylabel(f"test MSE ({task['settings']['n_test']} fixed sequences)")
    ax.set_title(f"Adding problem, T = {task['T']}: geometric mean over seeds (thin: each seed;\n"
                 f"{band_label(seeds, log=True)})", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, path)


def headline(results: dict) -> str:
    """The sentence with the numbers that matter (of the parts computed so far)."""
    parts = []
    if "capacity" in results:
        cap = results["capacity"]
        if "retrieval" in cap:
            big = max(cap["alpha_c"], key=int)
            alpha_c = cap["alpha_c"][big]
            crossover = f"{alpha_c:.3f}" if alpha_c is not None else "not reached"
            ext = cap.get("alpha_c_extrapolated")
            inf = (f", α_∞ = {ext['alpha_inf']:.3f} [{_bound(ext['alpha_inf_ci'][0])}, "
                   f"{_bound(ext['alpha_inf_ci'][1])}]" if ext else "")
            parts.append(f"classical α_c = {crossover} at N = {big}{inf} (AGS {_alpha_c():.3f})")
        else:
            parts.append("classical α_c: not yet run under the retrieval-probability protocol")
    if "attention" in results:
        parts.append(f"attention identity to {abs_diff(results['attention']['max_abs_diff'])}")
    if "attention_task" in results:
        task = results["attention_task"]
        parts.append(f"adding T = {task['T']}, test MSE / baseline, mean "
                     f"[{ratio_label(task['runs'])}]: "
                     + ", ".join(f"{label} {ratio_with_interval(task['runs'][k])}"
                                 for k, label in (("hopfield_pooling", "Hopfield pooling"),
                                                  ("lstm", "LSTM"), ("elman", "Elman"))))
    missing = [p for p in PARTS if p not in results]
    if missing:
        parts.append(f"not computed yet: {', '.join(missing)}")
    return "; ".join(parts)


FIGURES = (
    ("capacity.png", "capacity", capacity_figure,
     "Classical network: overlap and exact recall vs load α, with the AGS overlap m(α)"),
    ("alpha_c.png", "capacity", alpha_c_figure,
     "Classical network: retrieval probability vs α, α_c(N) and α_∞ + b N^(−ν) (ν free), "
     "against AGS 0.138"),
    ("perfect_recall.png", "perfect_recall", perfect_recall_figure,
     "Perfect-recall capacity: measured, finite-N estimate, McEliece N/(2 ln N), N/(4 ln N)"),
    ("dense.png", "dense", dense_figure, "Dense associative memories: x^n and exp interaction"),
    ("dense_capacity.png", "dense", dense_capacity_figure,
     "Dense memories: K_50 vs N (the tested patterns all stable in half of the networks), "
     "with the theory of that criterion and the slopes the verdicts compare"),
    ("modern_beta.png", "modern", modern_beta_figure, "Modern Hopfield retrieval error vs β"),
    ("regimes.png", "modern", regimes_figure, "The three fixed-point regimes on clustered patterns"),
    ("capacity_dim.png", "modern", capacity_dim_figure, "Capacity vs dimension: modern vs classical"),
    ("attention_task.png", "attention_task", attention_task_figure,
     "Hopfield pooling vs Elman vs LSTM on the adding task"),
)


def plot(workdir: Path) -> None:
    """Every figure, ``lstm_vs_hopfield.md`` and ``index.json`` (of the parts saved so far: a
    preset still running can be drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    workdir = Path(workdir)
    results = load(workdir)
    figures = [(file, part, draw, caption) for file, part, draw, caption in FIGURES
               if part in results and (draw is not dense_capacity_figure
                                       or "tests" in results[part].get("capacity_vs_n", {}))
               and (draw is not alpha_c_figure or "retrieval" in results[part])]
    for file, part, draw, _ in figures:
        draw(results[part], workdir / file)
    tables = [f"{p}.json" for p in PARTS if p in results]
    if len(results) == len(PARTS):
        write_text(workdir / "lstm_vs_hopfield.md", comparison_table(results))
        tables.append("lstm_vs_hopfield.md")
    write_index(workdir, title="Hopfield networks and the attention equivalence",
                headline=headline(results),
                figures=[(file, caption) for file, _, _, caption in figures], tables=tables)
