"""From each program's evaluations to the study's tables, and the statistics of every figure.

``summary.json`` has one row per run (task, model, T, seed, ablation, lr, recurrent_init) and
``grids``, each tuned cell's rate search (:func:`experiments.longrange.plan.grids`): ``loss`` is
the final test loss
(null when not finite), ``loss_over_baseline`` its ratio to the task's constant-prediction
baseline, ``steps_to_success`` the first evaluated update with test loss <= ``success_ratio`` x
baseline (1997 adding form: every test sequence within 0.04), ``diverged`` true when the final
loss is not finite or > ``DIVERGED`` x baseline. ``curves.json`` has each run's test loss /
baseline at every evaluation. ``constant_loss_over_baseline`` is the loss of the task's constant
(memoryless) prediction on the very test set the run is scored on, over the baseline: where a
run learns only that prediction, its loss / baseline equals this, not 1
(:func:`experiments.longrange.tasks.constant_loss`). ``linear_loss_over_baseline`` (modern
adding problem) is likewise the loss of the best predictor linear in the inputs
(:func:`experiments.longrange.tasks.linear_prediction`) on that test set: the floor of the
one-layer LRU there. ``init_log_jacobian`` /
``final_log_jacobian`` are ``log ||dh_T/dh_0||`` before and after training,
``last_quarter_fall`` (a run without success) how much its test loss fell over the last quarter
of its updates, ``1 − final / min(loss at the evaluations up to ¾ of them)`` (null when either
is not finite: a run that did not keep learning), and
``init_lambda_max`` the largest Lyapunov exponent at initialisation
(:mod:`experiments.longrange.dynamics`), ``dtype`` the format the run computed in (``float64``:
the rerun of a run that diverged in float32, :mod:`experiments.longrange.precision`).

Every run stops at success or at its budget: ``steps`` is the number of updates it ran
(``steps_to_success`` when it succeeded, else its ``budget``), with its ``lr`` and ``optimizer``.
A tuning run is also stopped once its setting can no longer be chosen
(:func:`experiments.longrange.plan.cannot_be_chosen`): ``pruned`` is then true and ``steps`` the
update it stopped at, so its setting's successes are a lower bound. Any run is stopped once
float32 overflow has frozen it (every update skipped as not finite:
:func:`experiments.longrange.precision.frozen_at`): ``frozen_at`` is then that update (null:
never), and ``steps`` too.

One statistic everywhere, tables and figures alike: the median over seeds with the
order-statistic interval whose exact binomial coverage is at least 95 % where the number of
seeds allows it, else ``[min, max]`` with its real coverage (:func:`median_ci`, reported as
``median_ci`` and ``median_ci_level``: 93.75 % with 5 seeds, 75 % with 3); success fractions
with Wilson 95 % intervals (:func:`success_ci`).
"""

from __future__ import annotations

import math
from typing import Any

from experiments.common.stats import median_interval, wilson_interval
from experiments.longrange import precision
from experiments.longrange.config import Config
from experiments.longrange.full_search import rechosen
from experiments.longrange.plan import SEARCH, Group, optimizer_of
from experiments.longrange.protocol import last_quarter_fall
from experiments.longrange.tasks import constant_loss, linear_loss

DIVERGED = 100.0  # a run whose final test loss is non-finite or > 100 x baseline diverged


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def rows_and_curves(config: Config, group: Group, result: dict[str, Any], best: dict):
    """The summary rows and learning curves of one program's runs.

    ``best`` is unused (the reported runs are never tuning runs) and kept for the signature.
    """
    del best
    steps, base, tc = result["steps"], result["baseline"], config.train
    constant = constant_loss(group.task, group.T, config.seed, tc.n_test, tc.tbptt_truncation)
    linear = linear_loss(group.task, group.T, config.seed, tc.n_test, tc.tbptt_truncation)
    ran = steps[-1] if steps else 0
    stopped_at = result.get("stopped_at") or [None] * len(group.members)
    rows, curves = [], []
    for i, m in enumerate(group.members):
        losses = [_finite(per_run[i]) for per_run in result["test_loss"]]
        if group.task == "adding_hs97":
            ok = [per_run[i] >= 1.0 for per_run in result["test_solved"]]
        else:
            ok = [x is not None and x <= tc.success_ratio * base for x in losses]
        first = next((s for s, good in zip(steps, ok, strict=True) if good), None)
        final = losses[-1] if losses else None
        frozen = precision.frozen_at(steps, losses, base, tc.checkpoint_every, DIVERGED)
        stopped = stopped_at[i]
        earlier = [x for s, x in zip(steps, losses, strict=True) if s <= 0.75 * steps[-1]
                   and x is not None] if steps else []
        row = {
            "task": group.task, "model": m.model, "T": group.T, "seed": m.seed,
            "ablation": m.ablation, "lr": m.lr, "recurrent_init": m.init,
            "loss": final, "baseline": base,
            "loss_over_baseline": None if final is None else final / base,
            "constant_loss_over_baseline": constant / base,
            "linear_loss_over_baseline": None if linear is None else linear / base,
            "steps_to_success": first, "success": first is not None,
            "last_quarter_fall": None if first is not None or final is None or not earlier
            else 1.0 - final / min(earlier),
            "diverged": final is None or final > DIVERGED * base,
            "init_log_jacobian": result["init_log_jacobian"][i],
            "final_log_jacobian": result["final_log_jacobian"][i],
            "init_lambda_max": result["init_lambda_max"][i],
            "steps": first if first is not None else int(min(
                (x for x in (stopped, frozen) if x is not None), default=ran)),
            "budget": group.budget, "pruned": stopped is not None and stopped != frozen,
            "frozen_at": frozen,
            "optimizer": optimizer_of(m.model), "batch_size": tc.batch_size, "data": tc.data,
            "hidden_size": tc.hidden_size,
            "n_params": result["n_params"][m.model], "clip_norm": tc.clip_norm if m.clip else None,
            "tbptt": group.tbptt, "success_ratio": tc.success_ratio,
            "dtype": "float64" if precision.in_float64(group.stage) else "float32",
        }
        curve = {"task": group.task, "model": m.model, "T": group.T, "seed": m.seed,
                 "ablation": m.ablation, "lr": m.lr, "recurrent_init": m.init, "steps": steps,
                 "loss_over_baseline": [None if x is None else round(x / base, 5) for x in losses]}
        rows.append(row)
        curves.append(curve)
    return rows, curves


def supersede(rows, curves=None) -> tuple[list[dict], list[dict] | None, list[dict], list[dict]]:
    """Each run once, at the longest budget it was given and at its cell's final rate:
    ``(rows, curves, extended, replaced)``. A cell rerun with a larger budget
    (:func:`experiments.longrange.plan.longer_groups`) reports its longer runs (and their
    ``curves``, parallel to ``rows``, when given); ``extended`` lists each (task, T, model)
    budget they replace, with its seeds and median ``last_quarter_fall``
    (:func:`experiments.longrange.protocol.last_quarter_fall`). A cell rerun at the setting its
    search repeated at the reported budget found (stage ``rechosen``:
    :mod:`experiments.longrange.full_search`) reports those runs, seed by seed, in place of its
    runs at the rate chosen by final loss. ``replaced``: the rows either replaces (an ablation is
    compared with its model at the ablation's own budget and rate:
    :func:`paired_with_ablations`). A run rerun in float64 (:mod:`experiments.longrange.precision`)
    is reported in place of its float32 run; ``replaced`` has that too."""
    def key(r):
        return (r["task"], r["T"], r["model"], r["ablation"], r["seed"], r["lr"],
                r["recurrent_init"])

    wide = {(key(r), r["budget"]) for r in rows if r.get("dtype") == precision.STAGE}
    narrow = {i for i, r in enumerate(rows)
              if r.get("dtype") != precision.STAGE and (key(r), r["budget"]) in wide}
    longest: dict[tuple, int] = {}
    for i, r in enumerate(rows):
        if i not in narrow and (key(r) not in longest
                                or r["budget"] > rows[longest[key(r)]]["budget"]):
            longest[key(r)] = i
    last = set(longest.values())
    shorter = [r for i, r in enumerate(rows) if i not in last and i not in narrow]
    chosen = rechosen([r for i, r in enumerate(rows) if i not in narrow])

    def at_chosen(r) -> bool:
        return chosen.get((r["task"], r["T"], r["model"])) == (r["lr"], r["recurrent_init"])

    rerun = {key(rows[i])[:5] for i in last if rows[i]["ablation"] is None and at_chosen(rows[i])}
    kept = sorted(i for i in last if key(rows[i])[:5] not in rerun or at_chosen(rows[i]))
    keep = set(kept)
    replaced = [r for i, r in enumerate(rows) if i not in keep]
    extended = [{"task": t, "T": T, "model": m, "budget": b, "seeds": len(rs),
                 "last_quarter_fall": last_quarter_fall(rs)}
                for (t, T, m, b), rs in by(shorter, "task", "T", "model", "budget").items()]
    return ([rows[i] for i in kept], None if curves is None else [curves[i] for i in kept],
            extended, replaced)


def select(rows, *, task: str | None = None, ablation: str | None = None, **equal) -> list[dict]:
    """The rows of ``task`` (any when None) with this ablation (None: the main sweep)."""
    return [r for r in rows if r["ablation"] == ablation
            and (task is None or r["task"] == task)
            and all(r[k] == v for k, v in equal.items())]


def paired_with_ablations(rows) -> list[dict]:
    """The rows, each unablated run kept only where its (model, T) has no ablation or an ablation
    ran its seed with its budget and rate: a cell may have more seeds than its ablations (stage
    ``more``), a larger budget (stage ``longer``) or another rate (stage ``rechosen``), its
    earlier runs in ``rows`` too (:func:`supersede`), and an ablation is compared with its model
    on the same seeds (same data and initialisation), budget and rate; a (model, T) without
    ablations keeps its runs at its largest budget."""
    ablated = {(r["model"], r["T"]) for r in rows if r["ablation"] not in (None, *SEARCH)}
    seeds = {paired_run(r) for r in rows if r["ablation"] not in (None, *SEARCH)}
    largest: dict[tuple, int] = {}
    for r in rows:
        if r["ablation"] is None:
            largest[r["model"], r["T"]] = max(largest.get((r["model"], r["T"]), 0), r["budget"])
    return [r for r in rows if r["ablation"] is not None
            or ((r["model"], r["T"]) not in ablated and r["budget"] == largest[r["model"], r["T"]])
            or paired_run(r) in seeds]


def paired_run(r) -> tuple:
    """What pairs an ablation's run with its model's: model, T, seed, budget and rate."""
    return r["model"], r["T"], r["seed"], r["budget"], r["lr"], r["recurrent_init"]


def by(rows, *keys) -> dict[tuple, list[dict]]:
    """Rows grouped by the values of ``keys``, in order of first appearance."""
    out: dict[tuple, list] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


CI_LEVEL = 0.95  # the level every interval aims at; median_ci reports the one it reaches


def median_ci(values) -> tuple[float, float, float, float]:
    """``(median, low, high, level)`` of the finite values: the order-statistic interval
    (:func:`experiments.common.stats.median_interval`) and its exact coverage; nan when none."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    return median_interval(v, level=CI_LEVEL)


def loss_ratio(rows) -> tuple[float, float, float, float]:
    """Median final test loss / baseline over the rows' seeds (non-finite runs left out)."""
    return median_ci([r["loss_over_baseline"] for r in rows])


def learning_time(rows) -> tuple[float, float, float, float]:
    """Median updates to success over the seeds that succeed (nan when none does)."""
    return median_ci([r["steps_to_success"] for r in rows])


def paired_difference(slow, fast) -> tuple[float, float, float, float, int, int]:
    """How many more updates to success ``slow`` needs than ``fast``: over the seeds both ran
    (seed s gives every model the same data, so the runs are paired), the median of ``updates(slow)
    − updates(fast)`` with its order-statistic interval and coverage (:func:`median_ci`), the
    number of pairs, and how many of them hold a run that did not succeed. Such a run counts as
    ``budget + 1`` updates (more than it ran), so the sign of every difference is exact (two
    failures: 0) while a difference with a failure is a bound on its size."""
    def updates(r):
        return r["steps_to_success"] if r["success"] else r["budget"] + 1

    fast_of = {r["seed"]: r for r in fast}
    pairs = [(r, fast_of[r["seed"]]) for r in slow if r["seed"] in fast_of]
    med, lo, hi, level = median_ci([updates(a) - updates(b) for a, b in pairs])
    return med, lo, hi, level, len(pairs), sum(not (a["success"] and b["success"])
                                               for a, b in pairs)


def level_text(level: float) -> str:
    """``93.75 %``: an interval's coverage as the tables and legends name it."""
    return "–" if not math.isfinite(level) else f"{100 * level:.4g} %"


def success_ci(rows) -> tuple[float, float, float]:
    """Fraction of the rows' seeds that succeed, with its Wilson 95 % interval."""
    return wilson_interval(sum(bool(r["success"]) for r in rows), len(rows))

