"""Run the sweep: the tuning stage, then the main sweep; ``summary.json`` and ``curves.json``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax

from experiments.common import cached_part, num_steps, write_json
from experiments.longrange import processes
from experiments.longrange.config import Config
from experiments.longrange.plan import best_settings, main_groups, tune_groups
from experiments.longrange.summary import rows_and_curves
from experiments.longrange.sweep import train_group


def group_settings(config: Config, group) -> dict:
    """What one program's result depends on (not how it executes)."""
    return {"seed": config.seed, "steps": num_steps(config, config.train.steps),
            "train": dataclasses.asdict(config.train), "group": group.name,
            "members": [list(m) for m in group.members]}


def run(config: Config, workdir: Path) -> None:
    """Train every program (each resumable on its own) and write the tables.

    Each finished program's result is ``programs/<name>.json`` (committed with the results, and
    reused by a rerun on any machine when its settings match); its checkpoints are under the
    git-ignored ``runs/``. The tables are rewritten after every program (``"complete": false``
    until the last), so an interrupted sweep leaves usable partial results. With several
    processes (:mod:`experiments.longrange.processes`) every process runs
    :func:`compute_share` and process 0 alone writes.
    """
    _run(config, workdir)


def compute_share(config: Config, workdir: Path) -> None:
    """One process of a multi-process run (already joined): its share, then leave the runtime
    (a barrier of all processes)."""
    _run(config, workdir)
    jax.distributed.shutdown()


def _run(config: Config, workdir: Path) -> None:
    writer = not processes.is_worker(config)
    results: dict[str, tuple] = {}  # program name -> (group, result)

    def run_stage(groups, best):
        for group in groups:
            result = _program(config, group, workdir, writer)
            if writer:
                results[group.name] = (group, result)
                _write_tables(config, workdir, list(results.values()), best, complete=False)

    run_stage(tune_groups(config), {})
    best = {}
    if writer and config.tune.models:
        best = best_settings(config, {n: r for n, (g, r) in results.items() if g.stage == "tune"})
    if processes.is_multiprocess(config):
        best = processes.share(best)
    run_stage(main_groups(config, best), best)
    if writer:
        _write_tables(config, workdir, list(results.values()), best, complete=True)


def _program(config: Config, group, workdir: Path, writer: bool) -> dict | None:
    """One program's result: reused, or trained (split over the processes when there are several)."""
    if not writer:  # a worker: compute when process 0 does, write nothing
        if processes.announce(None):
            _train_split(config, group)
        return None
    computed = []

    def compute():
        computed.append(True)
        if not processes.is_multiprocess(config):
            return train_group(config, group, workdir / "runs")
        processes.announce(True)
        return _train_split(config, group)

    result = cached_part(workdir / "programs", group.name, group_settings(config, group), compute,
                         compact=True,
                         trust_committed=config.execution.reuse_committed)
    if processes.is_multiprocess(config) and not computed:
        processes.announce(False)
    return result


def _write_tables(config: Config, workdir: Path, done, best, complete: bool) -> None:
    rows, curves = [], []
    for group, result in done:
        r, c = rows_and_curves(config, group, result, best)
        rows += r
        curves += c
    write_json(workdir / "summary.json", {
        "complete": complete,
        "tuned": {m: {"lr": lr, "init": init} for m, (lr, init) in best.items()},
        "rows": rows})
    write_json(workdir / "curves.json", curves)


def _train_split(config: Config, group) -> dict:
    """This process's share of ``group``'s runs, trained without checkpoints, then gathered."""
    count, index = jax.process_count(), jax.process_index()
    counts = [processes.chunk(group.members, i, count)[1] for i in range(count)]
    mine, real = processes.chunk(group.members, index, count)
    return processes.gather(train_group(config, group, None, mine), real, counts)
