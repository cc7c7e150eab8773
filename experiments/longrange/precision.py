"""A reported run that diverged in float32, rerun in float64: the model's failure or the format's?

A run *diverged* when its final test loss is non-finite or above
:data:`~experiments.longrange.summary.DIVERGED` x baseline. In float32 that can be the number
format's doing, not the model's. Once an activation, the loss or the gradient's 2-norm passes
float32's 3.4e38 (the norm long before any parameter does), the step is not finite; its guard
(:mod:`rnnjax.train.step`) skips the update, the parameters stay where they are, the next batch
overflows again, and the run has stopped learning for good at that update, where in a wider
format the clipped step would have been taken. The IRNN (ReLU units, identity recurrence)
gets there: its activations can grow like (1 + δ)^T, and at T = 800 most of its float32 runs
froze within the first thousand of their 20 000 updates.

So every diverged run of the main sweep and of its ablations is rerun in float64 (stage ``float64_<stage>``,
:func:`float64_groups`) as soon as the stage that ran it (``main``, ``more``, ``longer<r>``,
``rechosen``, ...) has finished, so the stages after it (seeds added to an open cell, a longer
budget) see the rerun: the same seed, rate, initialisation and budget, the same initial
parameters (drawn in float32, then widened) and the same sequences (the tasks draw them in
float32 whatever the x64 flag), every array of the computation in float64
(:func:`experiments.longrange.sweep.train_group`). The rerun replaces the float32 run in the
tables (:func:`experiments.longrange.summary.supersede`; rows carry ``dtype``), and a failure
counts only once none of its runs is a float32 divergence
(:func:`experiments.longrange.protocol.float32_divergences`). A run that diverges in float64
too diverged by its own dynamics. The rate search stays in float32: a frozen tuning run counts
against its setting, which can only steer the search away from the rates at which float32
overflows (:func:`experiments.longrange.protocol.shortfall` says so where a failure rests on
it). The search repeated at the reported budget for a failure a verdict rests on
(:mod:`~experiments.longrange.full_search`) is what decides that failure: its diverged runs are
rerun in float64 too (stage ``float64_tunefull``) where none of the model's runs succeeded.
"""

from __future__ import annotations

import math

from experiments.longrange.plan import Group, Member, by_family

STAGE = "float64"
"""The reruns' stage (``Group.stage``: ``float64_<the stage rerun>``) and the ``dtype`` of
their rows."""


def in_float64(stage: str) -> bool:
    """Whether a program of this stage computes in float64."""
    return stage.startswith(STAGE)


def float64_groups(rows, origin: str) -> list[Group]:
    """Stage ``float64_<origin>``: every run in ``rows`` (those of one stage, ``origin``:
    ``main``, ``more``, ``longer1``, ...: the reported runs and their ablations; ``tunefull``:
    the search repeated at the reported budget, whose runs decide a claimed failure,
    :mod:`~experiments.longrange.full_search`) that diverged in float32, rerun in float64 at its
    seed, setting, ablation and budget; of the repeated search, only the runs of a model none
    of whose runs succeeded (one success decides its rate, and stops the others). One program
    per (task, T, truncation, budget, cell family), named
    ``<task>_T<T>_<family>[_tbptt<k>]_float64_<origin>[_b<budget>]`` (the budget where the
    stage's runs of one family have several). The first search (stage ``tune``) is not rerun."""
    won = {(r["task"], r["T"], r["model"]) for r in rows
           if r["ablation"] == "tune_full" and r["success"]}

    def reruns(r) -> bool:
        cell = (r["task"], r["T"], r["model"])
        searched = r["ablation"] == "tune" or (r["ablation"] == "tune_full" and cell in won)
        return not searched and bool(r["diverged"]) and r["dtype"] != STAGE

    members: dict[tuple, list[Member]] = {}
    for r in sorted(rows, key=lambda r: (r["task"], r["T"], r["model"], str(r["ablation"]),
                                         r["seed"])):
        if reruns(r):
            members.setdefault((r["task"], r["T"], r["tbptt"] or 0, r["budget"]), []).append(
                Member(r["model"], r["seed"], r["lr"], r["recurrent_init"],
                       r["clip_norm"] is not None, r["ablation"]))
    groups = [Group(task, T, f, k or None, tuple(g), f"{STAGE}_{origin}", B)
              for (task, T, k, B), ms in sorted(members.items()) for f, g in by_family(ms).items()]
    names = [g.name for g in groups]  # one name per program: a second budget is named by it
    return [g._replace(stage=f"{g.stage}_b{g.budget}") if names.count(g.name) > 1 else g
            for g in groups]



def frozen_at(steps, losses, baseline: float, every: int, diverged: float) -> int | None:
    """The update after which a run's parameters never moved again, or None.

    ``steps``, ``losses``: its evaluations (test loss, None or nan when not finite); ``every``:
    the updates per piece of training (:func:`experiments.longrange.sweep.train_group` checks
    after each piece). Frozen at the end ``e`` of the first piece from whose start on every
    evaluation, at least two of them, is diverged (non-finite or above ``diverged`` x
    ``baseline``) and equal: every update from there on was skipped as not finite (an update
    that moved the parameters would have moved the test loss). Training stops such a run there
    (its float64 rerun decides), so a program whose runs have all frozen or succeeded ends
    early; applied to a finished program's evaluations, it names the same update.
    """
    def bad(x) -> bool:
        return x is None or not math.isfinite(x) or x > diverged * baseline

    def same(a, b) -> bool:
        return (a is None or math.isnan(a)) if (b is None or math.isnan(b)) else a == b

    for end in range(every, (steps[-1] if steps else 0) + 1, every):
        tail = [x for s, x in zip(steps, losses, strict=True) if s > end - every]
        if len(tail) > 1 and all(bad(x) and same(x, tail[0]) for x in tail):
            return end
    return None
