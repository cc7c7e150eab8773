"""Names, colours and axes shared by the long-range study's figures.

A run *diverged* when its final test loss is non-finite or above ``DIVERGED`` x baseline (the
rule of :mod:`experiments.longrange.summary`). The loss axes stop at that cap and such runs (or
medians) are drawn as upward triangles on the top edge (:func:`mark_diverged`), so a diverged run
neither stretches the axis nor disappears from the figure.
"""

from __future__ import annotations

import math

import numpy as np

from experiments.longrange.config import MODELS
from experiments.longrange.summary import DIVERGED

LABELS = {"elman": "Elman (tanh)", "irnn": "IRNN (ReLU, identity), Adam",
          "irnn_sgd": "IRNN, SGD (Le et al.)", "lstm_fb0": "LSTM, b_f = 0",
          "lstm_fb1": "LSTM, b_f = 1", "lstm_chrono": "LSTM, chrono init", "gru": "GRU",
          "lru": "LRU, one layer (linear in its inputs)", "mingru": "minGRU, one layer",
          "minlstm": "minLSTM, one layer", "lru_block": "LRU block (2 layers)",
          "mingru_block": "minGRU block (2 layers)", "minlstm_block": "minLSTM block (2 layers)",
          "urnn": "uRNN (unitary)"}
COLORS = {"elman": "tab:red", "irnn": "tab:orange", "irnn_sgd": "gold", "lstm_fb0": "tab:cyan",
          "lstm_fb1": "tab:blue", "lstm_chrono": "tab:purple", "gru": "tab:green",
          "lru": "tan", "mingru": "yellowgreen", "minlstm": "silver",
          "lru_block": "black", "mingru_block": "tab:olive", "minlstm_block": "tab:brown",
          "urnn": "tab:pink"}
# Panels of the success figure: models whose curves would otherwise sit on top of each other.
GROUPS = (("Elman and IRNN", ("elman", "irnn", "irnn_sgd")),
          ("LSTM and GRU", ("lstm_fb0", "lstm_fb1", "lstm_chrono", "gru")),
          ("linear recurrences", ("lru", "mingru", "minlstm", "lru_block", "mingru_block",
                                  "minlstm_block")),
          ("unitary", ("urnn",)))
ABLATION_LABELS = {"no_clip": ", no clipping", "late_full": ", adding_late, full BPTT"}


def ablation_label(model: str, ablation: str | None) -> str:
    """The legend / table label of a model's variant."""
    if ablation is None:
        return LABELS[model]
    if ablation.startswith("tbptt_late_k"):
        return LABELS[model] + f", adding_late, truncated BPTT (k = {ablation[12:]})"
    if ablation.startswith("tbptt_k"):
        return LABELS[model] + f", truncated BPTT (k = {ablation[7:]})"
    return LABELS[model] + ABLATION_LABELS.get(ablation, f", {ablation}")


INIT_LABELS = {"default": "", "gaussian": ", Gaussian W_h"}
TITLES = {"adding": "adding problem (MSE, baseline 1/6)",
          "adding_late": "adding, 2nd marker in [T/2, T - k) (baseline 1/6)",
          "adding_hs97": "adding problem, 1997 form (baseline 1/24)",
          "copy": "copy task (cross-entropy, baseline 10 log 8 / (T+20))"}
# copy: losses within 0.8-1.1, a linear axis
LOG_LOSS = {"adding": True, "adding_hs97": True, "copy": False, "adding_late": True}
DIVERGED_LABEL = f"diverged (non-finite or > {DIVERGED:g} x baseline)"


def diverged(x: float | None) -> bool:
    """Whether a loss / baseline (a run's, or a median: nan when every run was non-finite)
    counts as diverged."""
    return x is None or not math.isfinite(x) or x > DIVERGED


def offsets(models, step: float = 0.025) -> dict[str, float]:
    """Small multiplicative x offsets so that coinciding points of different models stay visible."""
    return {m: 1.0 + step * (i - (len(models) - 1) / 2) for i, m in enumerate(models)}


def in_order(models) -> list[str]:
    """The distinct ``models`` in the study's order."""
    present = set(models)
    return [m for m in MODELS if m in present]


def t_axis(ax, lengths):
    ax.set_xscale("log")
    ax.set_xticks(lengths, [str(t) for t in lengths])
    ax.minorticks_off()
    ax.set_xlim(min(lengths) / 1.25, max(lengths) * 1.25)
    ax.set_xlabel("sequence length T (time steps)")
    ax.grid(alpha=0.3, which="both")


def plain_log_y(ax):
    """Log y axis with plain-number ticks (1, 2, 5 per decade when the range is short; evenly
    spaced round numbers when it spans less than a factor 3, where a decade has one tick)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]) if hi / lo < 3
                               else LogLocator(base=10, subs=(1.0, 2.0, 5.0) if hi / lo < 1e3
                                               else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: ""))


def loss_y(ax, task: str):
    """The loss / baseline axis of ``task``: log (capped at ``DIVERGED``) or linear."""
    if LOG_LOSS.get(task, True):
        ax.set_yscale("log")
        ax.set_ylim(top=min(ax.get_ylim()[1], DIVERGED))
        plain_log_y(ax)
    else:
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, min(hi, DIVERGED))


def mark_diverged(ax, xs, colors, *, filled=True, size=40):
    """Upward triangles on the top edge of ``ax`` at ``xs`` (call after the y limits are set); a
    log axis is extended to the cap ``DIVERGED`` first."""
    if not len(xs):
        return
    if ax.get_yscale() == "log":  # the triangles sit at the cap itself
        ax.set_ylim(top=DIVERGED)
        plain_log_y(ax)
    top = ax.get_ylim()[1]
    ax.scatter(xs, [top] * len(xs), marker="^", s=size, clip_on=False, zorder=5,
               facecolors=colors if filled else "none", edgecolors=colors, linewidths=1.2)


def diverged_handles(partial: bool = False) -> list:
    """Legend entries for :func:`mark_diverged` (``partial``: the hollow some-runs marker too)."""
    from matplotlib.lines import Line2D

    out = [Line2D([], [], color="k", marker="^", ls="", label=DIVERGED_LABEL)]
    if partial:
        out.append(Line2D([], [], color="k", marker="^", mfc="none", ls="",
                          label="some of its runs diverged"))
    return out


def uncounted_handle(*, linestyle: bool) -> list:
    """The legend entry for a cell whose failures do not count yet (its verdict: *not tested*):
    a hollow marker, or (``linestyle``) a dashed line."""
    from matplotlib.lines import Line2D

    label = "not learning, its failures not counting yet (not tested)"
    if linestyle:
        return [Line2D([], [], color="k", ls="--", lw=1.3, label=label)]
    return [Line2D([], [], color="k", marker="o", mfc="white", ls="", label=label)]


def errorbar(ax, xs, stats, **kw):
    """Points ``(value, low, high[, level])`` with asymmetric error bars (none where the interval
    is nan)."""
    s = np.array([tuple(x)[:3] for x in stats], float).reshape(-1, 3)
    err = np.array([s[:, 0] - s[:, 1], s[:, 2] - s[:, 0]])
    kw = {"capsize": 3, "ms": 4, **kw}
    ax.errorbar(xs, s[:, 0], yerr=None if np.all(np.isnan(err)) else err, **kw)


def grid(n: int, *, width: float = 3.6, height: float = 3.0, ncols: int = 3, sharey=False):
    """A figure with ``n`` panels in rows of at most ``ncols``; returns ``(fig, panels, spare)``,
    ``spare`` an empty slot for the legend (None when the grid is full)."""
    import matplotlib.pyplot as plt

    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols + (0 if n % ncols else 1.8),
                                                    height * nrows),
                             squeeze=False, sharey=sharey, layout="constrained")
    flat = list(axes.flat)
    for ax in flat[n + 1:]:
        ax.set_axis_off()
    spare = flat[n] if n < len(flat) else None
    if spare is not None:
        spare.set_axis_off()
    return fig, flat[:n], spare


def legend(fig, panels, spare, extra=()):
    """One legend with every labelled artist of ``panels`` (once each) and ``extra`` handles: in
    the spare slot, or right of the last panel."""
    entries = {}
    for a in panels:
        for handle, label in zip(*a.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    for handle in extra:
        entries.setdefault(handle.get_label(), handle)
    kw = {"fontsize": 7, "frameon": True}
    if spare is not None:
        spare.legend(list(entries.values()), list(entries), loc="center", **kw)
    else:
        panels[-1].legend(list(entries.values()), list(entries), loc="upper left",
                          bbox_to_anchor=(1.02, 1.0), borderaxespad=0, **kw)
