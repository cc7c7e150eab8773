"""Every part of the study, each cached under its own settings (``<part>.json``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

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


def run(config: Config, workdir: Path) -> None:
    """Compute (or reuse) every part; the training runs keep checkpoints under ``runs/``."""
    key = jax.random.key(config.seed)
    task_key = jax.random.fold_in(key, 5)    # shared by the equivalence checks and the task
    steps = num_steps(config, config.attention_task.steps)
    check_runs(config.attention_task, config.seed, steps, task_key, workdir)
    parts = {
        "capacity": lambda: run_capacity(config.capacity, jax.random.fold_in(key, 1), workdir,
                                         config.seed),
        "perfect_recall": lambda: run_perfect_recall(config.perfect_recall,
                                                     jax.random.fold_in(key, 2)),
        "dense": lambda: run_dense(config.dense, jax.random.fold_in(key, 3)),
        "modern": lambda: run_modern(config.modern, jax.random.fold_in(key, 4)),
        "theorem5": lambda: theorem5(config.theorem5, jax.random.fold_in(key, 6)),
        "attention": lambda: run_attention(config.attention, task_key),
    }
    for name, compute in parts.items():
        cached_part(workdir, name, settings(config, name), compute)
    cached_part(workdir, "attention_task", settings(config, "attention_task", steps=steps),
                lambda: run_attention_task(config.attention_task, config.seed, steps, task_key,
                                           workdir))
