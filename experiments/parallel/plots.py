"""The figure and the headline, from ``summary.json`` only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import UserError, read_json, save_figure, write_index

METHODS = {"deer": "DEER (full Jacobian)", "quasi_deer": "quasi-DEER (diagonal)",
           "elk": "ELK (damped)", "quasi_elk": "quasi-ELK (diagonal, damped)"}


def median_iterations(rows: list[dict], method: str, T: int, chaotic: bool) -> float:
    """Median iterations (T for a solve that did not converge) over networks on one side of λ_max = 0."""
    its = [r["iterations"] if r["converged"] else r["T"] for r in rows
           if r["method"] == method and r["T"] == T and (r["lambda_max"] > 0) == chaotic]
    return float(np.median(its)) if its else float("nan")


def headline(summary: dict) -> str:
    rows = summary["rows"]
    T = max(r["T"] for r in rows)
    stable = median_iterations(rows, "deer", T, chaotic=False)
    chaos = median_iterations(rows, "deer", T, chaotic=True)
    failed = sum(not r["converged"] for r in rows if r["method"] == "deer" and r["lambda_max"] > 0)
    total = sum(1 for r in rows if r["method"] == "deer" and r["lambda_max"] > 0)
    if not total:
        return f"At T = {T}, DEER needs a median {stable:.0f} iterations (no network was chaotic)"
    return (f"At T = {T}, DEER needs a median {stable:.0f} iterations where λ_max < 0 and "
            f"{chaos:.0f} where λ_max > 0 ({failed} of {total} chaotic solves at all T diverged "
            f"or did not converge within T iterations)")


def readme_table(folder: Path) -> str:
    """Median iterations (non-converged counted as T) and converged solves, per method, T and
    the sign of λ_max: the README's table."""
    rows = read_json(Path(folder) / "summary.json")["rows"]
    lines = ["| method | T | λ_max < 0: median iterations (converged) | "
             "λ_max > 0: median iterations (converged) |", "|---|---|---|---|"]
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
    return "\n".join(lines) + "\n"


def iterations_vs_lambda(summary: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    rows = summary["rows"]
    lengths = sorted({r["T"] for r in rows})
    fig, axes = plt.subplots(1, len(METHODS), figsize=(13, 3.8), sharey=True)
    for ax, (method, title) in zip(axes, METHODS.items(), strict=True):
        for T, color in zip(lengths, plt.cm.viridis(np.linspace(0, 0.85, len(lengths))), strict=True):
            sel = [r for r in rows if r["method"] == method and r["T"] == T]
            ok = [r for r in sel if r["converged"]]
            bad = [r for r in sel if not r["converged"]]
            ax.plot([r["lambda_max"] for r in ok], [r["iterations"] for r in ok], "o", color=color,
                    ms=4, label=f"T = {T}")
            ax.plot([r["lambda_max"] for r in bad], [r["T"] for r in bad], "x", color=color, ms=6)
            ax.axhline(T, color=color, lw=0.6, ls=":")
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("λ_max (per step)")
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("iterations to converge (x: not converged, drawn at T)")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Newton over the trajectory of random tanh networks (H = {summary['hidden_size']}, "
                 f"damping {summary['damping']}, tol {summary['tol']})", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot(workdir: Path) -> None:
    path = Path(workdir) / "summary.json"
    if not path.exists():
        raise UserError(f"{path} not found: run the study first")
    summary = read_json(path)
    iterations_vs_lambda(summary, Path(workdir) / "iterations_vs_lambda.png")
    write_index(workdir, title="Parallel-in-time evaluation: Newton iterations against λ_max",
                headline=headline(summary),
                figures=[("iterations_vs_lambda.png", "iterations to converge against λ_max, "
                          "per method and T")], tables=["summary.json"])
