"""The figures, the headline and the README tables, from ``summary.json`` only (every statement
about the study that the README makes is generated here from the files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import UserError, read_json, save_figure, write_index
from experiments.parallel.fits import (
    FLOAT32_DIGITS,
    FORMS,
    bin_table,
    float32_failures,
    outlook_check,
    rank_correlation,
    verdict,
)

METHODS = {"deer": "DEER", "quasi_deer": "quasi-DEER", "elk": "ELK (fixed λ)",
           "quasi_elk": "quasi-ELK (fixed λ)", "elk_adaptive": "ELK (adaptive λ)"}


MIN_PER_BIN = 10
"""Networks per λ_max bin below which the verdict is not tested (too few for the bins' intervals
to separate λ_max < 0 from λ_max ≥ 0: a bin of 3 straddles 0)."""


def per_bin(summary: dict) -> int:
    return summary["networks_per_gain"]


def reference_dtype(summary: dict) -> str:
    return "float64" if "float64" in summary["dtypes"] else summary["dtypes"][0]


def method_counts(rows: list[dict], method: str, dtype: str) -> dict:
    sel = [r for r in rows if r["method"] == method and r["dtype"] == dtype]
    return {"n": len(sel), **{o: sum(r["outcome"] == o for r in sel)
                               for o in ("converged", "not_converged", "diverged")},
            "overflow_1": sum(r["overflow_1"] for r in sel)}


def trained_sentence(summary: dict) -> str:
    trained, rows = summary.get("trained"), summary.get("trained_rows", [])
    if not trained or not rows:
        return ""
    T = max(r["T"] for r in rows)
    parts = []
    for cell in dict.fromkeys(n["cell"] for n in trained["networks"]):
        nets = [n for n in trained["networks"] if n["cell"] == cell]
        sel = [r for r in rows if r["cell"] == cell and r["method"] == "deer"]
        its = [r["iterations"] for r in sel if r["T"] == T and r["converged"]]
        med = f"{np.median(its):.0f}" if its else "—"
        parts.append(f"{cell.upper()} (λ_max {min(n['lambda_max'] for n in nets):+.3f} to "
                     f"{max(n['lambda_max'] for n in nets):+.3f}) a median {med} DEER iterations "
                     f"at T = {T} ({sum(r['converged'] for r in sel)}/{len(sel)} solves converged)")
    return "; trained on the adding problem, " + " and ".join(parts)


def headline(summary: dict) -> str:
    if not summary["rows"]:
        return "No random network finished yet (see missing_parts in summary.json)"
    ref = reference_dtype(summary)
    bins = bin_table(summary, "deer", ref, per_bin(summary))
    v = verdict(bins)
    rho = rank_correlation(summary, "deer", ref)
    measured = {(r["gain"], r["network"]) for r in summary["rows"]}
    text = ""
    if summary["missing_parts"]:
        done = sorted({r["T"] for r in summary["rows"]})
        text = (f"Incomplete run ({len(summary['missing_parts'])} parts missing; solves at T = "
                f"{', '.join(map(str, done))} only, {len(measured)} of "
                f"{len(summary['gains']) * summary['networks_per_gain']} networks): ")
    counts = (f"{v['stable_sublinear']} of {v['stable_bins']} bins with λ_max < 0 converge in "
              f"every solve and grow sublinearly (exponent p of iterations ≈ c·T^p, 95 % "
              f"t-interval over the bin's networks, below 1), {v['chaotic_slow']} of "
              f"{v['chaotic_bins']} bins with λ_max ≥ 0 have a failed solve or an interval "
              f"reaching 1; ")
    claim = "\"iterations are governed by λ_max\""
    if len({r["T"] for r in summary["rows"]}) < 3:
        call = f"no verdict on {claim} (the fits need 3 lengths or more); "
    elif per_bin(summary) < MIN_PER_BIN:
        call = (f"{claim} not tested: bins of {per_bin(summary)} networks, fewer than the "
                f"{MIN_PER_BIN} the test needs (the full preset has them); as measured, " + counts)
    else:
        call = f"{claim} {'holds' if v['holds'] else 'fails'} — " + counts
    text += (f"Random tanh networks (H = {summary['hidden_size']}, {len(measured)} "
             f"networks in {len(bins)} λ_max bins of ≥ {per_bin(summary)}), DEER in {ref}: "
             + call
            + f"at T = {rho['T']} Spearman's ρ of iterations with λ_max is "
            f"{rho['lambda_max']:+.2f}, with the gain {rho['gain']:+.2f}")
    if "float32" in summary["dtypes"] and "float64" in summary["dtypes"]:
        f = float32_failures(summary)
        text += (f". float32: plain Newton's first step overflows in {f['overflow_1']} of "
                 f"{f['pairs']} solves, {f['overflow_1_converged']} of which converge with the "
                 f"overflow safeguard; {f['lost']} solves converge in float64 but not in float32 "
                 f"({f['lost_overflow_1']} of them with a first-step overflow, "
                 f"{f['lost_diverged']} diverged, {f['lost_chaotic']} on chaotic networks); "
                 f"losses the safeguard should have prevented (diverged, or λ_max ≤ 0): "
                 f"{f['remedy_failures']}")
        lo, hi = f["lambda_T_converged_max"], f["lambda_T_lost_min"]
        if lo is not None and hi is not None:
            text += (f"; on chaotic networks float32 converged up to λ_max·T = {lo:.1f} and was "
                     f"lost from {hi:.1f} on ({'separated' if lo < hi else 'overlapping'}; "
                     f"ln(1/u) = {FLOAT32_DIGITS:.1f}: past it no float32 digit of a Newton "
                     "step's scan is right)")
    if {"elk", "elk_adaptive"} <= set(summary["methods"]):
        fixed, adaptive = (method_counts(summary["rows"], m, ref) for m in ("elk", "elk_adaptive"))
        elk_T = summary.get("elk_lengths", summary["T"])
        where = "" if set(elk_T) >= set(summary["T"]) else f" (at T = {', '.join(map(str, elk_T))})"
        text += (f". ELK{where} converges in {adaptive['converged']}/{adaptive['n']} solves with the "
                 f"adaptive damping, {fixed['converged']}/{fixed['n']} with λ = "
                 f"{summary['damping']} fixed")
    o = outlook_check(summary, ref)
    if o and o["n"]:
        text += (f". newton_outlook's estimate of the {ref} DEER iterations from the solves at "
                 f"T = {o['probe_T'][0]} and {o['probe_T'][1]}, against the {o['n']} converged "
                 f"solves at longer T: median ratio predicted / measured {o['median_ratio']:.2f}, "
                 f"within a factor 2 in {100 * o['within_2']:.0f} %; it calls "
                 f"{o['worthwhile_networks']} networks worthwhile (λ_max < 0 and growth exponent "
                 f"< ½), whose longer solves converged in {o['worthwhile_converged']}/"
                 f"{o['worthwhile_solves']}")
    return text + trained_sentence(summary)


def _ci(lo, hi) -> str:
    return "" if not np.isfinite(lo) else f" [{lo:.0f}, {hi:.0f}]"


def readme_table(folder: Path) -> str:
    """Outcomes per method and dtype; per λ_max bin (DEER) the converged solves and median
    iterations per T with intervals and the best fitted form; the trained networks."""
    summary = read_json(Path(folder) / "summary.json")
    rows, T_max = summary["rows"], max(summary["T"])
    lines = [f"Outcomes of every random-network solve (T = {min(summary['T'])} … {T_max}, at most "
             f"min(T, {summary['max_iters']}) iterations; overflow at iteration 1: plain Newton's "
             "first step, without the safeguard, is not finite):", "",
             *([f"ELK runs at T = {', '.join(map(str, summary['elk_lengths']))} only.", ""]
               if set(summary.get("elk_lengths", summary["T"])) < set(summary["T"]) else []),
             "| method | dtype | converged | not converged | diverged | overflow at iteration 1 |",
             "|---|---|---|---|---|---|"]
    for m in summary["methods"]:
        for d in summary["dtypes"]:
            c = method_counts(rows, m, d)
            lines.append(f"| {METHODS[m]} | {d} | {c['converged']}/{c['n']} | "
                         f"{c['not_converged']} | {c['diverged']} | {c['overflow_1']} |")
    for d in summary["dtypes"]:
        bins = bin_table(summary, "deer", d, per_bin(summary))
        Ts = [t["T"] for t in bins[0]["per_T"]] if bins else []
        lines += ["", f"DEER, {d}, networks binned by λ_max: converged / solves and median "
                  "iterations of the converged [interval, its coverage in the JSON]; growth "
                  "exponent p of iterations ≈ c·T^p [95 % t-interval over the bin's networks]; "
                  "best form by AIC (ΔAIC to the runner-up; below 2 the forms are not told "
                  "apart):", "",
                  "| λ_max (median, range) | gains | " + " | ".join(f"T = {T}" for T in Ts)
                  + " | p | best form |", "|---|---|" + "---|" * len(Ts) + "---|---|"]
        for b in bins:
            cells = [f"{t['converged']}/{t['n']}: " + (f"{t['median']:.0f}"
                     + _ci(*t["median_ci"]) if t["converged"] else "—")
                     + (f", {t['overflow_1']} ovf" if t["overflow_1"] else "")
                     for t in b["per_T"]]
            fit = (f"{b['fit']['best']} ({b['fit']['runner_up_delta']:.1f})" if b["fit"] else "—")
            e = b.get("exponent")
            p = f"{e['p']:.2f} [{e['ci'][0]:.2f}, {e['ci'][1]:.2f}]" if e else "—"
            lo, hi = b["lambda_max_range"]
            lines.append(f"| {b['lambda_max']:+.3f} ({lo:+.3f} … {hi:+.3f}) | "
                         f"{', '.join(f'{g:g}' for g in b['gains'])} | " + " | ".join(cells)
                         + f" | {p} | {fit} |")
    trained = summary.get("trained_rows", [])
    if trained:
        info = summary["trained"]
        lines += ["", f"Trained on the adding problem (H = {info['hidden_size']}, T = "
                  f"{info['train_length']}, {info['steps']} Adam updates), float32: converged / "
                  "solves and median iterations of the converged:", "",
                  "| method | T | " + " | ".join(c.upper() for c in dict.fromkeys(
                      r["cell"] for r in trained)) + " |",
                  "|---|---|" + "---|" * len({r['cell'] for r in trained})]
        for m in summary["methods"]:
            for T in sorted({r["T"] for r in trained}):
                cells = []
                for c in dict.fromkeys(r["cell"] for r in trained):
                    sel = [r for r in trained if r["method"] == m and r["T"] == T
                           and r["cell"] == c]
                    ok = [r["iterations"] for r in sel if r["converged"]]
                    cells.append(f"{len(ok)}/{len(sel)}: "
                                 + (f"{np.median(ok):.0f}" if ok else "—"))
                lines.append(f"| {METHODS[m]} | {T} | " + " | ".join(cells) + " |")
    if summary["missing_parts"]:
        missing = summary["missing_parts"]
        lines += ["", f"Not yet computed: {len(missing)} networks ({', '.join(missing[:6])}"
                  f"{' …' if len(missing) > 6 else ''})."]
    return "\n".join(lines) + "\n"


def _log_y(ax) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def iterations_vs_lambda(summary: dict, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    dtypes = summary["dtypes"]
    lengths = sorted(summary["T"])
    colors = dict(zip(lengths, plt.cm.viridis(np.linspace(0, 0.9, len(lengths))), strict=True))
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6.5 * len(dtypes), 4.6), sharey=True,
                             squeeze=False)
    for ax, d in zip(axes[0], dtypes, strict=True):
        sel = [r for r in summary["rows"] if r["method"] == "deer" and r["dtype"] == d]
        for T, color in colors.items():
            at = [r for r in sel if r["T"] == T]
            ok = [r for r in at if r["converged"]]
            bad = [r for r in at if not r["converged"]]
            ax.plot([r["lambda_max"] for r in ok], [r["iterations"] for r in ok], "o",
                    color=color, ms=3.5, alpha=0.8)
            ax.plot([r["lambda_max"] for r in bad], [r["iterations"] for r in bad], "x",
                    color=color, ms=6)
        over = [r for r in sel if r["overflow_1"]]
        ax.plot([r["lambda_max"] for r in over], [max(r["iterations"], 1) for r in over], "s",
                mfc="none", mec="red", ms=8, mew=0.8)
        for b in bin_table(summary, "deer", d, per_bin(summary)):
            t = b["per_T"][-1]
            if t["converged"]:
                lo, hi = t["median_ci"]
                ax.errorbar([b["lambda_max"]], [t["median"]],
                            yerr=[[t["median"] - lo], [hi - t["median"]]],
                            xerr=[[b["lambda_max"] - b["lambda_max_ci"][0]],
                                  [b["lambda_max_ci"][1] - b["lambda_max"]]],
                            fmt="D", color="k", ms=5, capsize=2, zorder=5)
        ax.axvline(0, color="k", lw=0.8)
        _log_y(ax)
        ax.set_xlabel("λ_max (per step)")
        ax.set_title(f"DEER, {d} (with the overflow safeguard)", fontsize=9)
    axes[0][0].set_ylabel(f"iterations (x: not converged, at the cap min(T, "
                          f"{summary['max_iters']}))")
    handles = [Line2D([], [], color=c, marker="o", ls="", label=f"T = {T}")
               for T, c in colors.items()]
    handles += [Line2D([], [], color="gray", marker="x", ls="", label="not converged"),
                Line2D([], [], color="red", marker="s", mfc="none", ls="",
                       label="overflow at iteration 1 without the safeguard"),
                Line2D([], [], color="k", marker="D", ls="",
                       label=f"λ_max bin: median at T = {max(r['T'] for r in summary['rows'])} "
                             "(converged), intervals")]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=7.5,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"Newton iterations against λ_max: random tanh networks, H = "
                 f"{summary['hidden_size']}", fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    save_figure(fig, path)


def iterations_vs_T(summary: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    dtypes = summary["dtypes"]
    lengths = np.array(sorted(summary["T"]), float)
    grid = np.geomspace(lengths.min(), lengths.max(), 60)
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6.5 * len(dtypes), 4.6), sharey=True,
                             squeeze=False)
    for ax, d in zip(axes[0], dtypes, strict=True):
        bins = bin_table(summary, "deer", d, per_bin(summary))
        for i, b in enumerate(bins):
            color = plt.cm.plasma(0.85 * i / max(len(bins) - 1, 1))
            shift = 1 + 0.03 * (i - (len(bins) - 1) / 2)
            pts = [t for t in b["per_T"] if t["converged"]]
            Ts = np.array([t["T"] for t in pts], float) * shift
            med = np.array([t["median"] for t in pts])
            lo = np.array([t["median_ci"][0] for t in pts])
            hi = np.array([t["median_ci"][1] for t in pts])
            label = f"λ_max {b['lambda_max']:+.2f}"
            if b.get("exponent"):
                label += f", p = {b['exponent']['p']:.2f}"
            if b["fit"]:
                form = b["fit"]["best"]
                p = b["fit"]["forms"][form]
                ax.plot(grid, p["a"] + p["b"] * FORMS[form](grid), "--", color=color, lw=0.9)
                label += f": {form} (ΔAIC {b['fit']['runner_up_delta']:.1f})"
            failed = sum(t["n"] - t["converged"] for t in b["per_T"])
            if failed:
                label += f" ({failed} not conv.)"
            ax.errorbar(Ts, med, yerr=[med - lo, hi - med], fmt="o-", color=color, ms=3.5,
                        lw=1, capsize=2, label=label)
        ax.plot(grid, grid, ":", color="k", lw=0.8, label="T")
        ax.set_xscale("log")
        _log_y(ax)
        ax.set_xticks(lengths, [f"{T:g}" for T in lengths])
        ax.minorticks_off()
        ax.set_xlabel("sequence length T")
        ax.set_title(f"DEER, {d}: median iterations of the converged solves per λ_max bin\n"
                     "(bars: order-statistic intervals); dashed: the best form by AIC", fontsize=8)
        ax.legend(fontsize=6.5, loc="upper left")
    axes[0][0].set_ylabel("iterations to converge")
    fig.suptitle("Newton iterations against T: constant, ln T, (ln T)² or T?", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot(workdir: Path) -> None:
    path = Path(workdir) / "summary.json"
    if not path.exists():
        raise UserError(f"{path} not found: run the study first")
    summary = read_json(path)
    figures = []
    if summary["rows"]:
        iterations_vs_lambda(summary, Path(workdir) / "iterations_vs_lambda.png")
        iterations_vs_T(summary, Path(workdir) / "iterations_vs_T.png")
        figures = [("iterations_vs_lambda.png", "DEER iterations against λ_max per dtype and T, "
                    "with the first-step overflow category and λ_max-bin medians"),
                   ("iterations_vs_T.png", "DEER median iterations against T per λ_max bin, "
                    "with the best of the competing forms by AIC")]
    write_index(workdir, title="Parallel-in-time evaluation: Newton iterations against λ_max and T",
                headline=headline(summary), figures=figures, tables=["summary.json"])
