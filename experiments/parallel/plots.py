"""The figures, the headline and the README tables, from ``summary.json`` only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import UserError, read_json, save_figure, write_index

METHODS = {"deer": "DEER (full Jacobian)", "quasi_deer": "quasi-DEER (diagonal)",
           "elk": "ELK (damped)", "quasi_elk": "quasi-ELK (diagonal, damped)"}
MARKERS = {"tanh": "o", "lstm": "s", "gru": "^", "elman": "D"}


def effective(row: dict) -> int:
    """Iterations of a solve, counting one that did not converge as ``T``."""
    return row["iterations"] if row["converged"] else row["T"]


def median_iterations(rows: list[dict], method: str, T: int, chaotic: bool) -> float:
    """Median iterations (T for a solve that did not converge) over networks on one side of λ_max = 0."""
    its = [effective(r) for r in rows
           if r["method"] == method and r["T"] == T and (r["lambda_max"] > 0) == chaotic]
    return float(np.median(its)) if its else float("nan")


def all_rows(summary: dict) -> list[dict]:
    """The random tanh networks' rows and the trained networks' rows."""
    return summary["rows"] + summary.get("trained_rows", [])


def log_squared_fit(rows: list[dict], method: str) -> float:
    """``c`` of ``iterations ≈ c·(ln T)²`` over the converged solves with λ_max < 0 (all cells),
    fitted in log space: ``ln c = mean(ln iterations − 2 ln ln T)``; NaN when there are none."""
    sel = [r for r in rows if r["method"] == method and r["converged"] and r["lambda_max"] < 0]
    if not sel:
        return float("nan")
    return float(np.exp(np.mean([np.log(r["iterations"]) - 2 * np.log(np.log(r["T"]))
                                 for r in sel])))


def trained_sentence(summary: dict) -> str:
    trained = summary.get("trained")
    if not trained:
        return ""
    rows, T = summary["trained_rows"], max(r["T"] for r in summary["trained_rows"])
    parts = []
    for cell in dict.fromkeys(n["cell"] for n in trained["networks"]):
        nets = [n for n in trained["networks"] if n["cell"] == cell]
        deer = [effective(r) for r in rows if r["cell"] == cell and r["method"] == "deer"
                and r["T"] == T]
        ok = sum(r["converged"] for r in rows if r["cell"] == cell and r["method"] == "deer")
        total = sum(1 for r in rows if r["cell"] == cell and r["method"] == "deer")
        parts.append(f"{cell.upper()} (test MSE {min(n['test_mse'] for n in nets):.3f}–"
                     f"{max(n['test_mse'] for n in nets):.3f}, λ_max "
                     f"{min(n['lambda_max'] for n in nets):+.3f} to "
                     f"{max(n['lambda_max'] for n in nets):+.3f}) needs a median "
                     f"{np.median(deer):.0f} DEER iterations at T = {T} ({ok}/{total} solves "
                     "converged)")
    return (f"; trained on the adding problem (baseline MSE {trained['baseline']:.3f}), "
            + " and ".join(parts))


def headline(summary: dict) -> str:
    rows = summary["rows"]
    T = max(r["T"] for r in rows)
    stable = median_iterations(rows, "deer", T, chaotic=False)
    chaos = median_iterations(rows, "deer", T, chaotic=True)
    failed = sum(not r["converged"] for r in rows if r["method"] == "deer" and r["lambda_max"] > 0)
    total = sum(1 for r in rows if r["method"] == "deer" and r["lambda_max"] > 0)
    if not total:
        text = f"At T = {T}, DEER needs a median {stable:.0f} iterations (no network was chaotic)"
    else:
        text = (f"Random tanh networks at T = {T}: DEER needs a median {stable:.0f} iterations "
                f"where λ_max < 0 and {chaos:.0f} where λ_max > 0 ({failed} of {total} chaotic "
                "solves at all T diverged or did not converge within T iterations)")
    return text + trained_sentence(summary)


def readme_table(folder: Path) -> str:
    """Median iterations (non-converged counted as T) and converged solves, per method, T and
    the sign of λ_max, for the random networks; per method and T for each trained cell; and the
    fitted ``c`` of ``c·(ln T)²``: the README's tables."""
    summary = read_json(Path(folder) / "summary.json")
    rows = summary["rows"]
    lines = ["| method | T | random tanh, λ_max < 0: median iterations (converged) | "
             "random tanh, λ_max > 0: median iterations (converged) |", "|---|---|---|---|"]
    for method, title in METHODS.items():
        for T in sorted({r["T"] for r in rows}):
            cells = []
            for chaotic in (False, True):
                sel = [r for r in rows if r["method"] == method and r["T"] == T
                       and (r["lambda_max"] > 0) == chaotic]
                ok = sum(r["converged"] for r in sel)
                med = median_iterations(rows, method, T, chaotic)
                cells.append(f"{med:.0f} ({ok}/{len(sel)})" if sel else "—")
            lines.append(f"| {title} | {T} | {cells[0]} | {cells[1]} |")
    trained = summary.get("trained_rows", [])
    if trained:
        cell_names = list(dict.fromkeys(r["cell"] for r in trained))
        info = summary["trained"]
        lines += ["", f"Trained on the adding problem (H = {info['hidden_size']}, T = "
                  f"{info['train_length']}, {info['steps']} Adam updates; median over networks, "
                  "non-converged counted as T):", "",
                  "| method | T | " + " | ".join(f"trained {c.upper()}: median iterations "
                                                  "(converged)" for c in cell_names) + " |",
                  "|---|---|" + "---|" * len(cell_names)]
        for method, title in METHODS.items():
            for T in sorted({r["T"] for r in trained}):
                cells = []
                for c in cell_names:
                    sel = [r for r in trained if r["method"] == method and r["T"] == T
                           and r["cell"] == c]
                    cells.append(f"{np.median([effective(r) for r in sel]):.0f} "
                                 f"({sum(r['converged'] for r in sel)}/{len(sel)})")
                lines.append(f"| {title} | {T} | " + " | ".join(cells) + " |")
        lines += ["", "| network | test MSE | λ_max |", "|---|---|---|"]
        lines += [f"| {n['cell'].upper()} seed {n['seed']} | {n['test_mse']:.4f} | "
                  f"{n['lambda_max']:+.4f} |" for n in info["networks"]]
    fits = ", ".join(f"{title.split(' (')[0]} {log_squared_fit(all_rows(summary), m):.2f}"
                     for m, title in METHODS.items())
    lines += ["", f"Fitted `c` of `iterations ≈ c·(ln T)²` (converged solves with λ_max < 0, all "
              f"cells, in log space): {fits}."]
    return "\n".join(lines) + "\n"


def _log_y(ax) -> None:
    """A log y axis labelled with plain numbers (3, 10, 30, ...)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _lengths_colors(rows):
    import matplotlib.pyplot as plt

    lengths = sorted({r["T"] for r in rows})
    return dict(zip(lengths, plt.cm.viridis(np.linspace(0, 0.85, len(lengths))), strict=True))


def _cell_label(summary: dict, cell: str) -> str:
    if cell == "tanh":
        return f"random tanh (H = {summary['hidden_size']})"
    return f"trained {cell.upper()} (H = {summary['trained']['hidden_size']})"


def iterations_vs_lambda(summary: dict, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    rows = all_rows(summary)
    colors = _lengths_colors(rows)
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    fig, axes = plt.subplots(1, len(METHODS), figsize=(14, 4.2), sharey=True)
    for ax, (method, title) in zip(axes, METHODS.items(), strict=True):
        for T, color in colors.items():
            for cell in cells:
                sel = [r for r in rows if r["method"] == method and r["T"] == T and r["cell"] == cell]
                ok = [r for r in sel if r["converged"]]
                bad = [r for r in sel if not r["converged"]]
                ax.plot([r["lambda_max"] for r in ok], [r["iterations"] for r in ok],
                        MARKERS[cell], color=color, ms=4.5, mfc="none" if cell != "tanh" else color)
                ax.plot([r["lambda_max"] for r in bad], [r["T"] for r in bad], "x", color=color,
                        ms=6)
            ax.axhline(T, color=color, lw=0.6, ls=":")
        ax.axvline(0, color="k", lw=0.8)
        _log_y(ax)
        ax.set_xlabel("λ_max (per step)")
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("iterations to converge\n(x: not converged, drawn at T; dotted: T)")
    handles = [Line2D([], [], color=c, marker="o", ls="", label=f"T = {T}") for T, c in colors.items()]
    handles += [Line2D([], [], color="gray", marker=MARKERS[c], ls="", mfc="none" if c != "tanh"
                       else "gray", label=_cell_label(summary, c)) for c in cells]
    handles.append(Line2D([], [], color="gray", marker="x", ls="", label="not converged"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               bbox_to_anchor=(0.5, -0.04))
    fig.suptitle(f"Newton iterations over the whole trajectory against λ_max: random tanh networks "
                 f"and trained LSTM/GRU (damping {summary['damping']}, tol {summary['tol']})",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    save_figure(fig, path)


def iterations_vs_T(summary: dict, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    rows = all_rows(summary)
    lengths = np.array(sorted({r["T"] for r in rows}))
    grid = np.geomspace(lengths.min(), lengths.max(), 50)
    groups = {"random tanh, λ_max < 0": ("C0", "o", lambda r: r["cell"] == "tanh" and r["lambda_max"] < 0),
              "random tanh, λ_max > 0": ("C3", "o", lambda r: r["cell"] == "tanh" and r["lambda_max"] > 0)}
    for cell in dict.fromkeys(r["cell"] for r in rows if r["cell"] != "tanh"):
        groups[f"trained {cell.upper()}"] = ("C2" if cell == "lstm" else "C4", MARKERS[cell],
                                             lambda r, cell=cell: r["cell"] == cell)
    fig, axes = plt.subplots(1, len(METHODS), figsize=(14, 4.2), sharey=True)
    for ax, (method, title) in zip(axes, METHODS.items(), strict=True):
        for i, (color, marker, pick) in enumerate(groups.values()):
            sel = [r for r in rows if r["method"] == method and pick(r)]
            if not sel:
                continue
            shift = 1 + 0.04 * (i - (len(groups) - 1) / 2)  # side by side at each T
            ok = [r for r in sel if r["converged"]]
            bad = [r for r in sel if not r["converged"]]
            ax.plot([r["T"] * shift for r in ok], [r["iterations"] for r in ok], marker, color=color,
                    ms=4, ls="", alpha=0.7)
            ax.plot([r["T"] * shift for r in bad], [r["T"] for r in bad], "x", color=color, ms=5)
            med = [np.median([effective(r) for r in sel if r["T"] == T]) for T in lengths]
            ax.plot(lengths * shift, med, "-", color=color, lw=1)
        ax.plot(grid, grid, ":", color="k", lw=0.8)
        c = log_squared_fit(rows, method)
        if np.isfinite(c):
            ax.plot(grid, c * np.log(grid) ** 2, "--", color="k", lw=1.2)
            ax.text(0.03, 0.97, f"c = {c:.2f}", transform=ax.transAxes, va="top", fontsize=8)
        ax.set_xscale("log")
        _log_y(ax)
        ax.set_xticks(lengths, [str(T) for T in lengths])
        ax.minorticks_off()
        ax.set_xlabel("sequence length T")
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("iterations to converge\n(x: not converged, drawn at T)")
    handles = [Line2D([], [], color=c, marker=m, ls="-", lw=1, label=f"{label} (line: median)")
               for label, (c, m, _) in groups.items()]
    handles += [Line2D([], [], color="k", ls="--", label="c·(ln T)², c fitted on the converged "
                       "λ_max < 0 solves (log space)"),
                Line2D([], [], color="k", ls=":", label="T (Newton is exact after T iterations)")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, -0.1))
    fig.suptitle("Newton iterations against the sequence length T: the theory predicts about "
                 "(log T)² where λ_max < 0", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    save_figure(fig, path)


def plot(workdir: Path) -> None:
    path = Path(workdir) / "summary.json"
    if not path.exists():
        raise UserError(f"{path} not found: run the study first")
    summary = read_json(path)
    iterations_vs_lambda(summary, Path(workdir) / "iterations_vs_lambda.png")
    iterations_vs_T(summary, Path(workdir) / "iterations_vs_T.png")
    write_index(workdir, title="Parallel-in-time evaluation: Newton iterations against λ_max and T",
                headline=headline(summary),
                figures=[("iterations_vs_lambda.png", "iterations to converge against λ_max, "
                          "per method, T and cell (random tanh, trained LSTM/GRU)"),
                         ("iterations_vs_T.png", "iterations to converge against T, with "
                          "c·(ln T)² fitted on the converged λ_max < 0 solves")],
                tables=["summary.json"])
