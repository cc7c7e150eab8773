"""Figures and the headline, from ``summary.json`` and ``curves.json`` only.

Every point is the statistic of :mod:`experiments.longrange.summary`, as in the tables: the median
over seeds with its 95 % bootstrap interval (success fractions: Wilson intervals).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from experiments.common import UserError, read_json, save_figure, write_index
from experiments.longrange.config import MODELS, TASKS
from experiments.longrange.report import readme_table
from experiments.longrange.summary import (
    by,
    learning_time,
    loss_ratio,
    select,
    success_ci,
)

LABELS = {"elman": "Elman (tanh)", "irnn": "IRNN (ReLU, identity)", "lstm_fb0": "LSTM, b_f = 0",
          "lstm_fb1": "LSTM, b_f = 1", "lstm_chrono": "LSTM, chrono init", "gru": "GRU",
          "lru": "LRU", "mingru": "minGRU", "minlstm": "minLSTM"}
COLORS = {"elman": "tab:red", "irnn": "tab:orange", "lstm_fb0": "tab:cyan",
          "lstm_fb1": "tab:blue", "lstm_chrono": "tab:purple", "gru": "tab:green",
          "lru": "tab:brown", "mingru": "tab:olive", "minlstm": "tab:gray"}
INIT_LABELS = {"default": "", "gaussian": ", Gaussian W_h"}
TITLES = {"adding": "adding problem (MSE, baseline 1/6)",
          "adding_hs97": "adding problem, 1997 form (baseline 1/24)",
          "copy": "copy task (cross-entropy, baseline 10 log 8 / (T+20))"}


def _ci(rows) -> str:
    return f"median and 95 % bootstrap interval over {len({r['seed'] for r in rows})} seeds"


def _models(rows) -> list[str]:
    return [m for m in MODELS if any(r["model"] == m for r in select(rows))]


def _offsets(models) -> dict[str, float]:
    """Small horizontal offsets so that coinciding points of different models stay visible."""
    return {m: 1.0 + 0.025 * (i - (len(models) - 1) / 2) for i, m in enumerate(models)}


def _t_axis(ax, lengths):
    ax.set_xscale("log")
    ax.set_xticks(lengths, [str(t) for t in lengths])
    ax.minorticks_off()
    ax.set_xlim(min(lengths) / 1.25, max(lengths) * 1.25)
    ax.set_xlabel("sequence length T (time steps)")
    ax.grid(alpha=0.3, which="both")


def _plain_log_y(ax):
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if hi / lo < 1e3
                                          else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: ""))


def _legend_outside(ax):
    """One legend, right of ``ax``, with every labelled artist of the figure (once each)."""
    entries = {}
    for a in ax.figure.axes:
        for handle, label in zip(*a.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    ax.legend(list(entries.values()), list(entries), fontsize=7, loc="upper left",
              bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def _errorbar(ax, xs, stats, **kw):
    """Points ``(value, low, high)`` with asymmetric error bars (none where the interval is nan)."""
    s = np.array(stats, float).reshape(-1, 3)
    err = np.array([s[:, 0] - s[:, 1], s[:, 2] - s[:, 0]])
    ax.errorbar(xs, s[:, 0], yerr=None if np.all(np.isnan(err)) else err, capsize=3, ms=4, **kw)


def learning_curves(rows, curves, task: str, path: Path) -> None:
    """Test loss / baseline through training, one panel per T: median line, min–max band."""
    import matplotlib.pyplot as plt

    lengths, models = sorted({r["T"] for r in rows}), _models(rows)
    fig, axes = plt.subplots(1, len(lengths), figsize=(3.4 * len(lengths) + 1.8, 3.3),
                             sharey=True, squeeze=False, layout="constrained")
    for ax, T in zip(axes[0], lengths, strict=True):
        for m in models:
            cs = [c for c in curves if c["task"] == task and c["T"] == T
                  and c["model"] == m and c["ablation"] is None]
            if not cs:
                continue
            y = np.array([[np.nan if v is None else v for v in c["loss_over_baseline"]]
                          for c in cs], float)
            with warnings.catch_warnings():  # all-NaN columns: a run that diverged
                warnings.simplefilter("ignore", RuntimeWarning)
                ax.plot(cs[0]["steps"], np.nanmedian(y, 0), color=COLORS[m], label=LABELS[m], lw=1.5)
                ax.fill_between(cs[0]["steps"], np.nanmin(y, 0), np.nanmax(y, 0), color=COLORS[m],
                                alpha=0.15, lw=0)
        ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline (constant prediction)")
        ax.set_yscale("log")
        ax.set_ylim(top=min(ax.get_ylim()[1], 10.0))  # early transients of diverging runs
        ax.set_title(f"T = {T}", fontsize=10)
        ax.set_xlabel("training step (updates)")
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel("test loss / baseline")
    _legend_outside(axes[0, -1])
    fig.suptitle(f"{TITLES[task]}: median (line) and range (band) over seeds", fontsize=10)
    save_figure(fig, path)


def _versus_t(rows, stat: Callable, ylabel: str, title: str, path: Path, *, log_y=True,
              baseline=False, budget=None) -> None:
    """One panel per task: ``stat(rows of a model at a T)`` against T for every model."""
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows}, key=TASKS.index)
    lengths, models = sorted({r["T"] for r in rows}), _models(rows)
    offset = _offsets(models)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks) + 1.8, 3.6),
                             squeeze=False, layout="constrained")
    for ax, task in zip(axes[0], tasks, strict=True):
        groups = by(select(rows, task=task), "model", "T")
        for m in models:
            pts = [(T, stat(groups[(m, T)])) for T in lengths if (m, T) in groups]
            pts = [(T, s) for T, s in pts if np.isfinite(s[0])]
            if pts:
                _errorbar(ax, [T * offset[m] for T, _ in pts], [s for _, s in pts], marker="o",
                          color=COLORS[m], label=LABELS[m])
        if baseline:
            ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
        if budget:
            ax.axhline(budget, color="gray", ls=":", lw=1, label=f"budget ({budget} updates)")
        _t_axis(ax, lengths)
        if log_y:
            _plain_log_y(ax)
        ax.set_ylabel(ylabel)
        ax.set_title(TITLES[task], fontsize=9)
    _legend_outside(axes[0, -1])
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def loss_vs_t(rows, path: Path) -> None:
    _versus_t(rows, loss_ratio, "final test loss / baseline",
              f"final test loss / baseline: {_ci(rows)}\n(non-finite runs left out)", path, baseline=True)


def success_vs_t(rows, path: Path) -> None:
    _versus_t(rows, success_ci, "fraction of seeds that succeed",
              f"success: {success_rule(rows)}\n(fraction of {len({r['seed'] for r in rows})} seeds, "
              "Wilson 95 % interval)", path,
              log_y=False)


def learning_time_vs_t(rows, path: Path) -> None:
    _versus_t(rows, learning_time, "updates to success",
              f"learning time: {_ci(rows)}, of those that succeed", path,
              budget=max(r["steps"] for r in rows))


def ablations(rows, path: Path) -> bool:
    """Forget-gate initialisations, clipping off and truncated BPTT against T (False: no data)."""
    import matplotlib.pyplot as plt

    models = _models(rows)
    abl = sorted({(r["model"], r["ablation"]) for r in rows
                  if r["ablation"] not in (None, "tune")})
    lstm_inits = [m for m in ("lstm_fb0", "lstm_fb1", "lstm_chrono") if m in models]
    if not abl and len(lstm_inits) < 2:
        return False
    variants = list(dict.fromkeys([(m, None) for m in lstm_inits] + [(m, None) for m, _ in abl]
                                  + abl))
    tasks = sorted({r["task"] for r in rows}, key=TASKS.index)
    lengths, offset = sorted({r["T"] for r in rows}), _offsets(models)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks) + 2.6, 3.6),
                             squeeze=False, layout="constrained")
    for ax, task in zip(axes[0], tasks, strict=True):
        for m, a in variants:
            g = by(select(rows, task=task, ablation=a, model=m), "T")
            Ts = sorted(T for (T,) in g)
            if not Ts:
                continue
            style, marker = {None: ("-", "o"), "no_clip": ("--", "s")}.get(a, (":", "^"))
            label = LABELS[m] + ("" if a is None else {"no_clip": ", no clipping"}.get(
                a, f", truncated BPTT (k = {a.removeprefix('tbptt_k')})"))
            _errorbar(ax, [T * offset.get(m, 1.0) for T in Ts], [loss_ratio(g[(T,)]) for T in Ts],
                      fmt=style, marker=marker, color=COLORS[m], label=label)
        ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
        _t_axis(ax, lengths)
        _plain_log_y(ax)
        ax.set_ylabel("final test loss / baseline")
        ax.set_title(TITLES[task], fontsize=9)
    _legend_outside(axes[0, -1])
    fig.suptitle(f"ablations: forget-gate initialisation, gradient clipping, truncated BPTT\n({_ci(rows)})",
                 fontsize=9)
    save_figure(fig, path)
    return True


def lr_sweep(rows, path: Path) -> bool:
    """Final loss / baseline against the learning rate of each tuned model (False: no data)."""
    import matplotlib.pyplot as plt

    tune = select(rows, ablation="tune")
    if not tune:
        return False
    lengths = sorted({r["T"] for r in tune})
    fig, axes = plt.subplots(1, len(lengths), figsize=(4.2 * len(lengths) + 2.2, 3.4),
                             squeeze=False, sharey=True, layout="constrained")
    for ax, T in zip(axes[0], lengths, strict=True):
        for (m, init), rs in by(select(tune, T=T, ablation="tune"), "model", "recurrent_init").items():
            g = by(rs, "lr")
            lrs = sorted(lr for (lr,) in g)
            _errorbar(ax, lrs, [loss_ratio(g[(lr,)]) for lr in lrs], marker="o",
                      fmt="-" if init == "default" else "--", color=COLORS[m],
                      label=LABELS[m] + INIT_LABELS[init])
        ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(top=min(ax.get_ylim()[1], 10.0))  # intervals of runs that diverged
        _plain_log_y(ax)
        ax.set_xlabel("Adam peak learning rate")
        ax.set_title(f"adding problem, T = {T}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel("final test loss / baseline")
    _legend_outside(axes[0, -1])
    fig.suptitle(f"learning-rate sweep ({_ci(tune)}); the best setting of each model is used "
                 "at every T", fontsize=9)
    save_figure(fig, path)
    return True


def dynamics(rows, path: Path) -> bool:
    """Final loss / baseline against log ||dh_T/dh_0|| at initialisation, every main run."""
    import matplotlib.pyplot as plt

    main = [r for r in select(rows) if r["init_log_jacobian"] is not None
            and r["loss_over_baseline"] is not None]
    if not main:
        return False
    tasks = sorted({r["task"] for r in main}, key=TASKS.index)
    lengths = sorted({r["T"] for r in main})
    markers = dict(zip(lengths, "o^sDvP*X", strict=False))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.8 * len(tasks) + 2.4, 3.8),
                             squeeze=False, layout="constrained")
    for ax, task in zip(axes[0], tasks, strict=True):
        for (m, T), rs in by(select(main, task=task), "model", "T").items():
            ax.scatter([r["init_log_jacobian"] for r in rs], [r["loss_over_baseline"] for r in rs],
                       color=COLORS[m], marker=markers.get(T, "o"), s=16, alpha=0.8)
        ax.axhline(1.0, color="k", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel(r"$\log\,\|\partial h_T/\partial h_0\|_2$ at initialisation (test sequence)")
        ax.set_ylabel("final test loss / baseline")
        ax.set_title(TITLES[task], fontsize=9)
        ax.grid(alpha=0.3, which="both")
    from matplotlib.lines import Line2D
    handles = ([Line2D([], [], color=COLORS[m], marker="o", ls="", label=LABELS[m])
                for m in MODELS if any(r["model"] == m for r in main)]
               + [Line2D([], [], color="k", marker=markers[T], ls="", label=f"T = {T}")
                  for T in lengths]
               + [Line2D([], [], color="k", ls="--", label="baseline")])
    axes[0, -1].legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("trainability against the gradient path at initialisation: one point per run "
                 "(model, T, seed)", fontsize=9)
    save_figure(fig, path)
    return True


def success_rule(rows) -> str:
    text = f"first evaluation with test loss <= {rows[0]['success_ratio']:g} x baseline"
    if any(r["task"] == "adding_hs97" for r in rows):
        text += " (1997 form: every test sequence within 0.04)"
    return text


def headline(rows, complete: bool) -> str:
    """Median final test loss / baseline of the LSTM (b_f = 1) and the Elman network per T."""
    main = select(rows, task="adding") or select(rows)
    g = by(main, "model", "T")
    Ts = sorted({r["T"] for r in main})
    parts = []
    for m in ("lstm_fb1", "elman"):
        vals = [(T, loss_ratio(g[(m, T)])[0]) for T in Ts if (m, T) in g]
        if vals:
            parts.append(f"{LABELS[m]}: " + ", ".join(f"T={T}: {v:.3g}" for T, v in vals))
    note = "" if complete else " (partial sweep)"
    return (f"{main[0]['task']}: final test loss / baseline (median over seeds){note} — "
            + "; ".join(parts))


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    summary = read_json(workdir / "summary.json")
    rows, curves = summary["rows"], read_json(workdir / "curves.json")
    if not rows:
        raise UserError(f"{workdir / 'summary.json'} has no rows: the sweep has not run yet")
    figures = []
    for task in sorted({r["task"] for r in rows}, key=TASKS.index):
        learning_curves(rows, curves, task, workdir / f"curves_{task}.png")
        figures.append((f"curves_{task}.png", f"{task}: test loss / baseline through training, "
                                              "per T"))
    loss_vs_t(rows, workdir / "loss_vs_T.png")
    success_vs_t(rows, workdir / "success_vs_T.png")
    learning_time_vs_t(rows, workdir / "learning_time_vs_T.png")
    figures += [("loss_vs_T.png", "final test loss / baseline vs T (median, 95 % bootstrap "
                                  "interval over seeds)"),
                ("success_vs_T.png", "fraction of seeds reaching success vs T (Wilson interval)"),
                ("learning_time_vs_T.png", "learning time (updates to success) vs T")]
    if ablations(rows, workdir / "ablations.png"):
        figures.append(("ablations.png", "forget-gate initialisation, clipping off and "
                                         "truncated BPTT, where run"))
    if lr_sweep(rows, workdir / "lr_sweep.png"):
        figures.append(("lr_sweep.png", "learning-rate (and Elman init) sweep of the tuned models"))
    if dynamics(rows, workdir / "dynamics.png"):
        figures.append(("dynamics.png", "final loss / baseline against log ||dh_T/dh_0|| at "
                                        "initialisation, every run"))
    write_index(workdir, title="LSTM versus Elman on long-range dependencies",
                headline=headline(rows, summary.get("complete", False)), figures=figures,
                tables=["summary.json", "curves.json"])


__all__ = ["plot", "readme_table"]
