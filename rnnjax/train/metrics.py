"""``metrics.jsonl``: one JSON object per logged step, safe against crashes.

::

    writer = MetricsWriter(workdir / "metrics.jsonl", resume_step=0)   # starts the file afresh
    writer.write({"step": 1, "loss": 2.3})
    records = read_metrics(workdir / "metrics.jsonl")                   # list of dicts

Each record is appended with a single ``write`` of a complete line, so a killed process leaves at
worst one incomplete last line; :func:`read_metrics` ignores such a line. On resume from a
checkpoint at step ``s``, ``MetricsWriter(path, resume_step=s)`` atomically rewrites the file
keeping only records with ``step <= s`` (the ones that the checkpointed state had produced), so
a resumed run's file equals an uninterrupted run's file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def _clean(value: Any) -> Any:
    """Host scalars for JSON: numpy/jax scalars -> float/int; non-finite floats kept as NaN/Inf."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return value  # json writes NaN / Infinity, which json.loads reads back
    return value


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete records of a ``metrics.jsonl`` file (an incomplete last line is ignored).

    A malformed line anywhere but the end raises ``ValueError`` naming the line.
    """
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        last = i == len(lines) - 1  # no trailing newline: possibly cut short by a crash
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if last:
                break
            raise ValueError(f"{path}:{i + 1}: not a JSON object: {line[:80]!r}") from None
    return records


class MetricsWriter:
    """Append-only writer of ``metrics.jsonl`` (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, *, resume_step: int = 0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.records = kept
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def write(self, record: dict[str, Any]) -> None:
        record = {k: _clean(v) for k, v in record.items()}
        line = (json.dumps(record) + "\n").encode()
        os.write(self._fd, line)  # one write of one whole line
        self.records.append(record)

    def flush(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
