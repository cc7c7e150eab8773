"""Confirm a reproduction: rerun studies' quick presets in a temporary folder and compare.

    python -m experiments.check                  # every study
    python -m experiments.check hopfield char_lm # some

Nothing in ``results/`` is touched: each study's quick preset runs in a temporary workdir and
every number of every JSON result file there is compared with the committed file of the same
name in ``results/<study>/``, within the study's relative tolerance for that quantity
(``Study.tolerances``, by JSON key, the nearest enclosing key's for a number whose own key has
none; ``Study.default_tolerance`` otherwise). Numbers differ
when ``|a - b| > tol * max(|a|, |b|)`` and ``|a - b| > Study.absolute_tolerance``. A table of
what differs is printed; the exit status is 1 if anything differs, 2 on bad input.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from experiments.__main__ import RESULTS, load_study, study_names
from experiments.common import UserError

SKIP_KEYS = {"command", "headline"}  # its own workdir; a sentence of the numbers compared


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


def check_study(name: str, results: Path = RESULTS) -> list[tuple]:
    """Rerun ``name``'s quick preset in a temporary workdir; rows that differ (file first)."""
    module = load_study(name)
    study = getattr(module, "STUDY", None)
    tolerances = dict(study.tolerances) if study else {}
    default = study.default_tolerance if study else 1e-4
    absolute = study.absolute_tolerance if study else 1e-12
    skip = frozenset(study.unchecked) if study else frozenset()
    committed_dir = results / name
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"check-{name}-") as tmp:
        status = module.main(["--quick", "--workdir", tmp])
        if status != 0:
            return [(name, "run", "ok", f"exit status {status}", math.inf, 0.0)]
        for rerun_file in sorted(Path(tmp).rglob("*.json")):
            rel = rerun_file.relative_to(tmp)
            if rel.parts[0] in ("checkpoints", "runs") or "checkpoints" in rel.parts \
                    or rel.name in ("timing.json", "metrics.json") or rel.name in skip:
                continue
            committed_file = committed_dir / rel
            if not committed_file.exists():
                continue
            diffs = compare(json.loads(committed_file.read_text()), json.loads(rerun_file.read_text()),
                            tolerances, default, absolute, skip)
            rows += [(str(rel), *d) for d in diffs]
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        names = study_names(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = False
    for name in names:
        rows = check_study(name)
        if not rows:
            print(f"{name}: every number matches the committed results")
            continue
        failed = True
        print(f"{name}: {len(rows)} numbers differ")
        print(f"  {'file':<24} {'quantity':<40} {'committed':>14} {'rerun':>14} {'rel diff':>9} {'tol':>7}")
        for f, path, x, y, diff, tol in rows[:200]:
            print(f"  {f:<24} {path:<40} {str(x):>14.14} {str(y):>14.14} {diff:9.2g} {tol:7.2g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
