"""Figures and the headline, from ``summary.json`` and ``curves.json`` only.

Exposure bias shows as the gap between the token accuracy with true (teacher-forced) previous
words and with the model's own (free-running) previous words. Every number is the mean over
seeds with its 95 % Student-t interval (:func:`experiments.common.stats.mean_interval`); the
modes are ranked by mean exact match, and the ranking counts as resolved only when neighbouring
modes' intervals do not overlap.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from experiments.common import read_json, save_figure, write_index
from experiments.common.seeds import across_seeds, band, band_label
from experiments.common.stats import intervals_label

LABELS = {"teacher": "trained with teacher forcing", "free": "trained free running",
          "scheduled": "scheduled sampling (p: 1 → 0)"}
COLORS = {"teacher": "tab:blue", "free": "tab:red", "scheduled": "tab:purple"}


def gap(curve: dict) -> np.ndarray:
    """Teacher-forced minus free-running token accuracy (points): (evaluations, seeds)."""
    return 100 * (np.asarray(curve["tf_token_acc"]) - np.asarray(curve["fr_token_acc"]))


def exposure_bias(curves: dict, path: Path) -> None:
    """Accuracy per output position, true vs own previous words; early in training and at the end."""
    import matplotlib.pyplot as plt

    modes = list(curves)
    steps = curves[modes[0]]["step"]
    early = min(steps[1:] or steps, key=lambda s: abs(s - 0.2 * steps[-1]))  # ~1/5 of training
    n_seeds = np.shape(curves[modes[0]]["exact_match"])[1]
    fig, axes = plt.subplots(2, len(modes), figsize=(3.4 * len(modes), 5.8), sharey="row",
                             squeeze=False)
    for row, at in enumerate((early, steps[-1])):
        for ax, mode in zip(axes[row], modes, strict=True):
            c = curves[mode]
            i = c["step"].index(at)
            tf, fr = (np.asarray(c[k][i]).T for k in ("tf_by_pos", "fr_by_pos"))  # (pos, seeds)
            pos = np.arange(1, len(tf) + 1)
            band(ax, pos, tf, scale=100, marker="o", color="tab:gray", bounds=(0, 1),
                 label="true previous words (teacher-forced)")
            band(ax, pos, fr, scale=100, marker="s", color=COLORS[mode], bounds=(0, 1),
                 label="own previous words (free running)")
            em = across_seeds(c["exact_match"][i], bounds=(0, 1))
            ax.set_title(f"{LABELS[mode]}, step {at}\nexact match {100 * em['mean']:.1f} % "
                         f"[{100 * em['ci'][0]:.1f}, {100 * em['ci'][1]:.1f}]", fontsize=8)
            ax.set_xticks(pos)
            if row == 1:
                ax.set_xlabel("output position (word)")
        axes[row, 0].set_ylabel("test token accuracy (%)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Exposure bias: accuracy along the sentence with true vs own previous words "
                 f"(top: early in training, bottom: end)\nmean over seeds; "
                 f"{band_label(n_seeds, what='bands and [brackets]')}",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def learning_curves(summary: dict, curves: dict, path: Path) -> None:
    """Exact match and the teacher-forced/free-running gap against the training step, and the
    final exact match per mode with every seed."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), gridspec_kw={"width_ratios": [3, 3, 2]})
    for mode, c in curves.items():
        band(axes[0], c["step"], c["exact_match"], scale=100, color=COLORS[mode],
             label=LABELS[mode], bounds=(0, 1))
        band(axes[1], c["step"], gap(c), color=COLORS[mode], label=LABELS[mode])
    axes[0].set_ylabel("exact match, greedy decoding (%)")
    axes[1].set_ylabel("token accuracy gap (points)\nteacher-forced − free running")
    axes[1].axhline(0, color="k", lw=0.8)
    for ax in axes[:2]:
        ax.set_xlabel("training step")
    axes[0].legend(fontsize=7)
    ax = axes[2]
    for i, (mode, s) in enumerate(summary["modes"].items()):
        em = s["exact_match"]
        ax.errorbar([i], [100 * em["mean"]], yerr=[[100 * (em["mean"] - em["ci"][0])],
                                                   [100 * (em["ci"][1] - em["mean"])]],
                    fmt="o", color=COLORS[mode], capsize=4, ms=7)
        ax.plot([i] * len(em["per_seed"]), [100 * v for v in em["per_seed"]], ".", color="grey")
    ax.set_xticks(range(len(summary["modes"])), list(summary["modes"]))
    ax.set_xlim(-0.5, len(summary["modes"]) - 0.5)
    ax.set_xlabel("training mode")
    ax.set_ylabel("final exact match (%)")
    ax.set_title(f"dots: seeds; bars: {_what(summary)}", fontsize=8)
    fig.suptitle(f"mean over seeds; {band_label(summary['seeds'])}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def _what(summary: dict) -> str:
    """What the final exact matches' intervals are (``"95 % t-interval, 3 seeds"``)."""
    return intervals_label(s["exact_match"] for s in summary["modes"].values())


def ranking(summary: dict) -> tuple[list[str], bool]:
    """The modes by mean exact match (best first), and whether the 95 % intervals separate
    every neighbouring pair."""
    modes = summary["modes"]
    order = sorted(modes, key=lambda m: -modes[m]["exact_match"]["mean"])
    resolved = all(modes[a]["exact_match"]["ci"][0] > modes[b]["exact_match"]["ci"][1]
                   for a, b in itertools.pairwise(order))
    return order, resolved


def headline(summary: dict, curves: dict) -> str:
    """One sentence with the numbers that matter."""
    order, resolved = ranking(summary)
    modes = summary["modes"]

    def em(m):
        e = modes[m]["exact_match"]
        return f"{m} {100 * e['mean']:.1f} % [{100 * e['ci'][0]:.1f}, {100 * e['ci'][1]:.1f}]"

    verdict = ("resolved: the intervals do not overlap" if resolved else
               "not resolved: the intervals overlap")
    gaps = ", ".join(f"{m} {gap(c).mean(axis=1).max():.1f}" for m, c in curves.items())
    return (f"exact match on held-out numbers (greedy decoding, mean "
            f"[{_what(summary)}]): {'; '.join(em(m) for m in order)}; ranking "
            f"{' > '.join(order)} {verdict}; largest mean gap teacher-forced − free-running "
            f"token accuracy during training (points): {gaps}")


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    summary, curves = read_json(workdir / "summary.json"), read_json(workdir / "curves.json")
    exposure_bias(curves, workdir / "exposure_bias.png")
    learning_curves(summary, curves, workdir / "curves.png")
    write_index(workdir, title="Translation: encoder–decoder, teacher forcing vs free running",
                headline=headline(summary, curves),
                figures=[("exposure_bias.png", "token accuracy per output position with true vs "
                          "own previous words, per training mode (mean over seeds, 95 % t-interval bands)"),
                         ("curves.png", "exact match and the teacher-forced/free-running gap "
                          "through training, and the final exact match per mode and seed")],
                tables=["summary.json", "curves.json", "examples.json"])
