"""The training loop: resume, step, log, checkpoint, show progress.

::

    def batch_at(step):                       # the batch of update `step`, a pure function of it
        return task.batch(jax.random.fold_in(data_key, step), batch_size)

    state, history = rnnjax.train.fit(
        step_fn, state, batch_at, num_steps=2000, workdir="results/run",
        checkpoint_every=500, log_every=10, config=dataclasses.asdict(config),
    )

With a ``workdir``, rerunning the same call resumes from the latest checkpoint in
``<workdir>/checkpoints`` and trims ``<workdir>/metrics.jsonl`` back to that step. Because the
batch is a function of the step number and the step's key is ``fold_in(key, step)``, a run killed
at any moment (even SIGKILL) and resumed ends with exactly the parameters and metrics of an
uninterrupted run. A rich progress bar (step, loss, steps/s) is shown when stdout is a terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from rnnjax.train.checkpoint import Checkpointer
from rnnjax.train.metrics import MetricsWriter, read_metrics
from rnnjax.train.state import TrainState
from rnnjax.train.step import NonFiniteError, check_nonfinite_mode, describe_nonfinite

PyTree = Any


def _host_scalar(x: Any) -> Any:
    x = np.asarray(x)
    if x.ndim == 0:
        return x.item()
    return x.tolist()  # a sweep: one value per member


def fit(
    step_fn: Callable[[TrainState, PyTree], tuple[TrainState, dict]],
    state: TrainState,
    batch_at: Callable[[int], PyTree],
    *,
    num_steps: int,
    workdir: str | Path | None = None,
    checkpoint_every: int | None = None,
    keep: int = 3,
    log_every: int = 1,
    eval_fn: Callable[[TrainState], dict[str, Any]] | None = None,
    eval_every: int | None = None,
    config: Any = None,
    nonfinite: str = "stop",
    progress: bool | None = None,
    description: str = "train",
) -> tuple[TrainState, list[dict[str, Any]]]:
    """Train ``state`` up to ``num_steps`` updates; returns ``(state, logged records)``.

    Args:
      step_fn: ``(state, batch) -> (state, metrics)``, e.g. from :func:`make_step` (may donate).
      state: the initial state; also the template (structure, shapes) for restoring checkpoints.
      batch_at: ``step -> batch`` for the update taking the state from ``step`` to ``step + 1``.
      num_steps: total number of updates (counting those done before a resume).
      workdir: where ``metrics.jsonl`` and ``checkpoints/`` go; None keeps everything in memory.
      checkpoint_every: save every this many updates (and always at the end); None: only at the
        end. Needs ``workdir``.
      keep: number of checkpoints kept.
      log_every: write a metrics record every this many updates (and at the end).
      eval_fn: ``state -> dict`` of extra metrics (e.g. validation loss), run every
        ``eval_every`` updates (default: every log) and at the end; merged into the record.
      config: JSON-able description of the run stored in each checkpoint; resuming from a
        checkpoint with a different config raises :class:`CheckpointError`. Leave out what may
        change between a run and its resumption (e.g. the number of steps).
      nonfinite: ``"stop"`` raises :class:`NonFiniteError` at the first non-finite loss or
        gradient; ``"skip"`` skips those updates (the step never applies them) and goes on.
      progress: show a rich progress bar; default: only when stdout is a terminal.
      description: label of the progress bar.

    Each record is ``{"step": n, "time": seconds since start, <metrics>, <eval metrics>}`` with
    ``n`` the number of updates done; in a sweep (vmapped state) values are per-member lists.
    """
    check_nonfinite_mode(nonfinite)
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    if log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    if checkpoint_every is not None and workdir is None:
        raise ValueError("checkpoint_every needs a workdir to write checkpoints to")
    eval_every = eval_every or log_every

    ckpt = writer = None
    start = _start_step(state)
    try:
        if workdir is not None:
            workdir = Path(workdir)
            ckpt = Checkpointer(workdir / "checkpoints", keep=keep, config=config)
            restored = ckpt.restore_latest(like=state)
            if restored is not None:
                state = restored
                start = _start_step(state)
            writer = MetricsWriter(workdir / "metrics.jsonl", resume_step=start)
            records = writer.records
        else:
            records = []
        if start >= num_steps:
            return state, list(records)

        bar = _Progress(description, start, num_steps, enabled=progress)
        t0 = time.perf_counter()
        skipped = 0
        with bar:
            for s in range(start, num_steps):
                state, metrics = step_fn(state, batch_at(s))
                n = s + 1
                finite = np.asarray(metrics["finite"])
                if not finite.all():
                    host = jax.device_get(metrics)
                    if nonfinite == "stop":  # state.params are the last finite ones
                        raise NonFiniteError(describe_nonfinite(n, host, state.params))
                    skipped += int((~(finite > 0)).sum())
                last = n == num_steps
                if n % log_every == 0 or last:
                    record = {"step": n, "time": round(time.perf_counter() - t0, 4)}
                    record.update({k: _host_scalar(v) for k, v in metrics.items() if not k.startswith("_")})
                    if eval_fn is not None and (n % eval_every == 0 or last):
                        record.update({k: _host_scalar(v) for k, v in eval_fn(state).items()})
                    if skipped:
                        record["skipped_total"] = skipped
                    if writer is not None:
                        writer.write(record)
                    else:
                        records.append(record)
                    bar.update(n, record.get("loss"))
                if ckpt is not None and (last or (checkpoint_every and n % checkpoint_every == 0)):
                    if writer is not None:
                        writer.flush()
                    ckpt.save(n, state)
        return state, list(writer.records if writer is not None else records)
    finally:
        if writer is not None:
            writer.close()
        if ckpt is not None:
            ckpt.close()


def _start_step(state: TrainState) -> int:
    step = np.asarray(state.step)
    if step.ndim:  # a sweep: all members advance together
        if not (step == step.reshape(-1)[0]).all():
            raise ValueError(f"all members of a sweep must be at the same step, got {step.tolist()}")
        step = step.reshape(-1)[0]
    return int(step)


def load_history(workdir: str | Path) -> list[dict[str, Any]]:
    """The records of ``<workdir>/metrics.jsonl`` (what :func:`fit` logged)."""
    return read_metrics(Path(workdir) / "metrics.jsonl")


class _Progress:
    """A rich progress bar with step, loss and speed; silent when stdout is not a terminal."""

    def __init__(self, description: str, start: int, total: int, *, enabled: bool | None):
        self.enabled = sys.stdout.isatty() if enabled is None else enabled
        self.start, self.total, self.description = start, total, description
        self._progress = self._task = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[speed]} steps/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(
                self.description, total=self.total, completed=self.start, loss="-", speed="-"
            )
            self._t0, self._s0 = time.perf_counter(), self.start
        return self

    def update(self, step: int, loss: Any) -> None:
        if self._progress is None:
            return
        elapsed = time.perf_counter() - self._t0
        speed = (step - self._s0) / elapsed if elapsed > 0 else 0.0
        loss_text = "-" if loss is None else (
            f"{float(np.mean(loss)):.4g}" if np.ndim(loss) else f"{float(loss):.4g}"
        )
        self._progress.update(self._task, completed=step, loss=loss_text, speed=f"{speed:.1f}")

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
