"""From each program's evaluations to the study's tables, and the statistics of every figure.

``summary.json`` has one row per (task, model, T, seed, ablation): ``loss`` is the final test loss
(null when not finite), ``loss_over_baseline`` its ratio to the task's constant-prediction
baseline, ``steps_to_success`` the first evaluated update with test loss <= ``success_ratio`` x
baseline (1997 adding form: every test sequence within 0.04), ``diverged`` true when the final
loss is not finite or > ``DIVERGED`` x baseline. ``curves.json`` has each run's test loss /
baseline at every evaluation.

One statistic everywhere, tables and figures alike: the median over seeds with a 95 % percentile
bootstrap interval (:func:`median_ci`); success fractions with Wilson intervals
(:func:`success_ci`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from experiments.common import num_steps
from experiments.common.stats import bootstrap_ci, wilson_interval
from experiments.longrange.config import Config
from experiments.longrange.sweep import Group

DIVERGED = 100.0  # a run whose final test loss is non-finite or > 100 x baseline diverged


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def rows_and_curves(config: Config, group: Group, result: dict[str, Any]):
    """The summary rows and learning curves of one program's runs."""
    steps, base, tc = result["steps"], result["baseline"], config.train
    rows, curves = [], []
    for i, m in enumerate(group.members):
        losses = [_finite(per_run[i]) for per_run in result["test_loss"]]
        if group.task == "adding_hs97":
            ok = [per_run[i] >= 1.0 for per_run in result["test_solved"]]
        else:
            ok = [x is not None and x <= tc.success_ratio * base for x in losses]
        first = next((s for s, good in zip(steps, ok, strict=True) if good), None)
        final = losses[-1] if losses else None
        rows.append({
            "task": group.task, "model": m.model, "T": group.T, "seed": m.seed,
            "ablation": m.ablation, "loss": final, "baseline": base,
            "loss_over_baseline": None if final is None else final / base,
            "steps_to_success": first, "success": first is not None,
            "diverged": final is None or final > DIVERGED * base,
            "steps": num_steps(config, tc.steps), "data": tc.data, "hidden_size": tc.hidden_size,
            "n_params": result["n_params"][m.model], "clip_norm": tc.clip_norm if m.clip else None,
            "tbptt": group.tbptt, "success_ratio": tc.success_ratio,
        })
        curves.append({"task": group.task, "model": m.model, "T": group.T, "seed": m.seed,
                       "ablation": m.ablation, "steps": steps,
                       "loss_over_baseline": [None if x is None else round(x / base, 5)
                                              for x in losses]})
    return rows, curves


def select(rows, *, task: str | None = None, ablation: str | None = None, **equal) -> list[dict]:
    """The rows of ``task`` (any when None) with this ablation (None: the main sweep)."""
    return [r for r in rows if r["ablation"] == ablation
            and (task is None or r["task"] == task)
            and all(r[k] == v for k, v in equal.items())]


def by(rows, *keys) -> dict[tuple, list[dict]]:
    """Rows grouped by the values of ``keys``, in order of first appearance."""
    out: dict[tuple, list] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def median_ci(values) -> tuple[float, float, float]:
    """``(median, low, high)`` of the finite values, 95 % bootstrap interval; nan when none."""
    v = np.array([np.nan if x is None else x for x in values], float)
    v = v[np.isfinite(v)]
    if not v.size:
        return math.nan, math.nan, math.nan
    return bootstrap_ci(v, np.median)


def loss_ratio(rows) -> tuple[float, float, float]:
    """Median final test loss / baseline over the rows' seeds (non-finite runs left out)."""
    return median_ci([r["loss_over_baseline"] for r in rows])


def learning_time(rows) -> tuple[float, float, float]:
    """Median updates to success over the seeds that succeed (nan when none does)."""
    return median_ci([r["steps_to_success"] for r in rows])


def success_ci(rows) -> tuple[float, float, float]:
    """Fraction of the rows' seeds that succeed, with its Wilson 95 % interval."""
    return wilson_interval(sum(bool(r["success"]) for r in rows), len(rows))


def loss_table(folders: dict[str, dict], models: tuple[str, ...], labels: dict[str, str]) -> str:
    """Markdown table of :func:`loss_ratio` medians, one line per (T, updates) over folders.

    ``folders`` maps a folder name to its ``summary.json``; a (T, updates) in several folders
    takes the first folder's rows.
    """
    cells: dict[tuple[int, int], dict[str, float]] = {}
    for summary in folders.values():
        main = select(summary["rows"], task="adding")
        for (T, steps), rs in by(main, "T", "steps").items():
            if (T, steps) not in cells:
                cells[(T, steps)] = {m: loss_ratio(g)[0] for (m,), g in by(rs, "model").items()}
    lines = ["| T (updates) | " + " | ".join(labels[m] for m in models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for (T, steps), row in sorted(cells.items()):
        vals = [f"{row[m]:.3g}" if m in row and math.isfinite(row[m]) else "–" for m in models]
        lines.append(f"| {T} ({steps}) | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def learning_time_table(folders: dict[str, dict], models: tuple[str, ...],
                        labels: dict[str, str]) -> str:
    """Markdown table of :func:`learning_time` medians, with the seeds that succeed, per (T, updates).

    A cell reads ``400 (2/3)``: median updates to success over the 2 of 3 seeds that reach it;
    ``never (0/3)`` when none does. Folders as in :func:`loss_table`.
    """
    cells: dict[tuple[int, int], dict[str, str]] = {}
    for summary in folders.values():
        main = select(summary["rows"], task="adding")
        for (T, steps), rs in by(main, "T", "steps").items():
            if (T, steps) in cells:
                continue
            cells[(T, steps)] = {}
            for (m,), g in by(rs, "model").items():
                won = sum(r["steps_to_success"] is not None for r in g)
                med = f"{learning_time(g)[0]:.0f}" if won else "never"
                cells[(T, steps)][m] = f"{med} ({won}/{len(g)})"
    lines = ["| T (updates) | " + " | ".join(labels[m] for m in models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for (T, steps), row in sorted(cells.items()):
        lines.append(f"| {T} ({steps}) | " + " | ".join(row.get(m, "–") for m in models) + " |")
    return "\n".join(lines)


def ablation_lines(folders: dict[str, dict], labels: dict[str, str]) -> str:
    """One Markdown bullet per (ablation, model): median final loss / baseline at each T."""
    out: dict[tuple[str, str], list[str]] = {}
    for summary in folders.values():
        rows = [r for r in summary["rows"] if r["ablation"] is not None and r["task"] == "adding"]
        for (ab, m, T, steps), g in by(rows, "ablation", "model", "T", "steps").items():
            out.setdefault((ab, m), []).append(f"{loss_ratio(g)[0]:.2g} at T = {T} ({steps} updates)")
    return "\n".join(f"- `{ab}`, {labels[m]}: final test loss / baseline {', '.join(v)}"
                     for (ab, m), v in out.items())
