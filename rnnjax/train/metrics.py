"""``metrics.jsonl``: one JSON object per logged step, safe against crashes.

::

    writer = MetricsWriter(workdir / "metrics.jsonl", resume_step=0)   # starts the file afresh
    writer.write({"step": 1, "loss": 2.3})
    records = read_metrics(workdir / "metrics.jsonl")                   # list of dicts

Each record is appended with a single ``write`` of a complete line, so a killed process leaves at
worst one incomplete last line; :func:`read_metrics` ignores such a line, and a line that is not
a JSON record anywhere else raises :class:`MetricsError` naming it. On resume from a checkpoint at
step ``s``, ``MetricsWriter(path, resume_step=s)`` atomically rewrites the file keeping only
records with ``step <= s`` (the ones that the checkpointed state had produced), so a resumed run's
file equals an uninterrupted run's file byte for byte; a torn last line dropped there is reported
in one warning line.

:func:`history_digest` summarises the records up to a step (their count, last step and the
SHA-256 of their lines); each checkpoint stores the digest of the history it was saved after, so
that a resume can tell a ``metrics.jsonl`` that lost or changed lines from an intact one.

Derived quantities can overflow where the logged one does not (a finite loss of 3e4 has no
finite perplexity): :func:`safe_exp` gives ``inf`` there instead of raising ``OverflowError``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from rnnjax.train.errors import MetricsError, log
from rnnjax.train.files import atomic_write, write_all


def safe_exp(x: Any) -> Any:
    """``exp(x)`` that overflows to ``inf`` (a float for a scalar, an array for an array).

    ``math.exp(30801.0)`` raises ``OverflowError``; a perplexity ``exp(loss)`` of a diverged run
    is better logged as ``inf``. NaN stays NaN.
    """
    with np.errstate(over="ignore"):
        out = np.exp(np.asarray(x, dtype=np.float64))
    return float(out) if out.ndim == 0 else out


def _clean(value: Any) -> Any:
    """Host scalars for JSON: numpy/jax scalars -> float/int; non-finite floats kept as NaN/Inf."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return value  # json writes NaN / Infinity, which json.loads reads back
    return value


def _line(record: dict[str, Any]) -> bytes:
    """The bytes :class:`MetricsWriter` writes for ``record`` (a parsed line gives them back)."""
    return (json.dumps(record) + "\n").encode()


def _digest(records: list[dict[str, Any]], sha) -> dict[str, Any]:
    last = records[-1].get("step") if records else None
    return {"records": len(records), "last_step": last, "sha256": sha.hexdigest()}


def history_digest(records: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"records": n, "last_step": s, "sha256": h}`` of ``records`` as ``metrics.jsonl`` lines.

    Equal for the records a :class:`MetricsWriter` wrote and for those read back from its file
    (JSON numbers round-trip exactly), so it compares a history by value.
    """
    sha = hashlib.sha256()
    for record in records:
        sha.update(_line(record))
    return _digest(records, sha)


def scan_metrics(path: str | os.PathLike) -> tuple[list[dict[str, Any]], str | None]:
    """``(records, torn)``: the complete records of ``path`` and its incomplete last line, if any.

    Raises :class:`MetricsError` for a malformed line anywhere but at the end.
    """
    path = Path(path)
    if not path.exists():
        return [], None
    lines = path.read_bytes().decode(errors="replace").split("\n")
    records: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        elif i == len(lines) - 1:  # no newline after it: cut short by a crash
            return records, line
        else:
            raise MetricsError(f"{path} line {i + 1} is not a JSON record ({line[:40]!r}): "
                               "repair or remove that line, or use a new workdir")
    return records, None


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete records of a ``metrics.jsonl`` file (an incomplete last line is ignored).

    A malformed line anywhere but the end raises :class:`MetricsError` (a ``ValueError``).
    """
    return scan_metrics(path)[0]


class MetricsWriter:
    """Append-only writer of ``metrics.jsonl`` (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, *, resume_step: int = 0):
        self.path = Path(path)
        self._fd = None
        records, torn = scan_metrics(self.path)
        kept = [r for r in records if r.get("step", 0) <= resume_step]
        if torn is not None:
            log.warning("%s: dropped its torn last line (a run stopped while writing it)", self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = b"".join(_line(r) for r in kept)
        atomic_write(self.path, text)
        self.records = kept
        self._sha = hashlib.sha256(text)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def write(self, record: dict[str, Any]) -> None:
        record = {k: _clean(v) for k, v in record.items()}
        line = _line(record)
        write_all(self._fd, line)  # one line per write
        self.records.append(record)
        self._sha.update(line)

    def digest(self) -> dict[str, Any]:
        """:func:`history_digest` of the records written so far (kept up to date as they are)."""
        return _digest(self.records, self._sha.copy())

    def flush(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
