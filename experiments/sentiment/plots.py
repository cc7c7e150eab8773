"""Figures and the headline, from ``summary.json`` and ``curves.json`` only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import read_json, save_figure, write_index
from experiments.common.seeds import band, band_label
from experiments.common.stats import intervals_label

LABELS = {"bow_linear": "bag of words (linear)", "bow": "bag of words (MLP)",
          "elman": "Elman", "lstm": "LSTM", "gru": "GRU", "bilstm": "bidirectional LSTM",
          "stacked_lstm": "2-layer LSTM"}
COLORS = {"bow_linear": "0.75", "bow": "0.45", "elman": "tab:red", "lstm": "tab:blue",
          "gru": "tab:green", "bilstm": "tab:purple", "stacked_lstm": "tab:cyan"}


def accuracy_by_kind_figure(summary: dict, path: Path) -> None:
    """Final test accuracy per model, grouped by review kind."""
    import matplotlib.pyplot as plt

    kinds, models = summary["kinds"], list(summary["models"])
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    width = 0.8 / len(models)
    for j, m in enumerate(models):
        acc = [summary["models"][m]["accuracy"][k] for k in kinds]
        mean = np.array([100 * a["mean"] for a in acc])
        low, high = (np.array([100 * a["ci"][i] for a in acc]) for i in (0, 1))
        xs = np.arange(len(kinds)) + (j - (len(models) - 1) / 2) * width
        ax.bar(xs, mean, width, label=LABELS.get(m, m), color=COLORS.get(m),
               yerr=[mean - low, high - mean], capsize=2, error_kw={"lw": 1})
        for x, a in zip(xs, acc, strict=True):
            ax.plot([x] * len(a["per_seed"]), [100 * v for v in a["per_seed"]], ".", ms=3,
                    color="k")
    ax.axhline(50, color="k", ls="--", lw=1, label="chance (50 %)")
    ax.set_xticks(np.arange(len(kinds)), [f"{k}\n(n = {summary['n_test'][k]})" for k in kinds])
    ax.set_xlabel("review kind (n: test reviews)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Sentiment by review kind: only word order decides 'contrast' reviews\n"
                 f"mean; dots: seeds; bars: {_what(summary)}",
                 fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save_figure(fig, path)


def curves_figure(summary: dict, curves: dict, path: Path) -> None:
    """Test accuracy through training, one panel per review kind."""
    import matplotlib.pyplot as plt

    kinds, models = summary["kinds"], list(summary["models"])
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.2 * len(kinds) + 1.5, 3.0), sharey=True,
                             squeeze=False)
    for ax, k in zip(axes[0], kinds, strict=True):
        for m in models:
            band(ax, curves[m]["step"], curves[m][k], scale=100, label=LABELS.get(m, m),
                 color=COLORS.get(m), bounds=(0, 1))
        ax.axhline(50, color="k", ls="--", lw=1)
        ax.set_title(f"{k} reviews")
        ax.set_xlabel("training step")
        ax.set_ylim(0, 103)
    axes[0, 0].set_ylabel("test accuracy (%); dashed: chance")
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"mean over seeds; {band_label(summary['seeds'])}",
                 fontsize=9, y=1.02)
    save_figure(fig, path)


def headline(summary: dict) -> str:
    """One sentence: accuracy on the kind where only order decides (or the only kind)."""
    kinds, acc = summary["kinds"], {m: r["accuracy"] for m, r in summary["models"].items()}
    kind = "contrast" if "contrast" in kinds else kinds[0]
    recurrent = [m for m in acc if not m.startswith("bow")]
    rnn = {_pct(acc[m][kind]) for m in recurrent}
    parts = ([f"every recurrent model {rnn.pop()}"] if len(rnn) == 1 and len(recurrent) > 1 else
             [f"{LABELS.get(m, m)} {_pct(a[kind])}" for m, a in acc.items()
              if not m.startswith("bow")])
    parts += [f"{LABELS[m]} {_pct(acc[m][kind])}" for m in ("bow", "bow_linear") if m in acc]
    return (f"accuracy on {kind} reviews, mean [{_what(summary)}]: "
            + ", ".join(parts) + " (chance 50 %)")


def _what(summary: dict) -> str:
    """What the accuracies' intervals are (``"95 % t-interval, 3 seeds"``)."""
    return intervals_label(a for r in summary["models"].values() for a in r["accuracy"].values())


def _pct(s: dict) -> str:
    """``mean % [low, high]`` of an across-seeds summary."""
    return f"{100 * s['mean']:.1f} % [{100 * s['ci'][0]:.1f}, {100 * s['ci'][1]:.1f}]"


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    summary, curves = read_json(workdir / "summary.json"), read_json(workdir / "curves.json")
    accuracy_by_kind_figure(summary, workdir / "accuracy_by_kind.png")
    curves_figure(summary, curves, workdir / "curves.png")
    write_index(workdir, title="Sentiment: order and negation (many-to-one)",
                headline=headline(summary),
                figures=[("accuracy_by_kind.png", "test accuracy per model and review kind "
                          "(mean over seeds, 95 % t-interval, every seed); dashed: chance"),
                         ("curves.png", "test accuracy through training, per review kind "
                          "(mean over seeds, 95 % t-interval bands)")],
                tables=["summary.json", "curves.json"]
                + (["examples.json"] if (workdir / "examples.json").exists() else []))


def readme_table(folder: Path) -> str:
    """Markdown: test accuracy (%) of each model per review kind (for the README)."""
    summary = read_json(folder / "summary.json")
    kinds = summary["kinds"]
    rows = ["| model | " + " | ".join(f"{k} (n = {summary['n_test'][k]})" for k in kinds) + " |",
            "|---|" + "---|" * len(kinds)]
    rows += [f"| {LABELS.get(m, m)} | " + " | ".join(_pct(r["accuracy"][k]) for k in kinds)
             + " |" for m, r in summary["models"].items()]
    rows.append(f"\nMean test accuracy [{_what(summary)}].")
    return "\n".join(rows)
