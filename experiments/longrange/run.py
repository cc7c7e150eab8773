"""Run the sweep: every program cached on its own settings, then ``summary.json`` and ``curves.json``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax

from experiments.common import cached_part, num_steps, write_json
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
    interrupted sweep leaves usable partial results.
    """
    if config.execution.distributed:  # multi-host: every process runs this same command
        jax.distributed.initialize()
    runs = workdir / "runs"
    rows, curves = [], []
    for group in plan(config):
        result = cached_part(runs, group.name, group_settings(config, group),
                             lambda group=group: train_group(config, group, runs))
        r, c = rows_and_curves(config, group, result)
        rows += r
        curves += c
        write_json(workdir / "summary.json", {"complete": False, "rows": rows})
        write_json(workdir / "curves.json", curves)
    write_json(workdir / "summary.json", {"complete": True, "rows": rows})
