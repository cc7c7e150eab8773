"""Figures and the headline, from ``summary.json`` and ``curves.json`` only.

Every point is the statistic of :mod:`experiments.longrange.summary`, as in the tables: the median
over seeds with its order-statistic interval, labelled with the coverage it reaches (success
fractions: Wilson 95 % intervals).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from experiments.common import UserError, read_json, save_figure, write_index
from experiments.longrange import held
from experiments.longrange.config import TASKS
from experiments.longrange.plan import SEARCH
from experiments.longrange.protocol import uncounted_failures
from experiments.longrange.report import readme_table
from experiments.longrange.style import (
    COLORS,
    DIVERGED_LABEL,
    GROUPS,
    LABELS,
    TITLES,
    ablation_label,
    diverged,
    diverged_handles,
    errorbar,
    grid,
    in_order,
    legend,
    loss_y,
    mark_diverged,
    offsets,
    plain_log_y,
    t_axis,
    uncounted_handle,
)
from experiments.longrange.summary import (
    by,
    learning_time,
    level_text,
    loss_ratio,
    median_ci,
    paired_with_ablations,
    select,
    success_ci,
)
from experiments.longrange.tasks import linear_floor
from experiments.longrange.training_plots import lr_sweep, success_rule, success_vs_sequences


def _seeds(rows) -> str:
    """``5 seeds``, or ``5 or 10 seeds per (model, T)`` when the cells differ (headline cells,
    and cells given more seeds where a verdict hinges)."""
    main = select(rows) or rows
    counts = sorted({len(rs) for rs in by(main, "task", "model", "T").values()})
    if len(counts) <= 1:
        return f"{counts[0] if counts else 0} seeds"
    return f"{', '.join(map(str, counts[:-1]))} or {counts[-1]} seeds per (model, T)"


def _ci(rows) -> str:
    counts = sorted({len(rs) for rs in by([r for r in rows if r["ablation"] not in SEARCH] or rows,
                                          "task", "model", "T", "ablation").values()})
    levels = ", ".join(f"{level_text(median_ci(range(n))[3])} with {n}" for n in counts)
    return f"median and order-statistic interval over {_seeds(rows)} (coverage {levels})"


def _tasks(rows) -> list[str]:
    return sorted({r["task"] for r in rows}, key=TASKS.index)


def _aligned(curves) -> tuple[list[int], np.ndarray]:
    """The runs' test loss / baseline on one axis of evaluations. Runs of one cell may come from
    two programs (its seeds added in stage ``more``) that stopped at different updates; a program
    stops at its budget or once all its runs have succeeded, each frozen from its success on, so
    a shorter curve holds its last value (:mod:`experiments.longrange.held`)."""
    steps = held.longest([c["steps"] for c in curves], "learning curves of one cell")
    rows = [held.hold_last([np.nan if v is None else v for v in c["loss_over_baseline"]], len(steps))
            for c in curves]
    return steps, np.array(rows, float)


def learning_curves(rows, curves, task: str, path: Path) -> None:
    """Test loss / baseline through training, one panel per T of ``task``: median line, min–max
    band over seeds (a run's non-finite evaluations left out)."""
    main = select(rows, task=task)
    lengths, models = sorted({r["T"] for r in main}), in_order(r["model"] for r in main)
    fig, panels, spare = grid(len(lengths), width=3.4, height=2.8, sharey=True)
    for ax, T in zip(panels, lengths, strict=True):
        for m in models:
            cs = [c for c in curves if c["task"] == task and c["T"] == T
                  and c["model"] == m and c["ablation"] is None]
            if not cs:
                continue
            steps, y = _aligned(cs)
            with warnings.catch_warnings():  # all-NaN columns: a run that diverged
                warnings.simplefilter("ignore", RuntimeWarning)
                ax.plot(steps, np.nanmedian(y, 0), color=COLORS[m], label=LABELS[m], lw=1.5)
                ax.fill_between(steps, np.nanmin(y, 0), np.nanmax(y, 0), color=COLORS[m],
                                alpha=0.15, lw=0)
        ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline (constant prediction)")
        ax.set_yscale("log")
        ax.set_ylim(top=min(ax.get_ylim()[1], 10.0))  # early transients of diverging runs
        plain_log_y(ax)
        ax.set_title(f"T = {T}", fontsize=9)
        ax.set_xlabel("training step (updates)")
        ax.grid(alpha=0.3, which="both")
    for ax in panels[::3]:
        ax.set_ylabel("test loss / baseline")
    legend(fig, panels, spare)
    fig.suptitle(f"{TITLES[task]}: median (line) and range (band) over seeds", fontsize=10)
    save_figure(fig, path)


def _versus_t_panel(ax, rows, task: str, stat: Callable, models, *, step=0.025):
    """``stat(rows of a model at a T)`` against T for every model of ``task``; returns the points
    ``(x, model, n_bad)`` that are not drawn (non-finite) and those with ``n_bad`` > 0 runs gone."""
    main = select(rows, task=task)
    lengths = sorted({r["T"] for r in main})
    groups, offset = by(main, "model", "T"), offsets(models, step)
    for m in models:
        pts = [(T, stat(groups[(m, T)])) for T in lengths if (m, T) in groups]
        pts = [(T, s) for T, s in pts if np.isfinite(s[0])]
        if pts:
            errorbar(ax, [T * offset[m] for T, _ in pts], [s for _, s in pts], marker="o",
                     color=COLORS[m], label=LABELS[m], capsize=2, elinewidth=1)
    t_axis(ax, lengths)
    return groups, offset, lengths


def loss_vs_t(rows, path: Path) -> None:
    """Median final loss / baseline against T, one panel per task (log y for the adding problem,
    linear for the copy task); diverged medians as triangles on the capped top edge."""
    tasks = _tasks(select(rows))
    fig, panels, spare = grid(len(tasks), width=4.6, height=3.4)
    drawn: set[bool] = set()  # True: a diverged median, False: a median with diverged runs
    for ax, task in zip(panels, tasks, strict=True):
        models = in_order(r["model"] for r in select(rows, task=task))

        def finite_median(rs):
            s = loss_ratio(rs)
            return (math.nan,) * 3 if diverged(s[0]) else s

        groups, offset, lengths = _versus_t_panel(ax, rows, task, finite_median, models)
        ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
        if task == "adding" and "lru" in models:
            ts = np.geomspace(min(lengths) / 1.25, max(lengths) * 1.25, 50)
            ax.plot(ts, [linear_floor(t) for t in ts], color=COLORS["lru"], ls=":", lw=1,
                    label="best linear predictor, 1 - 2/T (the one-layer LRU's floor)")
            floor = [(T * offset["lru"], rs[0]["linear_loss_over_baseline"])
                     for (m, T), rs in groups.items()
                     if m == "lru" and rs[0].get("linear_loss_over_baseline") is not None]
            if floor:
                ax.scatter(*zip(*floor, strict=True), marker="_", s=320, lw=2, zorder=4,
                           color=COLORS["lru"], label="the same on each T's test set")
        loss_y(ax, task)
        ax.set_ylabel("final test loss / baseline")
        ax.set_title(TITLES[task], fontsize=9)
        for filled in (True, False):
            pts = [(T * offset[m], COLORS[m]) for (m, T), rs in groups.items()
                   if diverged(loss_ratio(rs)[0]) == filled
                   and any(diverged(r["loss_over_baseline"]) for r in rs)]
            drawn |= {filled} if pts else set()
            mark_diverged(ax, [x for x, _ in pts], [c for _, c in pts], filled=filled)
    legend(fig, panels, spare, diverged_handles(False in drawn) if drawn else ())
    notes = ([f"▲ on the top edge: the median {DIVERGED_LABEL}"] if True in drawn else []) + (
        ["△: some of its runs diverged"] if False in drawn else [])
    fig.suptitle(f"final test loss / baseline: {_ci(rows)} (non-finite runs left out of the "
                 "median)" + (f"\n{'; '.join(notes)}" if notes else ""), fontsize=9)
    save_figure(fig, path)


def success_vs_t(rows, grids, path: Path) -> None:
    """Fraction of seeds that succeed against T with Wilson intervals: one panel per model group
    and task (a task where no seed ever succeeds gets one panel that says so). A cell whose
    failures do not count yet (:func:`~experiments.longrange.protocol.uncounted_failures`: its
    verdict reads *not tested*) is drawn hollow."""
    hollow = uncounted_failures(rows, grids)
    panels_spec = []
    for task in _tasks(select(rows)):
        main = select(rows, task=task)
        models = in_order(r["model"] for r in main)
        if not any(r["success"] for r in main):
            panels_spec.append((task, models, f"{TITLES[task].split(' (')[0]}: no seed succeeds "
                                              "at any T"))
            continue
        for name, members in GROUPS:
            ms = [m for m in models if m in members]
            if ms:
                panels_spec.append((task, ms, f"{TITLES[task].split(' (')[0]}: {name}"))
        rest = [m for m in models if not any(m in g for _, g in GROUPS)]
        if rest:
            panels_spec.append((task, rest, TITLES[task].split(" (")[0]))
    fig, panels, spare = grid(len(panels_spec), width=3.4, height=2.8)
    for ax, (task, models, title) in zip(panels, panels_spec, strict=True):
        groups, offset, _ = _versus_t_panel(ax, rows, task, success_ci, models, step=0.04)
        for (m, T), rs in groups.items():
            if m in models and (task, m, T) in hollow:
                ax.plot([T * offset[m]], [success_ci(rs)[0]], marker="o", ms=5, mfc="white",
                        mec=COLORS[m], mew=1.3, ls="", zorder=5)
        ax.set_ylim(-0.04, 1.04)
        ax.set_title(title, fontsize=9)
    for ax in panels[::3]:
        ax.set_ylabel("fraction of seeds that succeed")
    legend(fig, panels, spare, uncounted_handle(linestyle=False) if hollow else ())
    fig.suptitle(f"success: {success_rule(rows)}\n(fraction of {_seeds(rows)}, Wilson 95 % "
                 "interval)", fontsize=9)
    save_figure(fig, path)


def learning_time_vs_t(rows, path: Path) -> bool:
    """Updates to success against T, one panel per task where some seed succeeds (False: none)."""
    tasks = _tasks(select(rows))
    drawn = [t for t in tasks if any(r["success"] for r in select(rows, task=t))]
    if not drawn:
        return False
    budget = max(r["budget"] for r in select(rows))
    fig, panels, spare = grid(len(drawn), width=4.6, height=3.4)
    for ax, task in zip(panels, drawn, strict=True):
        _versus_t_panel(ax, rows, task, learning_time,
                        in_order(r["model"] for r in select(rows, task=task)))
        ax.axhline(budget, color="gray", ls=":", lw=1, label=f"largest budget ({budget} updates)")
        plain_log_y(ax)
        ax.set_ylabel("updates to success")
        ax.set_title(TITLES[task], fontsize=9)
    legend(fig, panels, spare)
    none = [t for t in tasks if t not in drawn]
    note = "".join(f"\n{TITLES[t].split(' (')[0]}: no seed succeeds at any T (no panel)"
                   for t in none)
    # the medians are over the seeds that succeed: the coverage is that of their number
    fig.suptitle(f"learning time: {_ci([r for r in select(rows) if r['success']])}, of those that "
                 f"succeed{note}", fontsize=9)
    save_figure(fig, path)
    return True


def ablations(rows, path: Path) -> bool:
    """Adding problem: forget-gate initialisations, clipping off and truncated BPTT against T,
    each ablation next to its model on the same seeds (False: no data)."""
    adding = paired_with_ablations([r for r in rows if r["task"] in ("adding", "adding_late")])
    abl = sorted({(r["model"], r["ablation"]) for r in adding
                  if r["ablation"] not in (None, *SEARCH)})
    present = in_order(r["model"] for r in select(adding))
    lstm_inits = [m for m in ("lstm_fb0", "lstm_fb1", "lstm_chrono") if m in present]
    if not abl and len(lstm_inits) < 2:
        return False
    variants = list(dict.fromkeys([(m, None) for m in lstm_inits] + [(m, None) for m, _ in abl]
                                  + abl))
    lengths = sorted({r["T"] for r in adding if (r["model"], r["ablation"]) in variants})
    offset = offsets(variants, 0.02)
    fig, panels, spare = grid(1, width=5.6, height=3.8)
    ax = panels[0]
    for m, a in variants:
        g = by([r for r in adding if r["model"] == m and r["ablation"] == a], "T")
        Ts = sorted(T for (T,) in g)
        style, marker = {None: ("-", "o"), "no_clip": ("--", "s"), "late_full": ("-.", "D")}.get(
            a, (":", "^" if str(a).startswith("tbptt_k") else "v"))
        label = ablation_label(m, a)
        errorbar(ax, [T * offset[(m, a)] for T in Ts], [loss_ratio(g[(T,)]) for T in Ts],
                 fmt=style, marker=marker, color=COLORS[m], label=label)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
    t_axis(ax, lengths)
    plain_log_y(ax)
    ax.set_ylabel("final test loss / baseline")
    ax.set_title(TITLES["adding"], fontsize=9)
    legend(fig, panels, spare)
    kinds = {a if a in (None, "no_clip", "late_full") else "tbptt" for _, a in variants}
    names = [text for k, text in ((None, "forget-gate initialisation (solid)"),
                                  ("no_clip", "no gradient clipping (dashed)"),
                                  ("late_full", "adding_late, full BPTT (dash-dot)"),
                                  ("tbptt", "truncated BPTT (dotted)")) if k in kinds]
    drawn = [r for r in adding if (r["model"], r["ablation"]) in variants]
    fig.suptitle(f"ablations: {', '.join(names)}\n({_ci(drawn)})", fontsize=9)
    save_figure(fig, path)
    return True


def dynamics(rows, path: Path) -> bool:
    """Final loss / baseline against log ||dh_T/dh_0|| at initialisation, every main run;
    diverged runs as triangles on the capped top edge."""
    from matplotlib.lines import Line2D

    main = [r for r in select(rows) if r["init_log_jacobian"] is not None]
    if not main:
        return False
    tasks = _tasks(main)
    lengths = sorted({r["T"] for r in main})
    markers = dict(zip(lengths, "osDvPX*p", strict=False))  # "^": diverged
    fig, panels, spare = grid(len(tasks), width=4.8, height=3.6)
    for ax, task in zip(panels, tasks, strict=True):
        bad = []
        for (m, T), rs in by(select(main, task=task), "model", "T").items():
            ok = [r for r in rs if not diverged(r["loss_over_baseline"])]
            bad += [(r["init_log_jacobian"], COLORS[m]) for r in rs if r not in ok]
            ax.scatter([r["init_log_jacobian"] for r in ok], [r["loss_over_baseline"] for r in ok],
                       color=COLORS[m], marker=markers.get(T, "o"), s=16, alpha=0.8)
        ax.axhline(1.0, color="k", ls="--", lw=1)
        loss_y(ax, task)
        count: dict[tuple, int] = {}
        for x, c in bad:  # coinciding runs (the IRNN's x is 0 at every T): one triangle, counted
            count[(round(x, 1), c)] = count.get((round(x, 1), c), 0) + 1
        mark_diverged(ax, [x for x, _ in count], [c for _, c in count])
        lines: dict[float, int] = {}  # models diverging at one x: one count line each
        for (x, c), n in count.items():
            k = lines[x] = lines.get(x, -1) + 1
            ax.annotate(f"{n} runs" if n > 1 else "1 run", (x, ax.get_ylim()[1]),
                        xytext=(-4, -6 - 9 * k),
                        textcoords="offset points", ha="right", va="top", fontsize=7, color=c,
                        bbox={"fc": "white", "ec": "none", "pad": 0.5})
        ax.set_xlabel(r"$\log\,\|\partial h_T/\partial h_0\|_2$ at initialisation (test sequence)")
        ax.set_ylabel("final test loss / baseline")
        ax.set_title(TITLES[task], fontsize=9)
        ax.grid(alpha=0.3, which="both")
    handles = ([Line2D([], [], color=COLORS[m], marker="o", ls="", label=LABELS[m])
                for m in in_order(r["model"] for r in main)]
               + [Line2D([], [], color="k", marker=markers[T], ls="", label=f"T = {T}")
                  for T in lengths]
               + [Line2D([], [], color="k", ls="--", label="baseline")]
               + (diverged_handles() if any(diverged(r["loss_over_baseline"]) for r in main)
                  else []))
    legend(fig, panels, spare, handles)
    note = (f"; ▲ on the top edge: {DIVERGED_LABEL}"
            if any(diverged(r["loss_over_baseline"]) for r in main) else "")
    fig.suptitle("trainability against the gradient path at initialisation: one point per run "
                 f"(model, T, seed){note}", fontsize=9)
    save_figure(fig, path)
    return True


def headline(rows, complete: bool) -> str:
    """Per T, the seeds of the LSTM (b_f = 1) and the Elman network (else of every model run)
    that succeed within the budget, and their median updates to success: the criterion the runs
    train to (a run stops at its first evaluation under the threshold, so a final loss says
    little once it succeeds)."""
    main = select(rows, task="adding") or select(rows)
    g = by(main, "model", "T")
    Ts = sorted({r["T"] for r in main})
    parts = []
    shown = [m for m in ("lstm_fb1", "elman") if m in {r["model"] for r in main}]
    for m in shown or in_order({r["model"] for r in main}):
        cells = []
        for T in (T for T in Ts if (m, T) in g):
            won = sum(bool(r["success"]) for r in g[(m, T)])
            cells.append(f"T={T}: {won}/{len(g[(m, T)])}"
                         + (f" in {learning_time(g[(m, T)])[0]:.0f}" if won else ""))
        if cells:
            parts.append(f"{LABELS[m]}: " + ", ".join(cells))
    note = "" if complete else " (partial sweep)"
    return (f"{main[0]['task']}: seeds that reach test loss <= {main[0]['success_ratio']:g} x "
            f"baseline within the budget, in a median of so many updates{note} — "
            + "; ".join(parts))


def plot(workdir: Path) -> None:
    """Every figure and ``index.json``."""
    summary = read_json(workdir / "summary.json")
    rows, curves = summary["rows"], read_json(workdir / "curves.json")
    shorter = summary.get("replaced", [])  # a cell's runs before a longer budget replaced them
    pending = summary.get("not_yet_run", [])
    if not rows and not pending:
        raise UserError(f"{workdir / 'summary.json'} has no rows: the sweep has not run yet")
    if not rows:
        write_index(workdir, title="LSTM versus Elman on long-range dependencies",
                    headline=f"No run of this protocol has finished yet: {len(pending)} (task, T, "
                             "model, variant) cells not yet run.", figures=[],
                    tables=["summary.json", "curves.json"])
        return
    figures = []
    for task in _tasks(select(rows)):
        learning_curves(rows, curves, task, workdir / f"curves_{task}.png")
        figures.append((f"curves_{task}.png", f"{task}: test loss / baseline through training, "
                                              "per T"))
    loss_vs_t(rows, workdir / "loss_vs_T.png")
    success_vs_t(rows, summary.get("grids", []), workdir / "success_vs_T.png")
    figures += [("loss_vs_T.png", "final test loss / baseline vs T (median and order-statistic "
                                  "interval over seeds, its coverage in the title; diverged runs "
                                  "on the top edge)"),
                ("success_vs_T.png", "fraction of seeds reaching success vs T (Wilson interval)")]
    if learning_time_vs_t(rows, workdir / "learning_time_vs_T.png"):
        figures.append(("learning_time_vs_T.png", "learning time (updates to success) vs T, "
                                                  "tasks where some seed succeeds"))
    if ablations(rows + shorter, workdir / "ablations.png"):
        figures.append(("ablations.png", "adding problem: forget-gate initialisation, "
                                         "clipping off and truncated BPTT, where run"))
    if success_vs_sequences(rows, summary.get("grids", []), workdir / "success_vs_sequences.png"):
        figures.append(("success_vs_sequences.png", "fraction of seeds that succeeded against "
                                                    "training sequences seen, per T"))
    if lr_sweep(rows, summary.get("grids", []), workdir / "lr_sweep.png"):
        figures.append(("lr_sweep.png", "rate search: tuning seeds that succeed per rate, "
                                        "chosen rate starred, per task and T"))
    if dynamics(rows, workdir / "dynamics.png"):
        figures.append(("dynamics.png", "final loss / baseline against log ||dh_T/dh_0|| at "
                                        "initialisation, every run"))
    write_index(workdir, title="LSTM versus Elman on long-range dependencies",
                headline=headline(rows, summary.get("complete", False)), figures=figures,
                tables=["summary.json", "curves.json"])


__all__ = ["plot", "readme_table"]
