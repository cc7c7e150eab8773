"""Figures and the headline, from ``summary.json`` and ``curves.json`` only.

Exposure bias shows as the gap between the token accuracy with true (teacher-forced) previous
words and with the model's own (free-running) previous words.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import read_json, save_figure, write_index

LABELS = {"teacher": "trained with teacher forcing", "free": "trained free running",
          "scheduled": "scheduled sampling (p: 1 → 0)"}
COLORS = {"teacher": "tab:blue", "free": "tab:red", "scheduled": "tab:purple"}


def gap(curve: dict) -> list[float]:
    """Teacher-forced minus free-running token accuracy (points) at each evaluation."""
    return [100 * (a - b) for a, b in zip(curve["tf_token_acc"], curve["fr_token_acc"], strict=True)]


def exposure_bias(curves: dict, path: Path) -> None:
    """Accuracy per output position, true vs own previous words; early in training and at the end."""
    import matplotlib.pyplot as plt

    modes = list(curves)
    steps = curves[modes[0]]["step"]
    early = min(steps[1:] or steps, key=lambda s: abs(s - 0.2 * steps[-1]))  # ~1/5 of training
    fig, axes = plt.subplots(2, len(modes), figsize=(3.4 * len(modes), 5.6), sharey="row",
                             squeeze=False)
    for row, at in enumerate((early, steps[-1])):
        for ax, mode in zip(axes[row], modes, strict=True):
            c = curves[mode]
            i = c["step"].index(at)
            pos = np.arange(1, len(c["tf_by_pos"][i]) + 1)
            ax.plot(pos, [100 * a for a in c["tf_by_pos"][i]], "o-", color="tab:gray",
                    label="true previous words (teacher-forced)")
            ax.plot(pos, [100 * a for a in c["fr_by_pos"][i]], "s-", color=COLORS[mode],
                    label="own previous words (free running)")
            ax.set_title(f"{LABELS[mode]}, step {at}\nexact match "
                         f"{100 * c['exact_match'][i]:.1f} %", fontsize=8)
            ax.set_xticks(pos)
            if row == 1:
                ax.set_xlabel("output position (word)")
        axes[row, 0].set_ylabel("test token accuracy (%)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Exposure bias: accuracy along the sentence with true vs own previous words "
                 "(top: early in training, bottom: end)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def learning_curves(curves: dict, path: Path) -> None:
    """Exact match and the teacher-forced/free-running gap against the training step."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for mode, c in curves.items():
        axes[0].plot(c["step"], [100 * a for a in c["exact_match"]], color=COLORS[mode],
                     label=LABELS[mode])
        axes[1].plot(c["step"], gap(c), color=COLORS[mode], label=LABELS[mode])
    axes[0].set_ylabel("exact match, greedy decoding (%)")
    axes[1].set_ylabel("token accuracy gap (points)\nteacher-forced − free running")
    axes[1].axhline(0, color="k", lw=0.8)
    for ax in axes:
        ax.set_xlabel("training step")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def headline(summary: dict, curves: dict) -> str:
    """One sentence with the numbers that matter."""
    exact = ", ".join(f"{m} {100 * s['exact_match']:.1f} %" for m, s in summary["modes"].items())
    gaps = ", ".join(f"{m} {max(gap(c)):.1f}" for m, c in curves.items())
    return (f"exact match on held-out numbers (greedy decoding): {exact}; largest gap "
            f"teacher-forced − free-running token accuracy during training (points): {gaps}")


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    summary, curves = read_json(workdir / "summary.json"), read_json(workdir / "curves.json")
    exposure_bias(curves, workdir / "exposure_bias.png")
    learning_curves(curves, workdir / "curves.png")
    write_index(workdir, title="Translation: encoder–decoder, teacher forcing vs free running",
                headline=headline(summary, curves),
                figures=[("exposure_bias.png", "token accuracy per output position with true vs "
                          "own previous words, per training mode"),
                         ("curves.png", "exact match and the teacher-forced/free-running gap "
                          "through training")],
                tables=["summary.json", "curves.json", "examples.json"])
