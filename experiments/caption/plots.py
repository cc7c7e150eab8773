"""Figures and the headline, from ``summary.json``, ``curves.json`` and ``samples.npz`` only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import UserError, read_json, save_figure, write_index
from experiments.common.seeds import band, band_label
from experiments.common.stats import intervals_label

CURVES = (("exact_match", "exact caption", "k"), ("count_accuracy", "object count", "tab:orange"),
          ("size", "size", "tab:green"), ("colour", "colour", "tab:red"),
          ("shape", "shape", "tab:blue"))


def captions(summary: dict, images: np.ndarray, path: Path) -> None:
    """Held-out images titled with their greedy captions (green: exact, red: wrong)."""
    import matplotlib.pyplot as plt

    examples = summary["examples"]
    cols = 3
    rows = -(-len(examples) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.25 * rows), squeeze=False)
    for ax, img, ex in zip(axes.flat, images, examples, strict=False):
        ax.imshow(img, interpolation="nearest")
        ok = ex["generated"] == ex["truth"]
        ax.set_title(("✓ " if ok else "✗ ") + ex["generated"].replace(" and ", " and\n"),
                     fontsize=7, color="darkgreen" if ok else "firebrick")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.flat[len(examples):]:
        ax.axis("off")
    em = summary["exact_match"]
    fig.suptitle(f"Greedy captions of held-out images by seed 0's model (exact match, mean "
                 f"{_pct(em)}, {intervals_label([em])}, on {summary['n_test']} images)",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def learning_curves(curves: dict, path: Path) -> None:
    """Training loss, and the test accuracies of greedy decoding, against the training step."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.5))
    steps = curves["step"]
    n_seeds = np.shape(curves["exact_match"])[1]
    band(axes[0], steps[1:], curves["loss"][1:], color="k", bounds=(0, np.inf))
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss (nats per word)")
    for key, label, colour in CURVES:
        band(axes[1], steps, curves[key], scale=100, color=colour, label=label, bounds=(0, 1))
    axes[1].set_ylabel("test accuracy, greedy decoding (%)")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("training step")
    fig.suptitle(f"mean over seeds; {band_label(n_seeds)}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def _pct(s: dict) -> str:
    """``mean % [low, high]`` of an across-seeds summary."""
    return f"{100 * s['mean']:.1f} % [{100 * s['ci'][0]:.1f}, {100 * s['ci'][1]:.1f}]"


def headline(summary: dict) -> str:
    """One sentence with the numbers that matter."""
    what = intervals_label(summary[k] for k in ("exact_match", "count_accuracy", "colour", "shape",
                                                "size"))
    return (f"exact-match captions on {summary['n_test']} held-out images, mean "
            f"[{what}]: {_pct(summary['exact_match'])} "
            f"(object count {_pct(summary['count_accuracy'])}, colour {_pct(summary['colour'])}, "
            f"shape {_pct(summary['shape'])}, size {_pct(summary['size'])})")


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    summary, curves = read_json(workdir / "summary.json"), read_json(workdir / "curves.json")
    if not (workdir / "samples.npz").exists():
        raise UserError(f"{workdir / 'samples.npz'} does not exist: run the experiment first")
    captions(summary, np.load(workdir / "samples.npz")["images"], workdir / "captions.png")
    learning_curves(curves, workdir / "curves.png")
    write_index(workdir, title="Captioning: CNN encoder into an LSTM decoder (one-to-many)",
                headline=headline(summary),
                figures=[("captions.png", "held-out images with their greedy captions"),
                         ("curves.png", "training loss and test accuracies through training "
                                         "(mean over seeds, 95 % t-interval bands)")],
                tables=["summary.json", "curves.json"])
