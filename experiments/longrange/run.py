"""Run the sweep, T by T: the rate search, then the reported runs; ``summary.json``, ``curves.json``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax

from experiments.common import cached_part, read_json, record_timing, write_json
from experiments.common.files import UserError
from experiments.common.parts import jsonable
from experiments.longrange import processes
from experiments.longrange.config import Config
from experiments.longrange.full_search import (
    full_search_groups,
    more_groups,
    rechosen,
    rerun_groups,
)
from experiments.longrange.plan import (
    choose,
    extensions,
    grids,
    lengths,
    longer_groups,
    main_groups,
    open_groups,
    tune_groups,
)
from experiments.longrange.precision import float64_groups, in_float64
from experiments.longrange.report import paired_open
from experiments.longrange.slices import join, slices, training_order
from experiments.longrange.stopping import first_success
from experiments.longrange.summary import rows_and_curves, supersede
from experiments.longrange.sweep import train_group

PARTS = "parts"  # the folder of the finished programs' results, as in every study


def group_settings(config: Config, group) -> dict:
    """What one program's result depends on (not how it executes)."""
    return {"seed": config.seed, "budget": group.budget,
            "train": dataclasses.asdict(config.train), "group": group.name,
            "members": [list(m) for m in group.members]}


def run(config: Config, workdir: Path) -> None:
    """Train every program (each resumable on its own) and write the tables.

    Each program is one part of the study: its result is ``parts/<name>.json`` (committed with
    the results, and reused by a rerun on any machine when its settings match); its checkpoints
    are under the git-ignored ``runs/``. The tables are rewritten after every program (``"complete": false``
    until the last), so an interrupted sweep leaves usable partial results; with
    ``--execution.no-compute`` nothing is trained and the cells without a finished program
    are listed as not yet run (with a cell whose rate search is unfinished, its reported runs:
    they have no rate yet; every other cell at that T is tabulated). With several processes
    (:mod:`experiments.longrange.processes`) every process runs :func:`compute_share` and
    process 0 alone writes.
    """
    _run(config, workdir)


def compute_share(config: Config, workdir: Path) -> None:
    """One process of a multi-process run (already joined): its share, then leave the runtime
    (a barrier of all processes)."""
    _run(config, workdir)
    jax.distributed.shutdown()


def _run(config: Config, workdir: Path) -> None:
    writer = not processes.is_worker(config)
    if writer:
        _refuse_old_folder(workdir)
    multi = processes.is_multiprocess(config)
    done: list[tuple] = []     # (group, result) of the finished programs
    missing: list = []         # the groups without a result (compute=False)
    best: dict = {}

    def run_groups(groups) -> list[dict]:
        rows = []
        for group in groups:
            result = _program(config, group, workdir, writer, _prior(best, group))
            if not writer:
                continue
            if result is None:
                missing.append(group)
                continue
            done.append((group, result))
            rows += rows_and_curves(config, group, result, best)[0]
            _write_tables(config, workdir, done, missing, best, complete=False)
        return rows

    def reported_runs(groups) -> list[dict]:
        """``run_groups`` on one stage's reported runs, then the float64 reruns of those that
        diverged in float32 (:mod:`~experiments.longrange.precision`), which replace them."""
        rows = run_groups(groups)
        wide = _shared(config, run_groups, float64_groups(rows, groups[0].stage)
                       if writer and groups else [])
        return supersede(rows + wide)[0]

    for T in lengths(config):
        round_, extra, tune_rows = 0, {}, []
        unsearched: set = set()  # cells whose search lacks a result (compute=False): no rate
        while True:
            groups = tune_groups(config, T, extra, round_)
            if multi:
                groups = processes.share(groups)
            if not groups:
                break
            before = len(missing)
            tune_rows += run_groups(groups)
            unsearched |= {(g.task, T, m.model) for g in missing[before:] for m in g.members}
            chosen = ({c: s for c, s in choose(tune_rows).items() if c not in unsearched}
                      if writer else {})
            best.update(chosen)
            extra = extensions(config, tune_rows, chosen) if writer else {}
            if multi:
                extra = processes.share(extra)
            if not extra:
                break
            round_ += 1
        groups = main_groups(config, T, best)
        if multi:
            groups = processes.share(groups)
        # a program runs once every run in it has its rate (each at its own task's cell)
        blocked = [g for g in groups if any((g.task, T, m.model) in unsearched for m in g.members)]
        missing.extend(blocked)
        reported = reported_runs([g for g in groups if g not in blocked])
        more = open_groups(config, T, best, reported, paired_open(reported, T)) if writer else []
        if multi:
            more = processes.share(more)
        cells = reported + reported_runs(more)
        for round_ in range(1, max((ts.longer for ts in config.sweep.tasks().values()), default=0) + 1):
            longer = longer_groups(config, T, best, cells, round_) if writer else []
            if multi:
                longer = processes.share(longer)
            if not longer:
                break
            cells = supersede(cells + reported_runs(longer))[0]
            more = open_groups(config, T, best, cells, round_=round_) if writer else []
            if multi:
                more = processes.share(more)
            cells += reported_runs(more)
        _retest(config, T, tune_rows, cells, best, writer, run_groups, reported_runs)
    if writer:
        _write_tables(config, workdir, done, missing, best, complete=not missing)


def _shared(config: Config, run_groups, groups) -> list[dict]:
    """``run_groups`` on ``groups`` (process 0's: a worker passes none), shared over the
    processes when there are several."""
    return run_groups(processes.share(groups) if processes.is_multiprocess(config) else groups)


def _retest(config: Config, T: int, tune_rows, cells, best: dict, writer: bool,
            run_groups, reported_runs) -> None:
    """The failures at T whose rate was chosen by final loss
    (:mod:`~experiments.longrange.full_search`): their search repeated at the reported budget
    (its runs that diverged in float32 rerun in float64 where none of the model's succeeded:
    :func:`~experiments.longrange.precision.float64_groups`), then the reported runs at the
    setting it chooses (``best`` records it) where theirs differs, with the budget doublings any
    reported runs get (stage ``rechosen_longer<r>``: they fail while still learning) and seeds
    added where their verdict is open."""
    searched = _shared(config, run_groups,
                       full_search_groups(config, T, tune_rows, cells) if writer else [])
    wide = _shared(config, run_groups, float64_groups(searched, "tunefull") if writer else [])
    chosen = rechosen(supersede(searched + wide)[0])
    best.update(chosen)
    rerun = _shared(config, reported_runs, rerun_groups(T, chosen, cells) if writer else [])
    for round_ in range(1, max((ts.longer for ts in config.sweep.tasks().values()), default=0) + 1):
        longer = [g._replace(stage=f"rechosen_{g.stage}")
                  for g in longer_groups(config, T, best, rerun, round_)] if writer else []
        if processes.is_multiprocess(config):
            longer = processes.share(longer)
        if not longer:
            break
        rerun = supersede(rerun + reported_runs(longer))[0]
    _shared(config, reported_runs, more_groups(config, T, chosen, rerun) if writer else [])


def _refuse_old_folder(workdir: Path) -> None:
    """A workdir whose finished programs are still under their former folder name ``programs/``
    would silently retrain them: refuse it in one line."""
    old = workdir / "programs"
    if old.is_dir() and not (workdir / PARTS).exists():
        raise UserError(f"{old} holds finished programs under the former folder name: rename it "
                        f"to {workdir / PARTS} to reuse them")


def _prior(best: dict, group) -> dict[str, float]:
    """Each model's rate that orders the slices of a rate search
    (:func:`~experiments.longrange.slices.training_order`): the one chosen on the same task at
    the longest shorter T; for the search repeated at the reported budget (stage ``tunefull``,
    whose first success decides the rate: :mod:`~experiments.longrange.full_search`), the one
    its search chose at this T, which every command that runs T has, so the order does not
    depend on which shorter lengths a command includes."""
    at = (lambda t: t == group.T) if group.stage == "tunefull" else (lambda t: t < group.T)
    return {m: lr for (task, t, m), (lr, _) in sorted(best.items(), key=lambda c: c[0][1])
            if task == group.task and at(t)}


def _program(config: Config, group, workdir: Path, writer: bool,
             prior: dict[str, float]) -> dict | None:
    """One program's result: reused, or trained, in slices of at most ``execution.slice_runs``
    runs when it has more (:mod:`experiments.longrange.slices`), each slice resumable and saved
    on its own until the program's result replaces them, a rate search's in the order of
    :func:`~experiments.longrange.slices.training_order` (``prior``: each model's rate chosen
    at the longest shorter T); None when ``execution.compute`` is off and neither the program
    nor every one of its slices has a finished result."""
    pieces = slices(group, config.execution.slice_runs)
    if len(pieces) == 1:
        return _unit(config, group, workdir, writer)
    if not writer:  # a worker: train each slice when process 0 does
        if processes.announce(None):
            for i in processes.share(None):  # process 0's order (it alone knows the rates)
                _unit(config, pieces[i], workdir, False)
        return None
    parts, settings = workdir / PARTS, group_settings(config, group)
    if not config.execution.compute:
        found = _finished(parts, group.name, settings)
        if found is None:
            done = [_finished(parts, p.name, group_settings(config, p)) for p in pieces]
            found = None if None in done else join(done)
        return found
    multi, computed = processes.is_multiprocess(config), []

    def compute():
        computed.append(True)
        order = training_order(pieces, prior)
        if multi:
            processes.announce(True)
            processes.share(order)
        results, known = {}, ([], [])
        for i in order:
            results[i] = _unit(config, pieces[i], workdir, True, known)
            if group.stage.startswith("tune"):
                known = (known[0] + list(pieces[i].members), known[1] + first_success(
                    group.task, results[i], config.train.success_ratio))
        return join([results[i] for i in range(len(pieces))])

    result = cached_part(parts, group.name, settings, compute, compact=True,
                         trust_committed=config.execution.reuse_committed)
    if multi and not computed:
        processes.announce(False)
    if computed:  # the program's cost: its slices', over every sitting that trained one
        timing = read_json(parts / "timing.json")
        record_timing(parts, group.name, sum(timing.get(p.name, 0.0) for p in pieces))
    for piece in pieces:  # the program's result holds them now
        (parts / f"{piece.name}.json").unlink(missing_ok=True)
    return result


def _unit(config: Config, group, workdir: Path, writer: bool,
          known: tuple[list, list] = ([], [])) -> dict | None:
    """One program's (or slice's) result: reused, or trained (split over the processes when
    there are several); None when ``execution.compute`` is off and there is no finished result.
    ``known``: the search's earlier slices (:func:`experiments.longrange.sweep.train_group`)."""
    if not writer:  # a worker: compute when process 0 does, write nothing
        if processes.announce(None):
            _train_split(config, group)
        return None
    settings = group_settings(config, group)
    if not config.execution.compute:
        return _finished(workdir / PARTS, group.name, settings)
    computed = []

    def compute():
        computed.append(True)
        if not processes.is_multiprocess(config):
            return train_group(config, group, workdir / "runs", known=known)
        processes.announce(True)
        return _train_split(config, group)

    result = cached_part(workdir / PARTS, group.name, settings, compute, compact=True,
                         trust_committed=config.execution.reuse_committed,
                         run_state=workdir / "runs" / group.name)
    if processes.is_multiprocess(config) and not computed:
        processes.announce(False)
    return result


def _finished(folder: Path, name: str, settings: dict) -> dict | None:
    """A committed program result whose settings match, else None."""
    path = folder / f"{name}.json"
    if not path.exists():
        return None
    saved = read_json(path)
    return saved if saved.get("settings") == jsonable(settings) else None


def _cells(groups) -> set[tuple]:
    """The (task, T, model, variant) cells of ``groups``: the variant is the ablation, or
    ``more_seeds`` for the seeds added to a cell whose verdict hinges (stage ``more``),
    ``longer_budget`` for a cell rerun with a larger budget (stage ``longer<r>``), or
    ``rechosen_rate`` for a cell rerun at a rate its repeated search found (stages
    ``rechosen``, ``rechosen_more``), ``float64_rerun`` for its runs that diverged in float32,
    rerun in float64 (stage ``float64_<stage>``)."""
    def variant(stage: str, ablation: str | None) -> str | None:
        return ("more_seeds" if stage == "more" else "longer_budget" if stage.startswith("longer")
                else "rechosen_rate" if stage.startswith("rechosen")
                else "float64_rerun" if in_float64(stage) else ablation)

    return {(g.task, g.T, m.model, variant(g.stage, m.ablation)) for g in groups for m in g.members}


def _write_tables(config: Config, workdir: Path, done, missing, best, complete: bool) -> None:
    rows, curves = [], []
    for group, result in done:
        r, c = rows_and_curves(config, group, result, best)
        rows += r
        curves += c
    rows, curves, extended, replaced = supersede(rows, curves)
    finished = _cells(g for g, _ in done)
    planned = _cells(g for T in lengths(config)
                     for g in tune_groups(config, T, {}, 0) + main_groups(config, T, best))
    # a missing program is pending even where another of its cell's variant has finished
    pending = sorted(_cells(missing) | (planned - finished),
                     key=lambda c: (c[1], c[0], c[2], c[3] or ""))
    write_json(workdir / "summary.json", {
        "complete": complete,
        "protocol": "train to criterion: stop at success or budget; a rate per model and T",
        "grids": grids(config, rows, best),
        "extended": extended,
        "replaced": replaced,
        "not_yet_run": [{"task": t, "T": T, "model": m, "ablation": a}
                        for t, T, m, a in pending],
        "rows": rows})
    write_json(workdir / "curves.json", curves)


def _train_split(config: Config, group) -> dict:
    """This process's share of ``group``'s runs, trained without checkpoints, then gathered."""
    count, index = jax.process_count(), jax.process_index()
    counts = [processes.chunk(group.members, i, count)[1] for i in range(count)]
    mine, real = processes.chunk(group.members, index, count)
    return processes.gather(train_group(config, group, None, mine), real, counts)
