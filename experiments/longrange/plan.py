"""Which programs the sweep runs: per T, the rate search, then the runs that report.

A *run* (:class:`Member`) is one model trained from one seed with one learning rate and
recurrent init, clipped or not. A *program* (:class:`Group`) is one (task, T, cell family,
gradient path, stage): its runs share one step function, so they are stacked on a leading axis
and trained by one jitted step per update (:mod:`experiments.longrange.sweep`).

At each T, shortest first, the sweep runs the rate search (``config.tune``, rounds of
:func:`tune_groups`: the grid, then one more rate beyond an edge while the chosen rate sits on
it; :func:`choose`), then the main sweep and its ablations at the chosen rates
(:func:`main_groups`), then more seeds where a verdict hinges (:func:`open_groups`), then twice
the budget where a failure ended during learning (:func:`longer_groups`), then, for a failure
a verdict rests on whose rate was chosen by final loss (no setting succeeded within the
search's budget), the whole search again at the reported budget, and the reported runs again
at the setting it chooses there (:mod:`experiments.longrange.full_search`). Tuning seeds are
``TUNE_SEED + s``, apart from the reported seeds ``0 .. n - 1``, so no reported run took part
in choosing its own rate.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from experiments.common import num_steps
from experiments.common.stats import side_of_half
from experiments.longrange.config import Config
from experiments.longrange.protocol import SEARCH, still_learning
from experiments.longrange.tasks import MODELS

TUNE_SEED = 1000  # tuning seeds are TUNE_SEED + s

class Member(NamedTuple):
    """One run on a program's sweep axis."""

    model: str
    seed: int
    lr: float
    init: str             # recurrent init: "default" (the model's own) or "gaussian"
    clip: bool
    ablation: str | None  # None: the main sweep; "tune"; "tune_full"; "no_clip"; "tbptt_k<k>";
    #                       "late_full"; "tbptt_late_k<k>"


class Group(NamedTuple):
    """One compiled program: a task, a T, a cell family, a gradient path, a stage, a budget."""

    task: str
    T: int
    family: str
    tbptt: int | None
    members: tuple[Member, ...]
    stage: str = "main"   # "main"; "tune<r>" for round r of the rate search; "more": the seeds
    #                       added to a cell whose verdict hinges on it (:func:`open_groups`);
    #                       "longer<r>": a cell rerun with 2^r x its budget (:func:`longer_groups`);
    #                       "tunefull": a search repeated at that budget; "rechosen": the
    #                       reported runs at the rate it chose, "rechosen_longer<r>" with 2^r x
    #                       their budget; "rechosen_more": seeds added to those
    #                       (:mod:`experiments.longrange.full_search`); "float64_<stage>": a
    #                       stage's float32 divergences (:mod:`experiments.longrange.precision`)
    budget: int = 0       # updates each run may take
    slice_of: tuple[int, int] | None = None  # (i, n): slice i of n of the program
    #                                          (:mod:`experiments.longrange.slices`)

    @property
    def name(self) -> str:
        cut = f"_tbptt{self.tbptt}" if self.tbptt else ""
        tune = f"_{self.stage}" if self.stage != "main" else ""
        piece = f"_slice{self.slice_of[0]}of{self.slice_of[1]}" if self.slice_of else ""
        return f"{self.task}_T{self.T}_{self.family}{cut}{tune}{piece}"


Setting = tuple[float, str]  # (learning rate, recurrent init)
Cell = tuple[str, int, str]  # (task, T, model)


def optimizer_of(model: str) -> str:
    """``sgd`` for the IRNN row trained as Le et al. (2015) did, ``adam`` for every other."""
    return "sgd" if model == "irnn_sgd" else "adam"


def by_family(members) -> dict[str, list[Member]]:
    """The runs grouped by cell family (one program each: they share a step function)."""
    out: dict[str, list[Member]] = {}
    for m in members:
        out.setdefault(MODELS[m.model][0], []).append(m)
    return out


def budget(config: Config, T: int) -> int:
    """A reported run's budget at T (``--steps`` overrides the rule at every T)."""
    return num_steps(config, config.train.budget(T))


def tune_budget(config: Config, T: int) -> int:
    """A tuning run's budget: ``tune.budget_fraction`` of :func:`budget`, rounded up to a whole
    number of evaluations."""
    every = config.train.eval_every
    return int(math.ceil(config.tune.budget_fraction * budget(config, T) / every) * every)


def lengths(config: Config) -> list[int]:
    """Every T that any task or ablation runs, shortest first."""
    abl = config.ablations
    return sorted({T for ts in config.sweep.tasks().values() for T in ts.lengths}
                  | ({*abl.lengths} if abl.kinds and abl.models else set()))


def late_lengths(config: Config) -> tuple[int, ...]:
    """The lengths T at which the ``tbptt_late`` ablation runs: its lengths with truncation
    ``k < T/2`` (``adding_late`` needs room for its second marker in ``[T/2, T − k)``)."""
    abl, k = config.ablations, config.train.tbptt_truncation
    if "tbptt_late" not in abl.kinds or not abl.models:
        return ()
    return tuple(T for T in abl.lengths if k < T // 2)


def tuned_cells(config: Config, T: int) -> list[Cell]:
    """The (task, T, model) cells at T whose rate is searched: every task's models, and the
    ``tbptt_late`` ablation's models on ``adding_late``, whose full-BPTT control is tuned on that
    task itself (a rate searched on the plain problem is carried to a harder one otherwise)."""
    cells = [(task, T, m) for task, ts in config.sweep.tasks().items()
             for m in ts.models if ts.runs(m, T) and m in config.tune.models]
    if T in late_lengths(config):
        cells += [("adding_late", T, m) for m in config.ablations.models
                  if m in config.tune.models]
    return cells


def _inits(config: Config, model: str) -> tuple[str, ...]:
    return config.tune.elman_inits if model == "elman" else ("default",)


def grid_ratio(rates) -> float:
    """The grid's step: its smallest ratio of neighbours (√10 when it has one rate)."""
    r = sorted(set(rates))
    return min(b / a for a, b in zip(r, r[1:], strict=False)) if len(r) > 1 else math.sqrt(10)


def next_rate(config: Config, rates, chosen: float) -> float | None:
    """The rate one grid step beyond ``chosen`` when it is the grid's smallest or largest, and
    the step stays in ``[tune.rate_floor, tune.rate_ceiling]``; else None."""
    r, step = sorted(set(rates)), grid_ratio(rates)
    if chosen == r[0]:
        new = float(f"{chosen / step:.3g}")
        return new if new >= config.tune.rate_floor * (1 - 1e-9) else None
    if chosen == r[-1]:
        new = float(f"{chosen * step:.3g}")
        return new if new <= config.tune.rate_ceiling * (1 + 1e-9) else None
    return None


def tune_groups(config: Config, T: int, extra: dict[Cell, list[Setting]],
                round_: int) -> list[Group]:
    """Round ``round_`` of the rate search at T: round 0 the whole grid for every tuned cell,
    later rounds the settings in ``extra`` (one rate beyond an edge per cell)."""
    tc = config.tune
    members: dict[str, list[Member]] = {}
    for cell in tuned_cells(config, T):
        task, _, model = cell
        settings = ([(lr, i) for lr in tc.learning_rates for i in _inits(config, model)]
                    if round_ == 0 else extra.get(cell, []))
        members.setdefault(task, []).extend(
            Member(model, TUNE_SEED + s, lr, init, True, "tune")
            for lr, init in settings for s in range(tc.seeds))
    return [Group(task, T, f, None, tuple(ms), f"tune{round_}", tune_budget(config, T))
            for task, ms in members.items() for f, ms in by_family(ms).items()]


def _score(rows) -> tuple:
    """Sort key of a setting's tuning rows: most successes, fewest median updates to success,
    lowest median final loss / baseline."""
    wins = [r["steps_to_success"] for r in rows if r["success"]]
    losses = [math.inf if r["loss_over_baseline"] is None else r["loss_over_baseline"]
              for r in rows]
    return (-len(wins), float(np.median(wins)) if wins else math.inf, float(np.median(losses)))


def choose(rows, search: str = "tune") -> dict[Cell, Setting]:
    """Each tuned cell's setting from its search's rows (``ablation == search``: ``tune``, or
    ``tune_full`` for the search repeated at the reported budget), by :func:`_score`; ties go
    to the smaller rate."""
    per: dict[Cell, dict[Setting, list[dict]]] = {}
    for r in rows:
        if r["ablation"] == search:
            cell = (r["task"], r["T"], r["model"])
            per.setdefault(cell, {}).setdefault((r["lr"], r["recurrent_init"]), []).append(r)
    return {cell: min(by_setting, key=lambda s: (_score(by_setting[s]), s[0]))
            for cell, by_setting in per.items()}


def cannot_be_chosen(members, first: list[int | None], next_eval: int) -> list[bool]:
    """Per run: a tuning run still training whose setting :func:`choose` can no longer pick.

    ``first[i]`` is run ``i``'s first update with success (None: not yet) and ``next_eval`` the
    earliest update at which a run that has not succeeded yet can. Once a setting of a cell
    (model) has succeeded in every one of its seeds, with median updates to success ``m``, a
    setting of the same cell with a seed still training can at best also succeed in every seed
    (it cannot have more successes), each remaining seed at ``next_eval``; when even that median
    exceeds ``m`` its score (:func:`_score`) is worse whatever its runs do, so they are stopped.
    A stopped setting then has fewer successes than the winner, so the choice, the grid's
    extensions (which compare new rates with the winner) and every reported run are those of
    the search run to its budget; only the stopped settings' own counts are lower bounds.
    A search repeated at the reported budget (``tune_full``, :mod:`~experiments.longrange.full_search`) asks
    only whether any of its runs succeeds: once one of a model's has, the model's others stop.
    Runs outside the rate search are never stopped.
    """
    won = {m.model for m, f in zip(members, first, strict=True)
           if m.ablation == "tune_full" and f is not None}
    settings: dict[tuple, list[int]] = {}
    for i, m in enumerate(members):
        if m.ablation == "tune":
            settings.setdefault((m.model, m.lr, m.init), []).append(i)
    bar: dict[str, tuple[float, int]] = {}  # model -> (median, seeds) of its best complete setting
    for (model, *_), idx in settings.items():
        if all(first[i] is not None for i in idx):
            m = (float(np.median([first[i] for i in idx])), -len(idx))
            bar[model] = min(bar.get(model, (math.inf, 0)), m)
    out = [m.ablation == "tune_full" and m.model in won and f is None
           for m, f in zip(members, first, strict=True)]
    for (model, *_), idx in settings.items():
        if model not in bar or all(first[i] is not None for i in idx) \
                or len(idx) > -bar[model][1]:  # more seeds: it could have more successes
            continue
        best = float(np.median([next_eval if first[i] is None else first[i] for i in idx]))
        if best > bar[model][0]:
            for i in idx:
                out[i] = first[i] is None
    return out


def extensions(config: Config, rows, best: dict[Cell, Setting]) -> dict[Cell, list[Setting]]:
    """The settings the next search round adds: for each cell whose chosen rate is at an edge
    of the rates tried with its init, the next rate beyond (see :func:`next_rate`)."""
    out = {}
    for cell, (lr, init) in best.items():
        tried = {r["lr"] for r in rows if r["ablation"] == "tune" and r["recurrent_init"] == init
                 and (r["task"], r["T"], r["model"]) == cell}
        new = next_rate(config, tried, lr)
        if new is not None:
            out[cell] = [(new, init)]
    return out


def grids(config: Config, rows, best: dict[Cell, Setting]) -> list[dict]:
    """Per tuned cell: every (rate, init) tried with its tuning successes / seeds (and its seeds
    stopped once it could no longer be chosen, ``pruned``: its successes a lower bound), the chosen
    setting, and whether the chosen rate is at an edge of the rates tried (only when the grid
    could not be extended further); ``full_budget``, where the search was repeated at the
    reported budget (:mod:`~experiments.longrange.full_search`), its budget and settings
    likewise (``pruned``: stopped once one of the model's runs succeeded), and the setting it
    chooses (:func:`~experiments.longrange.full_search.rechosen`), which ``best`` then holds."""
    out = []
    for cell, (lr, init) in best.items():
        tried, full = ([r for r in rows if r["ablation"] == a
                        and (r["task"], r["T"], r["model"]) == cell] for a in SEARCH)
        rates = sorted({r["lr"] for r in tried if r["recurrent_init"] == init})
        out.append({
            "task": cell[0], "T": cell[1], "model": cell[2], "lr": lr, "recurrent_init": init,
            "optimizer": optimizer_of(cell[2]), "grid": _tried(tried),
            "budget": max(r["budget"] for r in tried),
            "at_edge": lr in (rates[0], rates[-1]) and len(rates) > 1})
        if full:
            again = choose(full, "tune_full")[cell]
            out[-1]["full_budget"] = {"budget": max(r["budget"] for r in full), "lr": again[0],
                                      "recurrent_init": again[1], "grid": _tried(full)}
    return out


def _tried(rows) -> list[dict]:
    """Each (rate, init) of a search's ``rows`` with its successes, seeds, stopped seeds and
    seeds frozen by float32 overflow (:func:`~experiments.longrange.precision.frozen_at`)."""
    out = []
    for a, i in sorted({(r["lr"], r["recurrent_init"]) for r in rows}):
        at = [r for r in rows if (r["lr"], r["recurrent_init"]) == (a, i)]
        out.append({"lr": a, "recurrent_init": i, "successes": sum(r["success"] for r in at),
                    "seeds": len(at), "pruned": sum(bool(r.get("pruned")) for r in at),
                    "frozen": sum(r.get("frozen_at") is not None for r in at)})
    return out


def open_groups(config: Config, T: int, best: dict[Cell, Setting], rows,
                hinges: frozenset[Cell] | set[Cell] = frozenset(), round_: int = 0) -> list[Group]:
    """The seeds added where a verdict hinges (stage ``more``): each task's (model, T) cell of
    the main sweep whose success fraction in ``rows`` (its reported runs) is open, its Wilson
    95 % interval holding ½ (:func:`~experiments.common.stats.side_of_half`), or that is in
    ``hinges`` (a comparison of two cells whose interval holds its null value:
    :func:`experiments.longrange.report.paired_open`), gets the seeds from its count up to the
    task's ``open_seeds``, at the same rate and budget. A two-stage design: a cell resolved by
    its first seeds (with 5: all or none succeed) keeps them. The success rule's error rate is
    :func:`~experiments.common.stats.staged_error`'s (3.6 % for 5, then 10 seeds, against 3.1 %
    for 5 alone): the second look costs 0.5 points and stays under 5 %. ``round_`` r > 0: the
    same for the cells rerun with 2^r x the budget (:func:`longer_groups`), at that budget
    (stage ``longer<r>_more``)."""
    groups, B = [], budget(config, T) * 2 ** round_
    for task, ts in config.sweep.tasks().items():
        members = []
        for m in ts.models:
            runs = [r for r in rows if (r["task"], r["T"], r["model"], r["ablation"])
                    == (task, T, m, None)]
            if not runs or any(r["budget"] != B for r in runs) or (
                    (task, T, m) not in hinges
                    and side_of_half(sum(bool(r["success"]) for r in runs), len(runs))):
                continue
            members += [Member(m, s, *setting_of(config, best, (task, T, m)), True, None)
                        for s in range(len(runs), ts.open_seeds)]
        groups += [Group(task, T, f, None, tuple(ms), f"longer{round_}_more" if round_ else "more",
                         B) for f, ms in by_family(members).items()]
    return groups


def longer_groups(config: Config, T: int, best: dict[Cell, Setting], rows,
                  round_: int) -> list[Group]:
    """Round ``round_`` (1, 2, …) of budget doubling (stage ``longer<r>``): each task's (model, T)
    cell of the main sweep whose reported runs in ``rows`` ran round ``r − 1``'s budget (the
    budget times ``2^(r−1)``), do not learn (their success fraction's Wilson 95 % interval is
    not above ½) and were still learning when it ended
    (:func:`~experiments.longrange.protocol.still_learning`) is rerun, every seed, at the same
    rate with twice that budget, up to the task's ``longer`` rounds. A failure under a budget
    that ended during learning does not count (:mod:`experiments.longrange.protocol`): this
    gives it the budget that decides."""
    groups, before = [], budget(config, T) * 2 ** (round_ - 1)
    for task, ts in config.sweep.tasks().items():
        if round_ > ts.longer:
            continue
        members = []
        for m in ts.models:
            runs = sorted((r for r in rows if (r["task"], r["T"], r["model"], r["ablation"])
                           == (task, T, m, None)), key=lambda r: r["seed"])
            if (not runs or any(r["budget"] != before for r in runs) or not still_learning(runs)
                    or side_of_half(sum(bool(r["success"]) for r in runs), len(runs)) == 1):
                continue
            members += [Member(m, r["seed"], *setting_of(config, best, (task, T, m)), True, None)
                        for r in runs]
        groups += [Group(task, T, f, None, tuple(ms), f"longer{round_}", 2 * before)
                   for f, ms in by_family(members).items()]
    return groups


def setting_of(config: Config, best: dict[Cell, Setting], cell: Cell) -> Setting:
    """The (learning rate, init) a cell's reported runs train with."""
    return best.get(cell, (config.train.learning_rate, "default"))


def main_groups(config: Config, T: int, best: dict[Cell, Setting]) -> list[Group]:
    """The main sweep's and the ablations' programs at T. An ablation trains at its model's
    rate on its task at T: ``no_clip`` and ``tbptt`` at the plain adding problem's, ``late_full``
    and ``tbptt_late`` at the one searched for full BPTT on ``adding_late`` (the truncated run
    changes only the gradient path of its control)."""
    abl, k = config.ablations, config.train.tbptt_truncation
    groups, B = [], budget(config, T)
    adding = config.sweep.adding
    for task, ts in config.sweep.tasks().items():
        members = [Member(m, s, *setting_of(config, best, (task, T, m)), True, None)
                   for m in ts.models if ts.runs(m, T) for s in range(ts.seeds_of(m, T))]
        if task == "adding" and T in abl.lengths and "no_clip" in abl.kinds:
            members += [Member(m, s, *setting_of(config, best, (task, T, m)), False, "no_clip")
                        for m in abl.models for s in range(adding.seeds)]
        groups += [Group(task, T, f, None, tuple(ms), "main", B)
                   for f, ms in by_family(members).items()]
    if T not in abl.lengths or k >= T // 2:
        return groups

    def ablated(task, tbptt, tag):
        ms = [Member(m, s, *setting_of(config, best, (task, T, m)), True, tag)
              for m in abl.models for s in range(adding.seeds)]
        return [Group(task, T, f, tbptt, tuple(g), "main", B) for f, g in by_family(ms).items()]

    if "tbptt" in abl.kinds:
        groups += ablated("adding", k, f"tbptt_k{k}")
    if T in late_lengths(config):
        groups += ablated("adding_late", None, "late_full") + ablated("adding_late", k,
                                                                     f"tbptt_late_k{k}")
    return groups
