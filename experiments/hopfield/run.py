"""Every part of the study, each cached under its own settings (``<part>.json``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from experiments.common import cached_part, num_steps
from experiments.hopfield.attention import check_runs, run_attention, run_attention_task
from experiments.hopfield.classical import run_capacity, run_perfect_recall
from experiments.hopfield.config import Config
from experiments.hopfield.dense_memory import run_dense
from experiments.hopfield.modern_memory import run_modern
from experiments.hopfield.theorem5 import theorem5


def settings(config: Config, part: str, **extra) -> dict:
    """What part ``part``'s result depends on: the seed and its own config (and ``extra``)."""
    return {"seed": config.seed, **dataclasses.asdict(getattr(config, part)), **extra}


def parts(config: Config, workdir: Path) -> dict[str, tuple[dict, Callable[[], dict[str, Any]]]]:
    """Each part's name mapped to its settings and the function that computes it, in run order."""
    key = jax.random.key(config.seed)
    task_key = jax.random.fold_in(key, 5)    # shared by the equivalence checks and the task
    steps = num_steps(config, config.attention_task.steps)
    computes = {
        "capacity": lambda: run_capacity(config.capacity, jax.random.fold_in(key, 1), workdir,
                                         config.seed),
        "perfect_recall": lambda: run_perfect_recall(config.perfect_recall,
                                                     jax.random.fold_in(key, 2)),
        "dense": lambda: run_dense(config.dense, jax.random.fold_in(key, 3), workdir),
        "modern": lambda: run_modern(config.modern, jax.random.fold_in(key, 4)),
        "theorem5": lambda: theorem5(config.theorem5, jax.random.fold_in(key, 6)),
        "attention": lambda: run_attention(config.attention, task_key),
        "attention_task": lambda: run_attention_task(config.attention_task, config.seed, steps,
                                                     task_key, workdir),
    }
    return {name: (settings(config, name, **({"steps": steps} if name == "attention_task"
                                              else {})), compute)
            for name, compute in computes.items()}


def run(config: Config, workdir: Path) -> None:
    """Compute (or reuse) every part; the training runs keep checkpoints under ``runs/``."""
    check_runs(config.attention_task, config.seed, num_steps(config, config.attention_task.steps),
               jax.random.fold_in(jax.random.key(config.seed), 5), workdir)
    for name, (part_settings, compute) in parts(config, workdir).items():
        cached_part(workdir, name, part_settings, compute)
