"""Result files: atomic writes that honour the umask, JSON, figures, the per-study index.

Every file an experiment writes goes through :func:`atomic_write_bytes`: a temporary file in the
same folder, ``fsync``, then ``os.replace``, so a reader (or a killed run) sees the old file or
the new one, never half of one. Wall-clock numbers never go into result files; they go to the
git-ignored ``timing.json`` beside them (:func:`record_timing`), so rerunning a committed preset
leaves ``results/`` unchanged except for figure files.

A run that is refused after it started writing is undone with :func:`journal`: every file
written through this module inside the block is recorded with its previous bytes, and
``rollback()`` puts them back (and removes the files and folders the block created).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rnnjax.train.files import atomic_write


class UserError(Exception):
    """Bad input from the person running the experiment: reported in one line, exit status 2."""


class RunStopped(UserError):
    """The run stopped while computing (e.g. one of its processes died): one line, exit status
    2, and unlike a refusal the results written so far are kept (rerun to resume)."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (mode ``0666 & ~umask``), creating its folder."""
    path = Path(path)
    if _journals:
        _journals[-1].record(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    return path


class _Journal:
    """The previous state of every file written, and the folders created, since it began."""

    def __init__(self):
        self.files: dict[Path, bytes | None] = {}
        self.folders: list[Path] = []

    def record(self, path: Path) -> None:
        key = path.absolute()
        if key not in self.files:
            self.files[key] = key.read_bytes() if key.is_file() else None
        missing = [d for d in [key.parent, *key.parent.parents] if not d.exists()]
        self.folders += [d for d in reversed(missing) if d not in self.folders]

    def rollback(self) -> None:
        for path, old in reversed(self.files.items()):
            if old is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, old)
        for folder in reversed(self.folders):
            with contextlib.suppress(OSError):  # not empty: something else wrote there
                folder.rmdir()


@contextlib.contextmanager
def journal() -> Iterator[Callable[[], None]]:
    """Record what the files written inside the block held before; yields ``rollback()``.

    ``rollback()`` restores each file's previous bytes (atomically), deletes the files that did
    not exist, and removes the folders the block created if they are empty again.
    """
    entry = _Journal()
    _journals.append(entry)
    try:
        yield entry.rollback
    finally:
        _journals.remove(entry)


_journals: list[_Journal] = []


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def to_json(obj: Any, *, compact: bool = False) -> str:
    """JSON text of ``obj`` (arrays, dataclasses, tuples and sets allowed), newline-terminated."""
    if compact:
        return json.dumps(obj, separators=(",", ":"), default=_json_default) + "\n"
    return json.dumps(obj, indent=2, default=_json_default) + "\n"


def write_json(path: str | os.PathLike, obj: Any, *, compact: bool = False) -> Path:
    return write_text(path, to_json(obj, compact=compact))


def read_json(path: str | os.PathLike) -> Any:
    """Load a result file; a missing or unreadable one is a :class:`UserError`."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist: run the experiment first (without --plot-only)")
    try:
        return json.loads(path.read_bytes().decode())
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text: expected a JSON file") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder: expected a JSON file") from None


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values (tuples become lists), for comparing settings."""
    return json.loads(json.dumps(obj, default=_json_default))


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy / jax arrays and scalars
        return o.tolist()
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def record_timing(workdir: str | os.PathLike, name: str, seconds: float, *,
                  add: bool = False) -> None:
    """Record ``name: seconds`` in ``<workdir>/timing.json`` (git-ignored: wall clock is no
    result); ``add`` adds them to the time already recorded (a run resumed in another sitting)."""
    path = Path(workdir) / "timing.json"
    try:
        timing = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        timing = {}
    before = timing.get(name, 0.0) if add and isinstance(timing.get(name), (int, float)) else 0.0
    timing[name] = round(before + float(seconds), 1)
    write_json(path, timing)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 150) -> Path:
    """Save a matplotlib figure atomically (PNG) and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight",
                metadata={"Software": None})  # no matplotlib version stamp: reruns stay identical
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def write_index(workdir: str | os.PathLike, *, title: str, headline: str,
                figures: Sequence[tuple[str, str]], tables: Sequence[str] = ()) -> Path:
    """Record what this experiment produced, for ``results/README.md``.

    Args:
      title: the study's name as a reader would say it.
      headline: one line with the number that matters (measured, with its comparison).
      figures: ``(file name inside workdir, one-line caption)`` pairs.
      tables: file names of JSON/CSV tables inside workdir.
    """
    return write_json(Path(workdir) / "index.json", {
        "title": title, "headline": headline,
        "figures": [{"file": f, "caption": c} for f, c in figures], "tables": list(tables),
    })
