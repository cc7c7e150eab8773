"""A failure whose rate was chosen by final loss: the search repeated at the reported budget.

The rate search (:mod:`experiments.longrange.plan`) runs at a fraction of the reported budget.
When none of its settings succeeds there, :func:`~experiments.longrange.plan.choose` falls
back on the lowest final loss, and a rate that would succeed with the reported runs' updates can
be missed: the tanh RNN's search on the adding problem sees no success at any T, while its
reported runs at twice the updates learn up to T = 200. A failure a verdict rests on
(:data:`~experiments.longrange.protocol.CLAIMED_FAILURES`) is therefore tested in four stages:

1. ``tunefull`` (:func:`full_search_groups`): every (rate, init) the search tried, with its
   tuning seeds, at the reported budget (runs ``tune_full``), nearest the rate its search chose
   by loss first (:func:`experiments.longrange.run._prior`), stopped at the model's first
   success (:func:`~experiments.longrange.plan.cannot_be_chosen`); where none of a model's
   runs succeeded, those that diverged in float32 are rerun in float64 (stage
   ``float64_tunefull``, :mod:`~experiments.longrange.precision`) and replace them;
2. ``rechosen`` (:func:`rerun_groups`): the cell's reported seeds again, at their budget, at
   the setting the repeated search chose (:func:`rechosen`: one that succeeded, else the lowest
   final loss at this budget) where it differs from theirs; these runs replace the ones at the
   rate chosen at the search's budget (:func:`experiments.longrange.summary.supersede`);
3. ``rechosen_longer<r>``: those reruns, when they fail while still learning, rerun with twice
   their budget, as every reported cell is
   (:func:`~experiments.longrange.plan.longer_groups`; :func:`experiments.longrange.run._retest`);
4. ``rechosen_more`` (:func:`more_groups`): seeds added to those up to the task's
   ``open_seeds`` when their success fraction's Wilson 95 % interval holds ½, as for every
   reported cell (:func:`~experiments.longrange.plan.open_groups`).

The failure counts only once the reported runs ran at the setting the repeated search chose and
failed there, not learning when their budget ended
(:func:`experiments.longrange.protocol.shortfall`). Tuning seeds stay ``TUNE_SEED + s``: no
reported run took part in choosing its own rate.
"""

from __future__ import annotations

from experiments.common.stats import side_of_half
from experiments.longrange.config import Config
from experiments.longrange.plan import (
    TUNE_SEED,
    Cell,
    Group,
    Member,
    Setting,
    budget,
    by_family,
    choose,
)
from experiments.longrange.protocol import CLAIMED_FAILURES


def _reported(rows, cell: Cell) -> list[dict]:
    """The cell's reported runs (the main sweep's) in ``rows``."""
    return [r for r in rows if (r["task"], r["T"], r["model"], r["ablation"]) == (*cell, None)]


def full_search_groups(config: Config, T: int, tune_rows, rows) -> list[Group]:
    """Stage ``tunefull`` at T: for each cell of
    :data:`~experiments.longrange.protocol.CLAIMED_FAILURES` whose reported runs in ``rows``
    fail (their success fraction's Wilson 95 % interval below ½) and no setting of whose search
    (``tune_rows``, every round) succeeded within a budget below the reported one, every
    (rate, init) the search tried, with its tuning seeds, at the reported budget."""
    B, members = budget(config, T), {}
    for task, model in CLAIMED_FAILURES:
        tried = [r for r in tune_rows if (r["task"], r["T"], r["model"], r["ablation"])
                 == (task, T, model, "tune")]
        runs = _reported(rows, (task, T, model))
        if (not tried or not runs or any(r["success"] for r in tried)
                or max(r["budget"] for r in tried) >= B
                or side_of_half(sum(bool(r["success"]) for r in runs), len(runs)) != -1):
            continue
        members.setdefault(task, []).extend(
            Member(model, TUNE_SEED + s, lr, init, True, "tune_full")
            for lr, init in sorted({(r["lr"], r["recurrent_init"]) for r in tried})
            for s in range(config.tune.seeds))
    return [Group(task, T, f, None, tuple(g), "tunefull", B)
            for task, ms in members.items() for f, g in by_family(ms).items()]


def rechosen(rows) -> dict[Cell, Setting]:
    """Each cell whose search was repeated at the reported budget (rows ``tune_full``, present
    once the program is complete): the setting it chooses by the search's own rule
    (:func:`~experiments.longrange.plan.choose`: most successes, then fewest updates to success,
    then lowest median final loss). With a success, the first setting found to succeed (the
    search stops there, in the order of :func:`experiments.longrange.run._prior`); without one,
    the lowest final loss at the budget the reported runs use, where the search's own choice
    compared losses at a fraction of it."""
    return choose(rows, "tune_full")


def rerun_groups(T: int, chosen: dict[Cell, Setting], rows) -> list[Group]:
    """Stage ``rechosen`` at T: each cell of ``chosen`` whose reported runs in ``rows`` ran at
    another setting, every one of their seeds at the chosen setting and at their budget."""
    members: dict[tuple[str, int], list[Member]] = {}
    for cell, (lr, init) in sorted(chosen.items()):
        runs = _reported(rows, cell)
        if cell[1] != T or not runs or all((r["lr"], r["recurrent_init"]) == (lr, init)
                                           for r in runs):
            continue
        members.setdefault((cell[0], max(r["budget"] for r in runs)), []).extend(
            Member(cell[2], s, lr, init, True, None) for s in sorted({r["seed"] for r in runs}))
    return [Group(task, T, f, None, tuple(g), "rechosen", B)
            for (task, B), ms in members.items() for f, g in by_family(ms).items()]


def more_groups(config: Config, T: int, chosen: dict[Cell, Setting], rows) -> list[Group]:
    """Stage ``rechosen_more`` at T: each cell of ``chosen`` whose runs at the chosen setting
    (``rows``: stage ``rechosen``'s) are open (their Wilson 95 % interval holds ½) gets the seeds
    from their count up to its task's ``open_seeds``, at the same setting and budget."""
    tasks, members = config.sweep.tasks(), {}
    for cell, (lr, init) in sorted(chosen.items()):
        runs = [r for r in _reported(rows, cell) if (r["lr"], r["recurrent_init"]) == (lr, init)]
        if cell[1] != T or not runs or side_of_half(sum(bool(r["success"]) for r in runs),
                                                    len(runs)):
            continue
        members.setdefault((cell[0], max(r["budget"] for r in runs)), []).extend(
            Member(cell[2], s, lr, init, True, None)
            for s in range(len(runs), tasks[cell[0]].open_seeds))
    return [Group(task, T, f, None, tuple(g), "rechosen_more", B)
            for (task, B), ms in members.items() for f, g in by_family(ms).items()]
