"""Figures and the headline, from ``summary.json`` and ``curves.json`` only.

The statistic everywhere is the mean over seeds of each run's query accuracy averaged over its
last ``LAST_EVALS`` evaluations (less noisy than one endpoint), with its 95 % Student-t interval
over seeds (:func:`experiments.common.stats.mean_interval`; the range where a seed diverged).
TBPTT(k1, k2) can learn a lag-L dependency only when ``k2 >= L + k1 - 1``: the query falls
anywhere in a block of k1 steps, and the update at the block's end must reach back L steps from
the query's position.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from experiments.common import UserError, read_json, save_figure, write_index
from experiments.common.seeds import band, band_label
from experiments.common.stats import intervals_label, mean_interval

LAST_EVALS = 3


def final_accuracy(curves: dict, name: str) -> np.ndarray:
    """Per-seed accuracy averaged over the last ``LAST_EVALS`` evaluations of run ``name``."""
    acc = np.array([p["test_accuracy"] for p in curves[name]])  # (evals, seeds)
    return acc[-LAST_EVALS:].mean(axis=0)


def accuracy_interval(curves: dict, name: str) -> dict:
    """Mean over seeds of :func:`final_accuracy` with its 95 % t-interval, inside [0, 1]."""
    return mean_interval(final_accuracy(curves, name), bounds=(0, 1))


def threshold(summary: dict) -> int:
    """The smallest k2 at which TBPTT(k1, k2) can see the dependency: lag + k1 - 1."""
    return summary["lag"] + summary["k1"] - 1


def _runs(summary: dict, kind: str) -> list[tuple[int, str]]:
    key = "k2" if kind == "tbptt" else "k1"
    return sorted({(r[key], r["name"]) for r in summary["rows"] if r["kind"] == kind})


def accuracy_vs_k2(summary: dict, curves: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    lag, k1 = summary["lag"], summary["k1"]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    full = accuracy_interval(curves, "full")
    ax.axhspan(*full["ci"], color="tab:green", alpha=0.15)
    ax.axhline(full["mean"], color="tab:green", lw=2,
               label=f"full BPTT ({full['mean']:.0%}, band: {intervals_label([full])})")
    for runs, label, style in ((_runs(summary, "tbptt"), f"truncated BPTT (k1 = {k1}), x = k2", "o-"),
                               (_runs(summary, "reset"), "split and reset, x = chunk length", "s--")):
        if not runs:
            continue
        xs = [x for x, _ in runs]
        per_seed = [final_accuracy(curves, n) for _, n in runs]
        st = np.array([(m["mean"], *m["ci"]) for m in (accuracy_interval(curves, n) for _, n in runs)])
        ax.errorbar(xs, st[:, 0], yerr=[st[:, 0] - st[:, 1], st[:, 2] - st[:, 0]], fmt=style,
                    capsize=3, label=label)
        for x, a in zip(xs, per_seed, strict=True):
            ax.plot([x] * len(a), a, ".", color="grey", alpha=0.5, ms=4)
    ax.axvline(lag, color="k", ls=":", label=f"dependency length (lag = {lag})")
    ax.axvline(threshold(summary), color="tab:purple", ls="-.",
               label=f"TBPTT can learn it: k2 ≥ lag + k1 − 1 = {threshold(summary)}")
    ax.axhline(0.5, color="tab:red", ls="--", lw=1, label="chance (50 %)")
    ax.set_xlabel("steps backpropagated: k2 (TBPTT) or chunk length (split and reset)")
    ax.set_ylabel(f"query accuracy (mean of last {LAST_EVALS} evaluations)")
    ax.set_ylim(0.3, 1.03)
    ax.set_xticks(sorted({x for x, _ in _runs(summary, "tbptt") + _runs(summary, "reset")}))
    what = intervals_label(accuracy_interval(curves, n) for n in curves)
    ax.set_title(f"remember a bit for {lag} steps ({summary['cell'].upper()}; dots: seeds;\n"
                 f"bars: {what})", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save_figure(fig, path)


def learning_curves(summary: dict, curves: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    lag, tb, rs = summary["lag"], _runs(summary, "tbptt"), _runs(summary, "reset")
    short = [n for k2, n in tb if k2 < lag][-1:]
    long = [n for k2, n in tb if k2 >= threshold(summary)][:1]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for name in ["full", *short, *long, *[n for _, n in rs][-1:]]:
        x = [p["batch"] for p in curves[name]]
        band(ax, x, [p["test_loss"] for p in curves[name]], lw=2, label=_label(summary, name),
             bounds=(0, np.inf))
    ax.axhline(math.log(2), color="tab:red", ls="--", lw=1, label="chance (ln 2)")
    ax.set_xlabel("training batches seen (same sequences for every method)")
    ax.set_ylabel("test cross-entropy at the query (nats)")
    n_seeds = len(final_accuracy(curves, "full"))
    ax.set_title(f"learning curves (mean over seeds, {band_label(n_seeds)})", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save_figure(fig, path)


def headline(summary: dict, curves: dict) -> str:
    """One sentence with the numbers that matter."""
    def acc(name):
        m = accuracy_interval(curves, name)
        return f"{m['mean']:.0%} [{m['ci'][0]:.0%}, {m['ci'][1]:.0%}]"

    lag, tb, rs = summary["lag"], _runs(summary, "tbptt"), _runs(summary, "reset")
    parts = [f"full BPTT {acc('full')}"]
    below = [(k2, n) for k2, n in tb if k2 < lag]
    above = [(k2, n) for k2, n in tb if k2 >= threshold(summary)]
    if below:
        parts.append(f"TBPTT k2 = {below[-1][0]} < lag {acc(below[-1][1])}")
    if above:
        parts.append(f"TBPTT k2 = {above[0][0]} {acc(above[0][1])}")
    if rs:
        parts.append(f"split-and-reset k = {rs[-1][0]} {acc(rs[-1][1])}")
    what = intervals_label(accuracy_interval(curves, n) for n in curves)
    return (f"query accuracy, lag {lag} (chance 50 %), mean of the last {LAST_EVALS} evaluations "
            f"over seeds [{what}]; TBPTT learns it from k2 = lag + k1 − 1 = "
            f"{threshold(summary)}: " + "; ".join(parts))


def _label(summary: dict, name: str) -> str:
    r = next(r for r in summary["rows"] if r["name"] == name)
    if r["kind"] == "full":
        return "full BPTT"
    if r["kind"] == "tbptt":
        return f"TBPTT(k1 = {r['k1']}, k2 = {r['k2']})"
    return f"split and reset, chunks of {r['k1']}"


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    summary, curves = read_json(workdir / "summary.json"), read_json(workdir / "curves.json")
    if not summary["rows"]:
        raise UserError(f"{workdir / 'summary.json'} holds no runs")
    accuracy_vs_k2(summary, curves, workdir / "accuracy_vs_k2.png")
    learning_curves(summary, curves, workdir / "curves.png")
    write_index(
        workdir, title="Truncated BPTT versus full BPTT", headline=headline(summary, curves),
        figures=[("accuracy_vs_k2.png", "final accuracy against the number of steps "
                                        "backpropagated, with the learnability threshold"),
                 ("curves.png", "test loss while training for full BPTT, TBPTT shorter and "
                                "longer than the lag, and split-and-reset")],
        tables=["summary.json", "curves.json"],
    )
