"""Confirm a reproduction: rerun studies' quick presets in a temporary folder and compare.

    python -m experiments.check                  # every study
    python -m experiments.check hopfield char_lm # some
    python -m experiments.check --results ../clone/results   # a finished main job's results

Nothing in ``results/`` is touched: each study's quick preset runs in a temporary workdir and
every number of every JSON result file there is compared with the committed file of the same
name in the study's quick workdir (``results/<study>/``; folders below it that hold another
preset's results, with their own ``config.json``, are not part of it), within the study's
relative tolerance for that quantity (``Study.tolerances``, by JSON key, the nearest enclosing
key's for a number whose own key has none; ``Study.default_tolerance`` otherwise). Numbers
differ when ``|a - b| > tol * max(|a|, |b|)`` and ``|a - b| > Study.absolute_tolerance``; other
values (strings, booleans, null) must be equal. A result file made by only one of the two runs
differs, and so does a run that fails. Run state (``checkpoints/``, ``runs/``, ``timing.json``)
is not a result and is left out. ``--results DIR`` reruns nothing: it compares the quick results
that ``python -m experiments`` already wrote under ``DIR`` (another clone's ``results/``, say, so that
the main job and its check cost one run).

A table of what differs is printed; the exit status is 1 if anything differs, 2 on bad input.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from experiments.__main__ import load_study, study_names
from experiments.common import Study, UserError

ROOT = Path(__file__).resolve().parents[1]
SKIP_KEYS = {"command", "headline"}  # its own workdir; a sentence of the numbers compared
RUN_STATE_DIRS = {"checkpoints", "runs"}
RUN_STATE_FILES = {"timing.json", "metrics.json"}

Row = tuple[str, str, Any, Any, float, float]  # file, quantity, committed, rerun, rel diff, tol


def leaves(obj: Any, path: str = "", skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, str, Any]]:
    """``(path, last key, value)`` of every number, string, bool or null in a JSON tree."""
    if isinstance(obj, dict):
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
        tol = _tolerance(path, key, tolerances, default)
        if _is_number(x) and _is_number(y):
            if math.isnan(x) and math.isnan(y) or x == y:
                continue
            diff = abs(x - y) / max(abs(x), abs(y)) if math.isfinite(x) and math.isfinite(y) else math.inf
            if diff > tol and abs(x - y) > absolute:
                out.append((path, x, y, diff, tol))
        elif x != y:
            out.append((path, x, y, math.inf, tol))
    return out


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
    """The JSON result files of one preset's workdir, by path relative to it.

    Left out: run state, files named in ``skip``, and folders below that hold another preset's
    results (they have their own ``config.json``).
    """
    other_presets = {p.parent for p in folder.rglob("config.json") if p.parent != folder}
    out = {}
    for file in sorted(folder.rglob("*.json")):
        rel = file.relative_to(folder)
        if (RUN_STATE_DIRS & set(rel.parts[:-1]) or rel.name in RUN_STATE_FILES or rel.name in skip
                or any(d in file.parents for d in other_presets)):
            continue
        out[rel.as_posix()] = file
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
        diffs = compare(json.loads(old[rel].read_text()), json.loads(new[rel].read_text()),
                        dict(study.tolerances), study.default_tolerance,
                        study.absolute_tolerance, skip)
        rows += [(rel, *d) for d in diffs]
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
