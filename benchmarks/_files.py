"""Writing a benchmark report: JSON text, replaced in one rename (benchmarks import no study code,
so ``experiments`` may read their reports without a two-way dependency)."""

from __future__ import annotations

import json
import os
from typing import Any

from rnnjax.train.files import atomic_write


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``; NumPy and JAX numbers and arrays as Python values."""
    atomic_write(path, json.dumps(obj, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to a benchmark report")
