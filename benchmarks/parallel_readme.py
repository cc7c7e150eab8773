"""The wall-time tables of parallel-in-time evaluation (docs/benchmarks.md), from the reports alone.

Every ``benchmarks/results/parallel_<device>.json`` written by
``python -m benchmarks.bench_parallel --device-report PATH`` becomes rows of two tables (linear
cells: scan against associative scan; nonlinear cells: scan against DEER and quasi-DEER), CPU
reports first. A device without a report has no rows. ``python -m experiments.readme`` puts the
result between ``<!-- benchmark: parallel -->`` and ``<!-- /benchmark -->`` in docs/benchmarks.md.
"""

from __future__ import annotations

import json
from pathlib import Path

PATTERN = "parallel_*.json"


def reports(folder: Path) -> list[dict]:
    """The device reports in ``folder``, CPU first, then by file name."""
    found = [json.loads(p.read_text()) for p in sorted(Path(folder).glob(PATTERN))]
    found = [r for r in found if "rows" in r and "platform" in r]
    return sorted(found, key=lambda r: r["platform"] != "cpu")


def device_name(report: dict) -> str:
    if report["platform"] == "cpu":
        return f"CPU ({report['cpu_count']} cores)"
    return f"{report['device']}"


def ms(x: float) -> str:
    return f"{x / 1e3:.2f} s" if x >= 1e3 else f"{x:.3g} ms"


def ratio(scan_ms: float, other_ms: float) -> str:
    """``scan / parallel``: above 1 the parallel method is faster."""
    return f"{scan_ms / other_ms:.2g}×"


def linear_table(found: list[dict]) -> list[str]:
    lines = ["| device | cell | B | T | scan | associative | speed-up | depth: scan → associative |",
             "|---|---|---|---|---|---|---|---|"]
    for r in found:
        for row in r["rows"]:
            if "associative" not in row["ms"]:
                continue
            t = row["ms"]
            lines.append(f"| {device_name(r)} | {row['cell']}({row['hidden']}) | {row['B']} | "
                         f"{row['T']:,} | {ms(t['scan'])} | {ms(t['associative'])} | "
                         f"{ratio(t['scan'], t['associative'])} | "
                         f"{row['T']:,} → {row['depth']['associative']} |")
    return lines


def solve(row: dict, k: str) -> str:
    """``time (iterations[, not converged])`` of one Newton method."""
    done = "" if row["converged"][k] else ", not converged"
    return f"{ms(row['ms'][k])} ({row['iterations'][k]}{done})"


def newton_table(found: list[dict]) -> list[str]:
    lines = ["| device | cell | B | T | scan | DEER (iterations) | quasi-DEER (iterations) | "
             "speed-up DEER / quasi-DEER | depth: scan → DEER / quasi-DEER |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in found:
        for row in r["rows"]:
            if "newton_full" not in row["ms"]:
                continue
            t = row["ms"]
            lines.append(f"| {device_name(r)} | {row['cell']}({row['hidden']}) | {row['B']} | "
                         f"{row['T']:,} | {ms(t['scan'])} | {solve(row, 'newton_full')} | "
                         f"{solve(row, 'newton_diagonal')} | {ratio(t['scan'], t['newton_full'])} / "
                         f"{ratio(t['scan'], t['newton_diagonal'])} | {row['T']:,} → "
                         f"{row['depth']['newton_full']} / {row['depth']['newton_diagonal']} |")
    return lines


def summary(report: dict) -> str:
    """One sentence per device: the range of speed-ups of each parallel method."""
    spans = {}
    for row in report["rows"]:
        for k, v in row["ms"].items():
            if k != "scan":
                spans.setdefault(k, []).append(row["ms"]["scan"] / v)
    names = {"associative": "the associative scan", "newton_full": "DEER",
             "newton_diagonal": "quasi-DEER"}
    parts = [f"{names[k]} {min(v):.2g}–{max(v):.2g}×" for k, v in spans.items()]
    faster = sum(s > 1 for v in spans.values() for s in v)
    total = sum(len(v) for v in spans.values())
    skipped = len(report.get("skipped", []))
    return (f"{device_name(report)}, jax {report['jax']}: speed-up over the sequential scan "
            f"(scan time / parallel time) {', '.join(parts)}; faster than the scan in {faster} of "
            f"{total} cases" + (f"; {skipped} group{'s' if skipped > 1 else ''} skipped (see the "
                                "report)" if skipped else "") + ".")


def readme_block(folder: Path = Path("benchmarks/results")) -> str:
    """The Markdown between the ``benchmark: parallel`` markers of docs/benchmarks.md."""
    found = reports(folder)
    if not found:
        return "No device report in `benchmarks/results/`.\n"
    lines = [f"- {summary(r)}" for r in found] + [""]
    lines += linear_table(found) + [""] + newton_table(found) + [""]
    return "\n".join(lines)
