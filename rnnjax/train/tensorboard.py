"""Live training curves: TensorBoard event files next to ``metrics.jsonl``.

::

    pip install -e ".[tensorboard]"     # tensorboardX (the writer) and tensorboard (the viewer)
    tensorboard --logdir results/        # every run under it, updated while it trains

When ``tensorboardX`` is importable, :func:`rnnjax.train.fit` with a ``workdir`` also writes
every record it logs to ``metrics.jsonl`` as scalars of an event file in
``<workdir>/tensorboard/``: the same names and steps, ``loss`` as ``loss``; in a sweep (a value
per member) member ``i`` as ``loss/i``. Values that are not numbers, and non-finite ones (a
skipped update's), are left out. Without ``tensorboardX`` nothing changes. ``metrics.jsonl``
stays the record of a run; the event files hold wall-clock times and are not results
(``.gitignore`` keeps them out of ``results/``).

A resumed run writes a new event file that starts with a purge marker at the first step it logs,
so TensorBoard drops what an interrupted run had logged past the checkpoint it resumed from and
the curves equal ``metrics.jsonl``.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

SUBDIR = "tensorboard"


def available() -> bool:
    """Whether the optional writer (``tensorboardX``) is installed."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        return False
    return True


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """``{tag: value}`` of one metrics record: numbers kept, lists (sweep members) indexed.

    ``{"step": 3, "loss": [0.5, 0.7], "lr": 0.1, "note": "x"}`` → ``{"loss/0": 0.5,
    "loss/1": 0.7, "lr": 0.1}``. The step is the event's step, not a scalar.
    """
    out: dict[str, float] = {}

    def add(tag: str, value: Any) -> None:
        if isinstance(value, bool):
            out[tag] = float(value)
        elif isinstance(value, numbers.Real):
            out[tag] = float(value)
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                add(f"{tag}/{i}", v)

    for name, value in record.items():
        if name != "step":
            add(name, value)
    return out


class EventWriter:
    """Scalars of metrics records into ``<workdir>/tensorboard/`` (one event file per run)."""

    def __init__(self, workdir: str | Path, *, start: int):
        from tensorboardX import SummaryWriter

        self.directory = Path(workdir) / SUBDIR
        # TensorBoard drops earlier events at steps >= purge_step: those past the resumed checkpoint
        # one file per start: tensorboardX names files by the second, so two starts within one
        # second would otherwise write to the same file
        self._writer = SummaryWriter(str(self.directory), purge_step=start + 1, flush_secs=10,
                                     filename_suffix=f".from{start}")

    def write(self, record: dict[str, Any]) -> None:
        step = int(record["step"])
        for tag, value in scalars(record).items():
            if math.isfinite(value):
                self._writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class Tee:
    """A ``MetricsWriter`` that also writes each record to an :class:`EventWriter`.

    Everything but writing, flushing and closing (``path``, ``records``, ``digest``, ...) is the
    ``MetricsWriter``'s own, so the tee is a drop-in for it.
    """

    def __init__(self, metrics, events: EventWriter):
        self.metrics, self.events = metrics, events

    def __getattr__(self, name: str):
        return getattr(self.metrics, name)

    def write(self, record: dict[str, Any]) -> None:
        self.metrics.write(record)
        self.events.write(record)

    def flush(self) -> None:
        self.metrics.flush()
        self.events.flush()

    def close(self) -> None:
        try:
            self.metrics.close()
        finally:
            self.events.close()


def mirror(metrics, workdir: str | Path, *, start: int):
    """``metrics`` (a ``MetricsWriter``) teed into TensorBoard events when the writer is installed."""
    if not available():
        return metrics
    return Tee(metrics, EventWriter(workdir, start=start))
