"""Figures and the headline, from ``hello.json``, ``ngram.json``, ``summary.json`` and
``samples.json`` only. A diverged cell (perplexity inf) is named in legends, not drawn."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from experiments.common import read_json, save_figure, write_index
from experiments.common.seeds import band, band_label
from experiments.common.stats import intervals_label

LABELS = {"elman": "Elman (tanh)", "lstm": "LSTM", "gru": "GRU"}
COLORS = {"elman": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}


def _label(name: str) -> str:
    return LABELS.get(name, name)


def _ppl(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "inf (diverged)"


def _ppl_ci(r: dict) -> str:
    """``mean [low, high]`` of an across-seeds perplexity."""
    if not all(math.isfinite(v) for v in (r["mean"], *r["ci"])):
        return f"{r['mean']:.3f} (a seed diverged)" if math.isfinite(r["mean"]) else "inf (diverged)"
    return f"{r['mean']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"


def _learned(cell: dict) -> np.ndarray:
    """Per seed: whether every target of "hello" got probability > 0.9."""
    return (np.asarray(cell["p_correct"]) > 0.9).all(axis=-1)


def hello_figure(hello: dict, path: Path) -> None:
    """The lecture's slide: the softmax at each step of "hello", the target outlined."""
    import matplotlib.pyplot as plt

    names = list(hello["cells"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.4), squeeze=False)
    vocab, inputs, targets = hello["vocab"], hello["inputs"], hello["targets"]
    for ax, name in zip(axes[0], names, strict=True):
        probs = np.asarray(hello["cells"][name]["probs"])
        ax.imshow(probs, cmap="Blues", vmin=0, vmax=1)
        for t in range(probs.shape[0]):
            for c in range(probs.shape[1]):
                ax.text(c, t, f"{probs[t, c]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if probs[t, c] > 0.6 else "black")
            ax.add_patch(plt.Rectangle((vocab.index(targets[t]) - 0.5, t - 0.5), 1, 1,
                                       fill=False, edgecolor="tab:orange", lw=2))
        ax.set_xticks(range(len(vocab)), list(vocab))
        ax.set_yticks(range(len(inputs)), [f"{inputs[:t + 1]!r} →" for t in range(len(inputs))])
        ax.set_xlabel("predicted next character")
        cell = hello["cells"][name]
        loss = cell["final_loss"]
        ax.set_title(f"{_label(name)}: learned by {_learned(cell).sum()}/{hello['seeds']} seeds\n"
                     f"loss {loss['mean']:.3f} [{loss['ci'][0]:.3f}, {loss['ci'][1]:.3f}] nats",
                     fontsize=9)
    axes[0][0].set_ylabel("input so far")
    what = intervals_label(c["final_loss"] for c in hello["cells"].values())
    fig.suptitle('"hello", vocabulary [h, e, l, o]: softmax at each step of seed 0 (orange: '
                 f'target); titles: mean loss over seeds [{what}]', fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def perplexity_figure(summary: dict, ngram: dict, path: Path) -> None:
    """Validation perplexity while training; test perplexity against the n-gram orders."""
    import matplotlib.pyplot as plt

    cells, best = summary["cells"], ngram["best"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, r in cells.items():
        curve = np.asarray(r["curve"], dtype=float)
        band(a1, curve[:, 0], curve[:, 1:], marker="o", ms=3, color=COLORS.get(name),
             label=f"{_label(name)} (test {_ppl_ci(r['test_perplexity'])})")
    a1.axhline(best["valid_perplexity"], color="k", ls="--",
               label=f"best n-gram, n = {best['order']} ({best['valid_perplexity']:.3f})")
    a1.set_xlabel("training step (updates)")
    a1.set_ylabel("validation perplexity (per character)")
    a1.set_yscale("log")
    _plain_ticks(a1)
    a1.set_title(f"learning curves (mean; {band_label(summary['seeds'])})", fontsize=10)
    a1.legend(fontsize=8)

    orders = [r["order"] for r in ngram["rows"]]
    test_ppl = [r["test_perplexity"] for r in ngram["rows"]]
    finite = {n: r["test_perplexity"] for n, r in cells.items()
              if all(math.isfinite(v) for v in (r["test_perplexity"]["mean"],
                                                *r["test_perplexity"]["ci"]))}
    zoom = a2.inset_axes([0.42, 0.42, 0.55, 0.4])
    for ax in (a2, zoom):
        ax.plot(orders, test_ppl, "ks-", label="n-gram")
        for name, r in finite.items():
            ax.axhline(r["mean"], color=COLORS.get(name), lw=2,
                       label=f"{_label(name)}, H = {cells[name]['hidden_size']}")
            ax.axhspan(*r["ci"], color=COLORS.get(name), alpha=0.2, lw=0)
    tail = [o for o in orders if o >= 4] or orders
    rnn = [v for r in finite.values() for v in (r["mean"], *r["ci"])]
    lo = min(rnn + test_ppl)
    hi = max([test_ppl[orders.index(tail[0])], *rnn])
    zoom.set_xlim(tail[0] - 0.3, tail[-1] + 0.3)
    zoom.set_ylim(lo - 0.05 * (hi - lo) - 0.01, hi + 0.05 * (hi - lo) + 0.01)
    zoom.set_title("zoom", fontsize=8)
    zoom.tick_params(labelsize=7)
    a2.set_xlabel("n-gram order n (context of n − 1 characters)")
    a2.set_ylabel("test perplexity (per character)")
    a2.set_yscale("log")
    _plain_ticks(a2)
    what = intervals_label(r["test_perplexity"] for r in cells.values())
    a2.set_title(f"recurrent networks (mean, band: {what}) vs n-grams,\ntest split", fontsize=10)
    zoom.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    save_figure(fig, path)


def samples_figure(samples: dict, path: Path) -> None:
    """Sampled text per cell and temperature."""
    import matplotlib.pyplot as plt

    rows = [(name, t, s) for name, per in samples.items() for t, s in per.items()]
    fig, ax = plt.subplots(figsize=(10, 0.9 + 1.05 * len(rows)))
    ax.axis("off")
    y = 1.0
    for name, temp, text in rows:
        wrapped = textwrap.fill(text.replace("\n", " ⏎ "), 100)
        ax.text(0, y, f"{_label(name)}, temperature {temp}:", fontsize=9, fontweight="bold",
                va="top", transform=ax.transAxes)
        ax.text(0, y - 0.04 / max(1, len(rows) / 6), wrapped, fontsize=8, family="monospace",
                va="top", transform=ax.transAxes)
        y -= 1.0 / len(rows)
    ax.set_title("samples of seed 0's models: the prompt, then each output fed back as the next "
                 "input (temperature 0: argmax)")
    save_figure(fig, path)


def headline(hello: dict, summary: dict, ngram: dict) -> str:
    """One sentence with the numbers that matter."""
    ranked = sorted(summary["cells"].items(), key=lambda kv: kv[1]["test_perplexity"]["mean"])
    parts = ", ".join(f"{_label(n)} {_ppl_ci(r['test_perplexity'])}" for n, r in ranked)
    best = ngram["best"]
    learned = sum(int(_learned(c).sum()) for c in hello["cells"].values())
    runs = len(hello["cells"]) * hello["seeds"]
    what = intervals_label(r["test_perplexity"] for r in summary["cells"].values())
    return (f"test perplexity per character, mean [{what}]: "
            f"{parts}; best n-gram (n = {best['order']}) {best['test_perplexity']:.3f}; "
            f"\"hello\" learned by {learned}/{runs} runs (cells × seeds; p > 0.9 at every step)")


def _plain_ticks(ax) -> None:
    """Log-scaled y axis labelled 1.7, 2, 3 rather than 2 x 10^0."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter(""))


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    hello, summary = read_json(workdir / "hello.json"), read_json(workdir / "summary.json")
    ngram, samples = read_json(workdir / "ngram.json"), read_json(workdir / "samples.json")
    hello_figure(hello, workdir / "hello.png")
    perplexity_figure(summary, ngram, workdir / "perplexity.png")
    samples_figure(samples, workdir / "samples.png")
    write_index(
        workdir, title="Character-level language models", headline=headline(hello, summary, ngram),
        figures=[("hello.png", "the lecture's [h, e, l, o] model: softmax outputs at each step"),
                 ("perplexity.png", "validation perplexity while training, and test perplexity "
                                    "against n-gram models of increasing order (mean over "
                                    "seeds, 95 % t-interval bands)"),
                 ("samples.png", "text sampled by feeding outputs back (temperature)")],
        tables=["summary.json", "ngram.json", "hello.json", "samples.json"],
    )


def readme_table(folder: Path) -> str:
    """Markdown: test perplexity of each cell and of the n-grams (for the README)."""
    summary, ngram = read_json(folder / "summary.json"), read_json(folder / "ngram.json")
    what = intervals_label(r["test_perplexity"] for r in summary["cells"].values())
    rows = [f"| model | test perplexity per character (mean [{what}]) | parameters |",
            "|---|---|---|"]
    rows += [f"| {_label(n)}, H = {r['hidden_size']} | {_ppl_ci(r['test_perplexity'])} | "
             f"{r['params']} |"
             for n, r in sorted(summary["cells"].items(),
                                key=lambda kv: kv[1]["test_perplexity"]["mean"])]
    best = ngram["best"]
    rows.append(f"| best n-gram (n = {best['order']}, chosen on validation) | "
                f"{best['test_perplexity']:.3f} | |")
    rows += [f"| unigram | {r['test_perplexity']:.3f} | |" for r in ngram["rows"] if r["order"] == 1]
    return "\n".join(rows)
