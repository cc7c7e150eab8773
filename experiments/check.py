"""Confirm a reproduction: rerun studies' quick presets in a temporary folder and compare.

    python -m experiments.check                  # every study
    python -m experiments.check hopfield char_lm # some
    python -m experiments.check --results ../clone/results   # a finished main job's results

Nothing in ``results/`` is touched: each study's quick preset runs in a temporary workdir and
every result file there (JSON, markdown and other text tables, ``.npz`` arrays; not figures,
whose pixels vary with the plotting library) is compared with the committed file of the same
name in the study's quick workdir (``results/<study>/``; folders below it that hold another
preset's results, with their own ``config.json``, are not part of it):

- JSON, value by value, within the study's relative tolerance for that quantity
  (``Study.tolerances``, by JSON key, the nearest enclosing key's for a number whose own key has
  none; ``Study.default_tolerance`` otherwise). Numbers differ when
  ``|a - b| > tol * max(|a|, |b|)`` and ``|a - b| > Study.absolute_tolerance``; NaN equals only
  NaN, infinities only themselves. Types must match: a number is not a boolean (``1.0`` is not
  ``true``), a string or null, and an empty list is not an empty object (integers and floats
  are both numbers).
- Text (markdown tables, the ``headline`` of ``index.json``): the words must be equal, and
  each printed number within tolerance of its counterpart, allowing for the rounding of the
  printed digits (half a unit in the last place of each); the tolerance is the one named for
  the file (or ``headline``) in ``Study.tolerances``, else the study's loosest.
- ``.npz`` arrays: the same names, dtypes and shapes, and values within the array name's
  tolerance (NaN where NaN).

A file that cannot be read (empty, truncated, not UTF-8, a folder where a file belongs) is one
row naming why. A result file made by only one of the two runs differs, and so does a run that
fails. Run state (``checkpoints/``, ``runs/``, ``timing.json``) is not a result and is left out.
``--results DIR`` reruns nothing: it compares the quick results
that ``python -m experiments`` already wrote under ``DIR`` (another clone's ``results/``, say, so that
the main job and its check cost one run).

A table of what differs is printed; the exit status is 1 if anything differs, 2 on bad input.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.__main__ import load_study, study_names
from experiments.common import Study, UserError

ROOT = Path(__file__).resolve().parents[1]
SKIP_KEYS = {"command"}  # the command names its own workdir
TEXT_KEYS = {"headline"}  # sentences: compared as text with numbers
RUN_STATE_DIRS = {"checkpoints", "runs"}
RUN_STATE_FILES = {"timing.json", "metrics.json"}
SUFFIXES = {".json", ".md", ".csv", ".txt", ".npz"}
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

Row = tuple[str, str, Any, Any, float, float]  # file, quantity, committed, rerun, rel diff, tol


def leaves(obj: Any, path: str = "", skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, str, Any]]:
    """``(path, last key, value)`` of every number, string, bool, null and empty list or object
    in a JSON tree."""
    if isinstance(obj, (dict, list)) and not obj:
        yield path, path.rsplit(".", 1)[-1].split("[", 1)[0], obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if k not in SKIP_KEYS and k not in skip:
                yield from leaves(v, f"{path}.{k}" if path else k, skip)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{path}[{i}]", skip)
    else:
        yield path, path.rsplit(".", 1)[-1].split("[", 1)[0], obj


def compare(committed: Any, rerun: Any, tolerances: dict[str, float], default: float,
            absolute: float = 1e-12, skip: frozenset[str] = frozenset()) -> list[tuple]:
    """Rows ``(path, committed, rerun, relative difference, tolerance)`` that differ."""
    a = {p: (k, v) for p, k, v in leaves(committed, skip=skip)}
    b = {p: (k, v) for p, k, v in leaves(rerun, skip=skip)}
    out = []
    for path in sorted(a.keys() | b.keys()):
        if path not in a or path not in b:
            out.append((path, a.get(path, (None, "missing"))[1], b.get(path, (None, "missing"))[1],
                        math.inf, 0.0))
            continue
        key, x = a[path]
        y = b[path][1]
        if key in TEXT_KEYS and isinstance(x, str) and isinstance(y, str):
            tol = tolerances.get(key, max([default, *tolerances.values()]))
            out += [(f"{path}{q}", *row) for q, *row in compare_text(x, y, tol, absolute)]
            continue
        tol = _tolerance(path, key, tolerances, default)
        diff = value_difference(x, y, tol, absolute)
        if diff is not None:
            out.append((path, x, y, diff, tol))
    return out


def value_difference(x: Any, y: Any, tol: float, absolute: float) -> float | None:
    """The relative difference of two JSON values if they differ (inf for another type or a
    non-finite mismatch), None if they match."""
    if _is_number(x) and _is_number(y):
        if x == y or math.isnan(x) and math.isnan(y):
            return None
        if not (math.isfinite(x) and math.isfinite(y)):
            return math.inf
        diff = abs(x - y) / max(abs(x), abs(y))
        return diff if diff > tol and abs(x - y) > absolute else None
    if _json_type(x) != _json_type(y) or x != y:
        return math.inf
    return None


def _json_type(v: Any) -> str:
    return "number" if _is_number(v) else type(v).__name__


def compare_text(x: str, y: str, tol: float, absolute: float) -> list[tuple]:
    """Rows ``(where, committed, rerun, rel diff, tol)`` where two texts differ: their words
    (the text with numbers masked), or a printed number beyond ``tol`` plus the rounding of
    its printed digits."""
    if NUMBER.sub("#", x) != NUMBER.sub("#", y):
        i = next((i for i, (c, d) in enumerate(zip(x, y, strict=False)) if c != d), min(len(x), len(y)))
        return [(f" (text at character {i})", x[max(0, i - 10):i + 20], y[max(0, i - 10):i + 20],
                 math.inf, tol)]
    out = []
    for n, (p, q) in enumerate(zip(NUMBER.findall(x), NUMBER.findall(y), strict=True)):
        u, v = float(p), float(q)
        slack = (_last_place(p) + _last_place(q)) / 2
        if abs(u - v) > tol * max(abs(u), abs(v)) + slack and abs(u - v) > absolute:
            out.append((f" (number {n + 1})", p, q, abs(u - v) / max(abs(u), abs(v)), tol))
    return out


def _last_place(printed: str) -> float:
    """A unit in the last printed place: 0.01 for ``"0.25"``, 1 for ``"550"``, 1e-5 for ``"2.2e-05"``."""
    mantissa, _, exponent = printed.lower().partition("e")
    decimals = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    return 10.0 ** (int(exponent or 0) - decimals)


def _tolerance(path: str, key: str, tolerances: dict[str, float], default: float) -> float:
    """The tolerance of the number's own key, else of its nearest enclosing key that has one
    (``exact_match.mean`` inherits ``exact_match``'s), else ``default``."""
    if key in tolerances:
        return tolerances[key]
    for ancestor in reversed([k.split("[", 1)[0] for k in path.split(".")[:-1]]):
        if ancestor in tolerances:
            return tolerances[ancestor]
    return default


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def result_files(folder: Path, skip: frozenset[str] = frozenset()) -> dict[str, Path]:
    """The result files (JSON, text tables, ``.npz``) of one preset's workdir, by path relative
    to it; a folder with such a name is listed too (it is reported as unreadable).

    Left out: run state, files named in ``skip``, and folders below that hold another preset's
    results (they have their own ``config.json``).
    """
    other_presets = {p.parent for p in folder.rglob("config.json") if p.parent != folder}
    out = {}
    for file in sorted(folder.rglob("*")):
        rel = file.relative_to(folder)
        if (file.suffix not in SUFFIXES or RUN_STATE_DIRS & set(rel.parts[:-1])
                or rel.name in RUN_STATE_FILES or rel.name in skip
                or any(d in file.parents for d in other_presets)
                or any(d in file.parents for d in out.values())):
            continue
        out[rel.as_posix()] = file
    return out


class Unreadable(Exception):
    """A result file that cannot be compared; the message says why."""


def load(path: Path) -> Any:
    """A result file's content: JSON values, text, or ``{name: array}``; :class:`Unreadable`."""
    if path.is_dir():
        raise Unreadable("a folder where a file belongs")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise Unreadable(f"cannot be read ({e.strerror})") from None
    if not data:
        raise Unreadable("empty")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return {k: arrays[k] for k in arrays.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise Unreadable(f"not a readable .npz archive ({str(e).splitlines()[0][:60]})") from None
    try:
        text = data.decode()
    except UnicodeDecodeError as e:
        raise Unreadable(f"not UTF-8 (byte {e.start})") from None
    if path.suffix != ".json":
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise Unreadable(f"not valid JSON ({e.msg} at line {e.lineno}: truncated?)") from None


def compare_files(rel: str, old: Path, new: Path, study: Study,
                  skip: frozenset[str] = frozenset()) -> list[Row]:
    """The rows where one result file differs from its rerun."""
    contents = []
    for path in (old, new):
        try:
            contents.append(load(path))
        except Unreadable as e:
            contents.append(e)
    if any(isinstance(c, Unreadable) for c in contents):
        why = "; ".join(f"{side} {c}" for side, c in zip(("committed", "rerun"), contents, strict=True)
                        if isinstance(c, Unreadable))
        a, b = ("unreadable" if isinstance(c, Unreadable) else "ok" for c in contents)
        return [(rel, f"(unreadable: {why})", a, b, math.inf, 0.0)]
    committed, rerun = contents
    tolerances = dict(study.tolerances)
    if old.suffix == ".npz":
        return [(rel, *row) for row in compare_arrays(committed, rerun, tolerances,
                                                      study.default_tolerance,
                                                      study.absolute_tolerance)]
    if old.suffix != ".json":
        tol = tolerances.get(old.name, max([study.default_tolerance, *tolerances.values()]))
        return [(rel, f"(text){q}", *row)
                for q, *row in compare_text(committed, rerun, tol, study.absolute_tolerance)]
    return [(rel, *d) for d in compare(committed, rerun, tolerances, study.default_tolerance,
                                       study.absolute_tolerance, skip)]


def compare_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray], tolerances: dict[str, float],
                   default: float, absolute: float) -> list[tuple]:
    """Rows ``(name, committed, rerun, rel diff, tol)`` where two ``.npz`` archives differ."""
    out = []
    for name in sorted(a.keys() | b.keys()):
        if name not in a or name not in b:
            out.append((name, "present" if name in a else "missing",
                        "present" if name in b else "missing", math.inf, 0.0))
            continue
        x, y = a[name], b[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            out.append((f"{name} (dtype, shape)", f"{x.dtype}{list(x.shape)}",
                        f"{y.dtype}{list(y.shape)}", math.inf, 0.0))
            continue
        tol = tolerances.get(name, default)
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_):
            if not np.array_equal(x, y):
                out.append((name, "values", "differ", math.inf, tol))
            continue
        u, v = x.astype(np.float64), y.astype(np.float64)
        nan = np.isnan(u) | np.isnan(v)
        same = (u == v) | np.isnan(u) & np.isnan(v)
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = np.abs(u - v)
            rel = np.where(same, 0.0, gap / np.maximum(np.abs(u), np.abs(v)))
        rel = np.where(nan & ~same, np.inf, np.nan_to_num(rel, nan=np.inf))
        bad = (rel > tol) & ~same & ((gap > absolute) | ~np.isfinite(gap))
        if bad.any():
            i = np.unravel_index(int(np.argmax(np.where(bad, rel, -1.0))), x.shape)
            out.append((f"{name}{list(map(int, i))} ({int(bad.sum())} of {x.size})",
                        x[i].item(), y[i].item(), float(rel[i]), tol))
    return out


def check(study: Study, committed: Path, run: Callable[[Sequence[str]], int],
          rerun: Path | None = None) -> list[Row]:
    """Rerun ``study``'s quick preset with ``run(argv) -> status`` in a temporary workdir (or take
    the finished rerun in ``rerun``) and compare its result files with those in ``committed``;
    the rows that differ."""
    if not (committed / "config.json").exists():
        return [(str(committed), "committed results", "missing", "-", math.inf, 0.0)]
    if rerun is not None:
        if not (rerun / "config.json").exists():
            return [(str(rerun), "rerun results", "present", "missing", math.inf, 0.0)]
        return compare_folders(study, committed, rerun)
    with tempfile.TemporaryDirectory(prefix=f"check-{study.name}-") as tmp:
        try:
            status = run(["--quick", "--workdir", tmp])
        except Exception as e:  # noqa: BLE001 - reported as a row; the other studies still run
            return [("(run)", "exit", "ok", f"{type(e).__name__}: {e}", math.inf, 0.0)]
        if status != 0:
            return [("(run)", "exit status", 0, status, math.inf, 0.0)]
        return compare_folders(study, committed, Path(tmp))


def compare_folders(study: Study, committed: Path, rerun: Path) -> list[Row]:
    """Every result file of two workdirs of ``study`` compared; the rows that differ."""
    skip = frozenset(study.unchecked)
    old, new = result_files(committed, skip), result_files(rerun, skip)
    rows: list[Row] = []
    for rel in sorted(old.keys() | new.keys()):
        if rel not in old or rel not in new:
            rows.append((rel, "(file)", "present" if rel in old else "missing",
                         "present" if rel in new else "missing", math.inf, 0.0))
            continue
        rows += compare_files(rel, old[rel], new[rel], study, skip)
    return rows


def check_study(name: str, root: Path = ROOT, results: Path | None = None) -> list[Row]:
    """:func:`check` of the study ``name`` against its committed quick results under ``root``
    (compared with its quick results under ``results`` instead of a rerun, when given)."""
    module = load_study(name)
    study = module.STUDY
    committed = study.workdir("quick")
    rerun = None if results is None else results / committed.name
    return check(study, committed if committed.is_absolute() else root / committed, module.main,
                 rerun)


def print_table(name: str, rows: list[Row], limit: int = 200) -> None:
    """What differs, one line per quantity: file, JSON path, committed, rerun, rel diff, tol."""
    if not rows:
        print(f"{name}: every number matches the committed results")
        return
    print(f"{name}: {len(rows)} differ")
    print(f"  {'file':<24} {'quantity':<40} {'committed':>14} {'rerun':>14} {'rel diff':>9} {'tol':>7}")
    for f, path, x, y, diff, tol in rows[:limit]:
        print(f"  {f:<24} {path:<40} {str(x):>14.14} {str(y):>14.14} {diff:9.2g} {tol:7.2g}")
    if len(rows) > limit:
        print(f"  ... and {len(rows) - limit} more")


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        results = _pop_results(argv)
        names = study_names(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    differ = []
    for name in names:
        how = f"comparing {results / name}" if results else "rerunning --quick in a temporary folder"
        print(f"== check {name}: {how}", flush=True)
        rows = check_study(name, root, results)
        print_table(name, rows)
        if rows:
            differ.append(name)
    if differ:
        print(f"differ from the committed results: {', '.join(differ)}", file=sys.stderr)
        return 1
    print(f"all {len(names)} studies match the committed results")
    return 0


def _pop_results(argv: list[str]) -> Path | None:
    """Remove ``--results DIR`` (or ``--results=DIR``) from ``argv``; DIR must be a folder."""
    for i, a in enumerate(argv):
        if a == "--results" or a.startswith("--results="):
            value = a.split("=", 1)[1] if "=" in a else (argv[i + 1] if i + 1 < len(argv) else "")
            del argv[i:i + (1 if "=" in a else 2)]
            if not value or not Path(value).is_dir():
                raise UserError(f"--results expects a results folder made by python -m experiments, "
                                f"got {value!r}")
            return Path(value)
        if a.startswith("-"):
            raise UserError(f"unknown flag {a!r}: expected study names and --results DIR")
    return None


if __name__ == "__main__":
    sys.exit(main())
