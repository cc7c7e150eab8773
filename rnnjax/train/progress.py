"""Progress of a training loop: a rich bar on a terminal, plain lines otherwise.

On a terminal: a rich bar with step, loss, steps/s and times. When stdout is not a terminal (a
log file under ``nohup``, a cluster scheduler) one flushed line per report::

    train 120/2000 loss=1.873 elapsed=30.4s

at the first step, every :data:`PLAIN_EVERY_S` seconds and at the end.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

PLAIN_EVERY_S = 30.0


def _loss_text(loss: Any) -> str:
    if loss is None:
        return "-"
    return f"{float(np.mean(loss)):.4g}"  # a sweep: the members' mean


class Progress:
    """Context manager; ``update(step, loss)`` after each logged step. ``enabled=False``: silent."""

    def __init__(self, description: str, start: int, total: int, *, enabled: bool | None = None):
        self.start, self.total, self.description = start, total, description
        if enabled is False:
            self.mode = None
        else:
            self.mode = "bar" if sys.stdout.isatty() else "lines"
        self._bar = self._task = None
        self._t0 = self._last = 0.0

    def __enter__(self):
        self._t0 = time.perf_counter()
        self._last = None
        if self.mode == "bar":
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[speed]} steps/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(
                self.description, total=self.total, completed=self.start, loss="-", speed="-"
            )
        return self

    def update(self, step: int, loss: Any) -> None:
        now = time.perf_counter()
        elapsed = now - self._t0
        if self.mode == "bar":
            speed = (step - self.start) / elapsed if elapsed > 0 else 0.0
            self._bar.update(self._task, completed=step, loss=_loss_text(loss), speed=f"{speed:.1f}")
        elif self.mode == "lines":
            if self._last is None or now - self._last >= PLAIN_EVERY_S or step >= self.total:
                self._last = now
                print(f"{self.description} {step}/{self.total} loss={_loss_text(loss)} "
                      f"elapsed={elapsed:.1f}s", flush=True)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
