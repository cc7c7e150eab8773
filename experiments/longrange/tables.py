"""The long-range study's tables, computed from ``summary.json`` rows: final loss / baseline
and updates to success per T and model, the ablations, and the chosen rate per T (the medians
with their order-statistic intervals, :mod:`experiments.longrange.summary`)."""

from __future__ import annotations

import math

from experiments.longrange.config import MODELS
from experiments.longrange.floors import fmt as _fmt
from experiments.longrange.plan import SEARCH
from experiments.longrange.style import ablation_label
from experiments.longrange.summary import (
    by,
    learning_time,
    level_text,
    loss_ratio,
    median_ci,
    paired_with_ablations,
    select,
)

NONFINITE_LEGEND = {  # what a loss-table cell means, for the line under the table
    "all": "– (k/n non-finite): every run's final loss was non-finite, so there is no median",
    "some": "a number followed by (k/n non-finite): the median and interval of the other runs",
    "none": "– alone: not run"}


def _nonfinite(rows) -> int:
    return sum(r["loss_over_baseline"] is None for r in rows)


def _cell(rows) -> str:
    """``median [low, high]``, with ``(k/n non-finite)`` when k of the n runs have no final loss."""
    med, lo, hi, _ = loss_ratio(rows)
    k = _nonfinite(rows)
    note = f" ({k}/{len(rows)} non-finite)" if k else ""
    return ("–" if not math.isfinite(med) else f"{_fmt(med)} [{_fmt(lo)}, {_fmt(hi)}]") + note


def coverage(rows, task: str | None = None) -> str:
    """The coverage of the tables' median intervals: ``93.75 % with 5 seeds, ...``."""
    return _levels(len(rs) for rs in by(select(rows, task=task), "task", "model", "T").values())


def _levels(counts) -> str:
    return ", ".join(f"{level_text(median_ci(range(n))[3])} with {n} seeds" for n in sorted(set(counts)))


def loss_table(rows, task: str, labels: dict[str, str]) -> str:
    """Median final loss / baseline [order-statistic interval] per T (rows) and model (columns)."""
    main = select(rows, task=task)
    if not main:
        return ""
    models = [m for m in MODELS if any(r["model"] == m for r in main)]
    g = by(main, "T", "model")
    lengths = sorted({r["T"] for r in main})
    lines = ["| T | " + " | ".join(labels[m] for m in models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for T in lengths:
        lines.append(f"| {T} | " + " | ".join(_cell(g[(T, m)]) if (T, m) in g else "–"
                                               for m in models) + " |")
    return "\n".join(lines)


def learning_time_table(rows, task: str, labels: dict[str, str]) -> str:
    """Median updates to success over the seeds that succeed, with their count and the budget,
    per T and model: ``400 (2/3 in 5000)``; ``never (0/3 in 5000)`` when no seed succeeds."""
    main = select(rows, task=task)
    if not main:
        return ""
    models = [m for m in MODELS if any(r["model"] == m for r in main)]
    g = by(main, "T", "model")
    lines = ["| T | " + " | ".join(labels[m] for m in models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for T in sorted({r["T"] for r in main}):
        cells = []
        for m in models:
            rs = g.get((T, m), [])
            won = sum(r["steps_to_success"] is not None for r in rs)
            med = f"{learning_time(rs)[0]:.0f}" if won else "never"
            cells.append(f"{med} ({won}/{len(rs)} in {budget(rs)})" if rs else "–")
        lines.append(f"| {T} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ablation_cells(rows) -> tuple[list[int], list[tuple[str, str | None, list[list[dict]]]]]:
    """The ablation table's lengths and, per line (model, ablation or None for the unablated
    model on the ablations' seeds), its rows at each length."""
    abl = [r for r in rows if r["ablation"] not in (None, *SEARCH)]
    variants = list(dict.fromkeys((r["model"], r["ablation"]) for r in abl))
    rows = paired_with_ablations(rows)
    lengths = sorted({r["T"] for r in abl})
    lines = []
    for m, a in sorted({(m, None) for m, _ in variants}) + sorted(variants):
        rs = [r for r in rows if r["model"] == m and r["ablation"] == a
              and r["task"] in ("adding", "adding_late")]
        lines.append((m, a, [[r for r in rs if r["T"] == T] for T in lengths]))
    return lengths, lines


def ablation_table(rows, labels: dict[str, str]) -> str:
    """Median final loss / baseline [interval] of each ablation next to its unablated model."""
    lengths, cells = _ablation_cells(rows)
    if not cells:
        return ""
    lines = ["| variant | " + " | ".join(f"T = {T}" for T in lengths) + " |",
             "|---" * (len(lengths) + 1) + "|"]
    for m, a, at in cells:
        lines.append(f"| {ablation_label(m, a) if a else labels[m] + ', as in the sweep'} | "
                     + " | ".join(_cell(rs) if rs else "–" for rs in at) + " |")
    return "\n".join(lines)


def ablation_coverage(rows) -> str:
    """The coverage of the ablation table's intervals (:func:`coverage`'s form)."""
    return _levels(len(rs) for _, _, at in _ablation_cells(rows)[1] for rs in at if rs)


def grid_text(grid: dict | None) -> str:
    """``rates 1e-05 … 0.1 (9) × 2 inits``, with a note when the chosen rate is at an edge, and
    when no setting succeeded in tuning (the rate was then chosen by final loss, which the
    success verdicts do not use), and when that search, repeated at the reported budget
    (``full_budget``), chose it: by a success there, or again by final loss."""
    if not grid:
        return "an untuned rate"
    rates = sorted({g["lr"] for g in grid["grid"]})
    inits = {g["recurrent_init"] for g in grid["grid"]}
    text = f"rates {rates[0]:g} … {rates[-1]:g} ({len(rates)})" + (
        f" × {len(inits)} inits" if len(inits) > 1 else "")
    if grid.get("at_edge"):
        text += " (chosen rate at the edge: the grid's limit)"
    if not _won(grid):
        full = grid.get("full_budget")
        none = f", none succeeding within the search's {grid['budget']} updates"
        if not rechosen(grid):
            text += f"{none} (its rate chosen by final loss)"
        elif _won(full):
            text += (f"{none}; repeated at {full['budget']}, {grid['lr']:g} "
                     f"({grid['recurrent_init']} init) succeeded and was chosen")
        else:
            text += (f"{none} nor, every setting repeated, within {full['budget']} (its rate "
                     f"chosen by final loss at {full['budget']})")
    return text


def rechosen(grid: dict) -> bool:
    """Whether the grid's chosen setting is the one its search, repeated at the reported budget
    (:mod:`experiments.longrange.full_search`) since none of its settings succeeded, chose."""
    full = grid.get("full_budget")
    return bool(full) and not _won(grid) and (
        full.get("lr"), full.get("recurrent_init")) == (grid["lr"], grid["recurrent_init"])


def loss_chosen_at(grid: dict) -> int | None:
    """The budget at which the grid's rate was chosen by final loss, no setting succeeding: its
    search's, or that of the search repeated at the reported budget (:func:`rechosen`); None
    when a success chose it."""
    if _won(grid):
        return None
    full = grid["full_budget"] if rechosen(grid) else None
    return grid["budget"] if full is None else None if _won(full) else full["budget"]


def _won(search: dict) -> bool:
    """Whether any setting of a search (a grid or its ``full_budget``) succeeded."""
    return any(g["successes"] for g in search["grid"])


def rates_table(grids: list[dict], labels: dict[str, str]) -> str:
    """The chosen rate per (task, model) and T, with the tuning successes at that rate, ``by
    loss`` when no setting succeeded (when the search repeated at the reported budget B chose
    it, :func:`rechosen`: ``chosen at B`` by a success there, ``by loss at B`` without), and
    the successes / runs of the search repeated at the reported budget where it ran (stopped at
    its first success), and how many of the search's runs float32 overflow froze."""
    if not grids:
        return ""
    lengths = sorted({g["T"] for g in grids})
    lines = ["| task | model | " + " | ".join(f"T = {T}" for T in lengths) + " |",
             "|---" * (len(lengths) + 2) + "|"]
    for (task, model), gs in by(grids, "task", "model").items():
        at = {g["T"]: g for g in gs}
        cells = []
        for T in lengths:
            g = at.get(T)
            if g is None:
                cells.append("–")
                continue
            hit = next(x for x in g["grid"] if (x["lr"], x["recurrent_init"]) ==
                       (g["lr"], g["recurrent_init"]))
            full = g.get("full_budget")
            how = ("" if _won(g) else " by loss" if not rechosen(g)
                   else f" {'chosen' if _won(full) else 'by loss'} at {full['budget']}")
            cells.append(f"{g['lr']:g} ({hit['successes']}/{hit['seeds']})"
                         + (" edge" if g["at_edge"] else "") + how
                         + (f", repeated at {full['budget']}: "
                            f"{sum(x['successes'] for x in full['grid'])}/"
                            f"{sum(x['seeds'] for x in full['grid'])}" if full else "")
                         + (", Gaussian W_h" if g["recurrent_init"] == "gaussian" else "")
                         + _frozen(g))
        lines.append(f"| {task} | {labels[model]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _frozen(grid: dict) -> str:
    """``, 20/27 frozen in float32``: the runs of the grid's searches that float32 overflow
    froze, or nothing (:func:`experiments.longrange.protocol.shortfall` says what it costs a
    failure)."""
    runs = grid["grid"] + grid.get("full_budget", {}).get("grid", [])
    frozen = sum(x.get("frozen", 0) for x in runs)
    return f", {frozen}/{sum(x['seeds'] for x in runs)} frozen in float32" if frozen else ""


def budget(rows) -> str:
    return str(max(r["budget"] for r in rows)) if rows else "?"


def legend(table: str) -> str:
    """The legend line for a loss table that has empty or non-finite cells (else nothing)."""
    cells = [c.strip() for line in table.splitlines()[2:] for c in line.split("|")[2:-1]]
    kinds = {"all" if c.startswith("– (") else "none" if c == "–" else "some"
             for c in cells if c == "–" or "non-finite" in c}
    parts = [text for kind, text in NONFINITE_LEGEND.items() if kind in kinds]
    text = "; ".join(parts)
    return f"\n\n{text[:1].upper()}{text[1:]}." if parts else ""
