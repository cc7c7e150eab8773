"""What a run must have been given before its failure counts as evidence about its model.

A verdict that rests on a model *not* learning (the LSTM failing where the 1997 claim says it
learns, the tanh RNN failing where it says so, a truncated run failing to bridge its lag) says
something about the model only when the protocol gave the model the chance the papers give it.
Here that is the study's default protocol (``Config()``, the full preset):

- a budget of at least ``TrainConfig().budget(T)`` updates (it grows with T), every run stopped
  only at success or at that budget;
- a rate searched for that (task, T, model) over a log grid covering the default one,
  ``TuneConfig().learning_rates`` (1e-5 … 1e-1), in steps no coarser than its (√10). (A chosen
  rate still at an edge is accepted: the grid is then extended to the search's limits, 1e-8 and
  1, so every rate an optimiser could use was tried; the verdict's grid text says so.)
- a rate chosen by the success criterion: when no setting of the search succeeded within its
  budget (below the reported one), its rate was chosen by final loss, and a rate that would
  succeed with the verdict's updates could have been missed; the search is then repeated at the
  reported budget (:mod:`experiments.longrange.full_search`), and the failure counts only once
  the reported runs, rerun at the setting that one chose (a success there, else the lowest
  final loss at that budget), fail too;
- runs that did not diverge in float32 (:mod:`experiments.longrange.precision`): a gradient
  whose 2-norm overflows float32 freezes a run for good, so a diverged run counts once its
  float64 rerun has replaced it; and, for the failures of :data:`CLAIMED_FAILURES`, a rate
  search none of whose runs froze so (the searches stay in float32, and a frozen run counts
  against its setting);
- runs that had stopped learning when their budget ended: the median over the cell's runs without
  success of ``last_quarter_fall`` (how much the test loss fell over the last quarter of the
  updates, :mod:`experiments.longrange.summary`) at most ``STILL_LEARNING`` = 10 %, and no
  failure that its single runs still falling faster than that could turn (:func:`still_learning`).
  A cell whose failing runs were still falling failed for want of updates ("slower" read as
  "fails"); a larger budget would decide. (The last quarter of the cosine schedule runs at
  10–23 % of the peak rate: a fall there is learning, not the large steps of early training.)

A failure under less (a quick preset's few hundred updates, an untuned rate, a three-point grid,
a budget that ended during learning) is reported as *not tested*, with what fell short: the
protocol, not the model, decided it.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from experiments.common.stats import side_of_half
from experiments.longrange.config import TrainConfig, TuneConfig

CLAIMED_FAILURES = (("adding", "elman"), ("adding", "lstm_fb1"), ("adding", "irnn"),
                    ("adding", "irnn_sgd"), ("adding", "lru_block"), ("copy", "lstm_fb1"),
                    ("copy", "urnn"))
"""The main-sweep (task, model) cells whose failure decides a verdict
(:mod:`experiments.longrange.report`): the tanh RNN's and the LSTM's in Hochreiter &
Schmidhuber's claim, the IRNN's (both optimisers) in Le et al.'s, the LRU block's in Orvieto et
al.'s, the LSTM's and the uRNN's on the copy task."""

SEARCH = ("tune", "tune_full")  # the ablation of a rate search's runs: at the tuning budget, or
#                                 at the reported one (:mod:`experiments.longrange.full_search`)
_DEFAULT_RATES = sorted(TuneConfig().learning_rates)
_STEP = max(b / a for a, b in pairwise(_DEFAULT_RATES))
_ROUNDING = 1.01  # the grids' rates are rounded to 3 significant digits
STILL_LEARNING = 0.1  # a failing cell whose median last-quarter fall exceeds this still learned


def required_budget(T: int) -> int:
    """Updates a failing run at length T must have had: the default protocol's budget."""
    return TrainConfig().budget(T)


def last_quarter_fall(rows) -> float | None:
    """The median ``last_quarter_fall`` of the rows without success (None: no such row has one)."""
    falls = [r.get("last_quarter_fall") for r in rows if not r["success"]]
    falls = [f for f in falls if f is not None]
    return float(np.median(falls)) if falls else None


def still_learning(rows) -> bool:
    """Whether the cell's runs without success were still learning when their budget ended: their
    median ``last_quarter_fall`` above ``STILL_LEARNING``, or the cell fails (its success
    fraction's Wilson 95 % interval below ½) but would not with its runs still falling on their
    own (:func:`still_falling`) counted as successes: the failure then rests on runs a larger
    budget could turn, however few (a censoring bound: each such run is given its best case)."""
    fall = last_quarter_fall(rows)
    return (fall is not None and fall > STILL_LEARNING) or bool(_falling_decide(rows))


def _falling_decide(rows) -> int:
    """How many failing runs were still falling on their own where, counted as successes, they
    would stop the cell's failure (0: none, or they would not)."""
    won, n, falling = sum(bool(r["success"]) for r in rows), len(rows), len(still_falling(rows))
    return falling if side_of_half(won, n) == -1 and side_of_half(won + falling, n) != -1 else 0


def still_falling(rows) -> list[dict]:
    """The rows without success that were still learning when their budget ended, each by its own
    ``last_quarter_fall`` (above ``STILL_LEARNING``): :func:`still_learning` asks whether they
    could turn the cell's failure, and a failure that counts names them."""
    return [r for r in rows if not r["success"] and (r.get("last_quarter_fall") or 0) > STILL_LEARNING]


def float32_divergences(rows) -> int:
    """How many rows (a rate search's aside) diverged in float32: their float64 reruns
    (:mod:`experiments.longrange.precision`) have not replaced them yet."""
    return sum(bool(r["diverged"]) and r["ablation"] not in SEARCH
               and r.get("dtype", "float32") == "float32" for r in rows)


def shortfall(rows, grid: dict | None, T: int) -> list[str]:
    """What a failing cell's protocol lacks against the default one (empty: nothing).

    ``rows``: the cell's runs (each with its ``budget`` and, without success,
    ``last_quarter_fall``); ``grid``: its rate search as
    ``summary.json`` records it (``None``: trained at an untuned rate). A rate chosen by final
    loss counts against a main-sweep cell of :data:`CLAIMED_FAILURES` (whose search is then
    repeated at the reported budget), not against an ablation trained at its control's rate."""
    out = []
    budget = max((r["budget"] for r in rows), default=0)
    if budget < required_budget(T):
        out.append(f"a budget of {budget} updates (the default protocol's at T = {T}: "
                   f"{required_budget(T)})")
    if frozen := float32_divergences(rows):
        out.append(f"{frozen} of {len(rows)} runs diverged in float32, their float64 reruns not "
                   "yet run")
    fall = last_quarter_fall(rows)
    if fall is not None and fall > STILL_LEARNING:
        out.append(f"runs still learning when the budget ended (their test loss fell by a median "
                   f"{fall:.0%} over the last quarter of their updates)")
    elif falling := _falling_decide(rows):
        out.append(f"{falling} of its {sum(not r['success'] for r in rows)} failing runs still "
                   f"learning when the budget ended (each falling by more than "
                   f"{STILL_LEARNING:.0%} over its last quarter): counted as successes, the "
                   "cell would not fail")
    if not grid:
        out.append("an untuned rate")
        return out
    if any((r["task"], r["model"]) in CLAIMED_FAILURES and r["ablation"] is None for r in rows):
        out += _chosen_by_loss(grid, T, rows)  # the failures whose search is repeated
        out += _frozen_search(grid)
    init = grid["recurrent_init"]
    rates = sorted({g["lr"] for g in grid["grid"] if g["recurrent_init"] == init})
    steps = [b / a for a, b in pairwise(rates)]
    if (rates[0] > _DEFAULT_RATES[0] * _ROUNDING or rates[-1] < _DEFAULT_RATES[-1] / _ROUNDING
            or max(steps, default=math.inf) > _STEP * _ROUNDING):
        out.append(f"rates {rates[0]:g} … {rates[-1]:g} ({len(rates)}), not spanning "
                   f"{_DEFAULT_RATES[0]:g} … {_DEFAULT_RATES[-1]:g} in steps of "
                   f"{_STEP:.3g}x or finer")
    return out


def _frozen_search(grid: dict) -> list[str]:
    """A search some of whose runs float32 overflow froze (empty: none): each counted as a
    failure of its setting, so the rate chosen may not be the one a search in float64 chooses
    (:mod:`experiments.longrange.precision`). Where the search was repeated at the reported
    budget, that search alone decides the failure (its diverged runs are rerun in float64, which
    replace them in ``grid``), so only its frozen runs count."""
    searched = grid["full_budget"]["grid"] if "full_budget" in grid else grid["grid"]
    frozen = sorted({g["lr"] for g in searched if g.get("frozen")})
    if not frozen:
        return []
    return [f"{sum(g.get('frozen', 0) for g in searched)} runs of its rate search frozen by "
            f"float32 overflow (at rates {', '.join(f'{x:g}' for x in frozen)}), each counted "
            "against its setting"]


def _chosen_by_loss(grid: dict, T: int, rows) -> list[str]:
    """What a search whose rate was chosen by final loss lacks (empty: nothing): its repetition
    at the reported budget, or the reported ``rows`` at the setting that one chose (a success
    there, else the lowest final loss at that budget:
    :func:`experiments.longrange.full_search.rechosen`)."""
    if any(g["successes"] for g in grid["grid"]) or grid["budget"] >= required_budget(T):
        return []
    full = grid.get("full_budget")
    why = (f"a rate chosen by final loss (no setting succeeded within the search's "
           f"{grid['budget']} updates)")
    if full is None:
        return [why + f", and the search at {required_budget(T)} updates not yet run"]
    lr, init = full["lr"], full["recurrent_init"]
    if all((r["lr"], r["recurrent_init"]) == (lr, init) for r in rows):
        return []
    how = ("succeeded" if any(g["successes"] for g in full["grid"]) else
           "had the lowest final loss, none succeeding")
    return [why + f", while at {full['budget']} updates rate {lr:g} ({init} init) {how}: the "
            "reported runs at that rate are not yet run"]


def uncounted_failures(rows, grids) -> set[tuple[str, str, int]]:
    """The main-sweep cells ``(task, model, T)`` that do not learn (their Wilson interval not
    above ½) where their failures do not count yet (:func:`shortfall` non-empty): the figures
    draw their success fractions as measured but marked. A cell that learns is not marked, since
    its verdict does not rest on its failures. ``rows``: ``summary.json``'s rows; ``grids``: its
    rate grids."""
    searches = {(g["task"], g["T"], g["model"]): g for g in grids}
    cells: dict[tuple[str, str, int], list] = {}
    for r in rows:
        if r["ablation"] is None:
            cells.setdefault((r["task"], r["model"], r["T"]), []).append(r)
    return {(task, m, T) for (task, m, T), rs in cells.items()
            if side_of_half(sum(bool(r["success"]) for r in rs), len(rs)) != 1
            and shortfall(rs, searches.get((task, T, m)), T)}
