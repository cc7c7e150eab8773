"""Figures of how the runs trained: the rate search per (task, T) and the fraction of seeds that
succeeded against training sequences seen, from ``summary.json`` only."""

from __future__ import annotations

import math
from pathlib import Path

from experiments.common import save_figure
from experiments.longrange.config import TASKS
from experiments.longrange.protocol import uncounted_failures
from experiments.longrange.style import (
    COLORS,
    INIT_LABELS,
    LABELS,
    TITLES,
    grid,
    in_order,
    legend,
    offsets,
    plain_log_y,
    uncounted_handle,
)
from experiments.longrange.summary import (
    by,
    loss_ratio,
    select,
    success_ci,
)

MAX_COLUMNS = 5  # (task, T) cells per row of the rate-search figure


def lr_sweep(rows, grids, path: Path) -> bool:
    """The rate search against the peak learning rate, one column per (task, T) (at most
    ``MAX_COLUMNS`` to a row): the fraction of tuning seeds that succeed (top panel, the
    criterion), and their median final loss / baseline (the panel below it, the tie-break when
    no rate succeeds); the chosen rate starred, a rate whose
    seeds were stopped once it could not be chosen marked by an open triangle (False: no data)."""
    tune = select(rows, ablation="tune")
    if not tune:
        return False
    cells = sorted({(r["task"], r["T"]) for r in tune}, key=lambda c: (TASKS.index(c[0]), c[1]))
    chosen = {(g["task"], g["T"], g["model"]): (g["lr"], g["recurrent_init"]) for g in grids}
    n = len(cells)
    ncols = min(n, MAX_COLUMNS)  # (task, T) columns, in blocks of two rows each
    blocks = -(-n // ncols)
    fig, flat, _ = grid(2 * blocks * ncols, width=3.6, height=2.7, ncols=ncols)
    used = []
    for i, (task, T) in enumerate(cells):
        top = 2 * (i // ncols) * ncols + i % ncols
        ax, loss_ax = flat[top], flat[top + ncols]
        _rate_panels(ax, loss_ax, select(tune, task=task, T=T, ablation="tune"), task, T, chosen)
        used += [ax, loss_ax]
        if i % ncols == 0:
            ax.set_ylabel("tuning seeds that succeed")
            loss_ax.set_ylabel("median final loss / baseline")
    empty = [ax for ax in flat if ax not in used]
    for ax in empty:
        ax.set_axis_off()
    from matplotlib.lines import Line2D
    legend(fig, used, empty[0] if empty else None, [
        Line2D([], [], color="k", marker="*", ls="", ms=9,
               label="chosen rate (most successes, then fastest, then lowest loss;\n"
                     "where no rate succeeded, the search repeated at the reported budget chose)"),
        Line2D([], [], color="k", marker="^", ls="", ms=6, mfc="none",
               label="stopped once it could not be chosen (a lower bound)")])
    budgets = sorted({r["budget"] for r in tune})
    fig.suptitle("rate search per task and T: tuning budgets "
                 f"{', '.join(map(str, budgets))} updates", fontsize=9)
    save_figure(fig, path)
    return True


def _rate_panels(ax, loss_ax, rs, task, T, chosen):
    """One (task, T) of :func:`lr_sweep`: success fraction and median loss per rate."""
    models = in_order(r["model"] for r in rs)
    offset = offsets([(m, i) for m in models for i in INIT_LABELS], 0.03)
    for (m, init), mrs in by(rs, "model", "recurrent_init").items():
        g = by(mrs, "lr")
        lrs = sorted(lr for (lr,) in g)
        xs = [lr * offset[(m, init)] for lr in lrs]
        kw = {"ls": "-" if init == "default" else "--", "color": COLORS[m], "marker": "o",
              "ms": 3}
        ys = [success_ci(g[(lr,)])[0] for lr in lrs]
        ax.plot(xs, ys, label=LABELS[m] + INIT_LABELS[init], **kw)
        cut = [(x, y) for x, y, lr in zip(xs, ys, lrs, strict=True)
               if any(r.get("pruned") for r in g[(lr,)])]
        if cut:  # stopped once it could not be chosen: the fraction is a lower bound
            ax.scatter(*zip(*cut, strict=True), marker="^", s=30, facecolors="none",
                       edgecolors=COLORS[m], linewidths=0.8, zorder=4)
        loss = [loss_ratio(g[(lr,)])[0] for lr in lrs]
        loss_ax.plot(xs, [min(x, 10.0) if math.isfinite(x) else 10.0 for x in loss], **kw)
        best = chosen.get((task, T, m))
        if best is not None and best[1] == init:
            x = best[0] * offset[(m, init)]
            ax.scatter([x], [success_ci(g[(best[0],)])[0]], marker="*", s=90, color=COLORS[m],
                       edgecolors="k", linewidths=0.5, zorder=5)
            y = loss_ratio(g[(best[0],)])[0]
            loss_ax.scatter([x], [min(y, 10.0) if math.isfinite(y) else 10.0], marker="*", s=90,
                            color=COLORS[m], edgecolors="k", linewidths=0.5, zorder=5)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"{TITLES[task].split(' (')[0]}, T = {T}", fontsize=8)
    loss_ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
    loss_ax.set_yscale("log")
    plain_log_y(loss_ax)
    for a in (ax, loss_ax):
        a.set_xscale("log")
        a.set_xlabel("peak learning rate")
        a.grid(alpha=0.3, which="both")


def success_vs_sequences(rows, grids, path: Path) -> bool:
    """Fraction of seeds that have succeeded against the training sequences seen (updates x
    batch size), one panel per (task, T), one line per model, each to its budget (False: no
    data); dashed where the cell's failures do not count yet (its verdict: *not tested*)."""
    main = select(rows)
    dashed = uncounted_failures(rows, grids)
    if not main:
        return False
    cells = sorted({(r["task"], r["T"]) for r in main}, key=lambda c: (TASKS.index(c[0]), c[1]))
    fig, panels, spare = grid(len(cells), width=3.4, height=2.8, sharey=True)
    for ax, (task, T) in zip(panels, cells, strict=True):
        for m, rs in by(select(main, task=task, T=T), "model").items():
            m = m[0]
            batch, budget = rs[0]["batch_size"], max(r["budget"] for r in rs)
            wins = sorted(r["steps_to_success"] for r in rs if r["success"])
            xs = [batch] + [w * batch for w in wins] + [budget * batch]  # from the first update
            ys = [0] + [(i + 1) / len(rs) for i in range(len(wins))] + [len(wins) / len(rs)]
            ax.step(xs, ys, where="post", color=COLORS[m], label=LABELS[m], lw=1.3,
                    ls="--" if (task, m, T) in dashed else "-")
        ax.set_xscale("log")
        ax.set_ylim(-0.04, 1.04)
        ax.set_title(f"{TITLES[task].split(' (')[0]}, T = {T}", fontsize=8)
        ax.set_xlabel("training sequences seen")
        ax.grid(alpha=0.3)
    for ax in panels[::3]:
        ax.set_ylabel("fraction of seeds succeeded")
    legend(fig, panels, spare, uncounted_handle(linestyle=True) if dashed else ())
    fig.suptitle(f"train to criterion: each line ends at its budget; success: {success_rule(rows)}",
                 fontsize=9)
    save_figure(fig, path)
    return True


def success_rule(rows) -> str:
    text = f"first evaluation with test loss <= {rows[0]['success_ratio']:g} x baseline"
    if any(r["task"] == "adding_hs97" for r in rows):
        text += " (1997 form: every test sequence within 0.04)"
    return text
