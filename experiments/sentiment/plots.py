"""Figures and the headline, from ``summary.json`` and ``curves.json`` only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.common import read_json, save_figure, write_index

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
        accs = [100 * summary["models"][m]["accuracy"][k] for k in kinds]
        xs = np.arange(len(kinds)) + (j - (len(models) - 1) / 2) * width
        ax.bar(xs, accs, width, label=LABELS.get(m, m), color=COLORS.get(m))
    ax.axhline(50, color="k", ls="--", lw=1, label="chance (50 %)")
    ax.set_xticks(np.arange(len(kinds)), [f"{k}\n(n = {summary['n_test'][k]})" for k in kinds])
    ax.set_xlabel("review kind (n: test reviews)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Sentiment by review kind: only word order decides 'contrast' reviews")
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
            ax.plot(curves[m]["step"], [100 * a for a in curves[m][k]], label=LABELS.get(m, m),
                    color=COLORS.get(m))
        ax.axhline(50, color="k", ls="--", lw=1)
        ax.set_title(f"{k} reviews")
        ax.set_xlabel("training step")
        ax.set_ylim(0, 103)
    axes[0, 0].set_ylabel("test accuracy (%); dashed: chance")
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    save_figure(fig, path)


def headline(summary: dict) -> str:
    """One sentence: accuracy on the kind where only order decides (or the only kind)."""
    kinds, acc = summary["kinds"], {m: r["accuracy"] for m, r in summary["models"].items()}
    kind = "contrast" if "contrast" in kinds else kinds[0]
    rnn = [100 * a[kind] for m, a in acc.items() if not m.startswith("bow")]
    parts = []
    if rnn:
        span = f"{min(rnn):.1f} %" if min(rnn) == max(rnn) else f"{min(rnn):.1f}–{max(rnn):.1f} %"
        parts.append(f"{'every recurrent model' if len(rnn) > 1 else 'recurrent model'} {span}")
    parts += [f"{LABELS[m]} {100 * acc[m][kind]:.1f} %" for m in ("bow", "bow_linear") if m in acc]
    return f"accuracy on {kind} reviews: " + ", ".join(parts) + " (chance 50 %)"


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    summary, curves = read_json(workdir / "summary.json"), read_json(workdir / "curves.json")
    accuracy_by_kind_figure(summary, workdir / "accuracy_by_kind.png")
    curves_figure(summary, curves, workdir / "curves.png")
    write_index(workdir, title="Sentiment: order and negation (many-to-one)",
                headline=headline(summary),
                figures=[("accuracy_by_kind.png", "test accuracy per model and review kind; "
                          "dashed: chance"),
                         ("curves.png", "test accuracy through training, per review kind")],
                tables=["summary.json", "curves.json"]
                + (["examples.json"] if (workdir / "examples.json").exists() else []))


def readme_table(folder: Path) -> str:
    """Markdown: test accuracy (%) of each model per review kind (for the README)."""
    summary = read_json(folder / "summary.json")
    kinds = summary["kinds"]
    rows = ["| model | " + " | ".join(f"{k} (n = {summary['n_test'][k]})" for k in kinds) + " |",
            "|---|" + "---|" * len(kinds)]
    rows += [f"| {LABELS.get(m, m)} | " + " | ".join(f"{100 * r['accuracy'][k]:.1f} %" for k in kinds)
             + " |" for m, r in summary["models"].items()]
    return "\n".join(rows)
