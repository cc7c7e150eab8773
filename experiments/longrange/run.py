"""Run the sweep: every program cached on its own settings, then ``summary.json`` and ``curves.json``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax

from experiments.common import cached_part, num_steps, write_json
from experiments.longrange import processes
from experiments.longrange.config import Config
from experiments.longrange.summary import rows_and_curves
from experiments.longrange.sweep import plan, train_group


def group_settings(config: Config, group) -> dict:
    """What one program's result depends on (not how it executes)."""
    return {"seed": config.seed, "steps": num_steps(config, config.train.steps),
            "train": dataclasses.asdict(config.train), "group": group.name,
            "members": [list(m) for m in group.members]}


def run(config: Config, workdir: Path) -> None:
    """Train every program (each resumable on its own under ``runs/``) and write the tables.

    The tables are rewritten after every program (``"complete": false`` until the last), so an
    interrupted sweep leaves usable partial results. With several processes
    (:mod:`experiments.longrange.processes`) every process runs this function and process 0
    alone writes.
    """
    children = []
    if config.execution.local_processes > 1:
        config, children = processes.launch_local(config, workdir)
    failed = True
    try:
        if processes.is_multiprocess(config):
            processes.initialize(config)
        _run(config, workdir)
        failed = False
    finally:
        processes.finish(config, children, failed)


def _run(config: Config, workdir: Path) -> None:
    runs = workdir / "runs"
    writer = not processes.is_worker(config)
    rows, curves = [], []
    for group in plan(config):
        if not writer:  # a worker: compute when process 0 does, write nothing
            if processes.announce(None):
                _train_split(config, group)
            continue
        computed = []

        def compute(group=group, computed=computed):
            computed.append(True)
            if not processes.is_multiprocess(config):
                return train_group(config, group, runs)
            processes.announce(True)
            return _train_split(config, group)

        result = cached_part(runs, group.name, group_settings(config, group), compute)
        if processes.is_multiprocess(config) and not computed:
            processes.announce(False)
        r, c = rows_and_curves(config, group, result)
        rows += r
        curves += c
        write_json(workdir / "summary.json", {"complete": False, "rows": rows})
        write_json(workdir / "curves.json", curves)
    if writer:
        write_json(workdir / "summary.json", {"complete": True, "rows": rows})


def _train_split(config: Config, group) -> dict:
    """This process's share of ``group``'s runs, trained without checkpoints, then gathered."""
    count, index = jax.process_count(), jax.process_index()
    counts = [processes.chunk(group.members, i, count)[1] for i in range(count)]
    mine, real = processes.chunk(group.members, index, count)
    return processes.gather(train_group(config, group, None, mine), real, counts)
