"""The README's table of fused recurrent layers on GPU, from the device reports alone.

Every ``benchmarks/results/fused_<device>.json`` written by ``python -m benchmarks.bench_fused``
(smoke runs excluded) becomes rows: per cell and shape, the forward+backward time of each method
and the fused kernels' speed-up over Flax linen and over PyTorch (cuDNN). A device without a
report has no rows. ``python -m experiments.readme`` puts the result between
``<!-- benchmark: fused -->`` and ``<!-- /benchmark -->`` in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

PATTERN = "fused_*.json"
METHODS = ("scan", "fused", "cudnn", "flax", "torch")


def reports(folder: Path) -> list[dict]:
    """The non-smoke device reports in ``folder``, by file name."""
    found = [json.loads(p.read_text()) for p in sorted(Path(folder).glob(PATTERN))]
    return [r for r in found if "rows" in r and not r.get("smoke")]


def ms(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x / 1e3:.2f} s" if x >= 1e3 else f"{x:.3g} ms"


def speedup(row: dict, base: str) -> str:
    t = row["ms"]
    return f"{t[base] / t['fused']:.2g}×" if base in t and "fused" in t else "–"


def table(found: list[dict]) -> list[str]:
    lines = ["| device | cell | B | T | I | H | " + " | ".join(METHODS)
             + " | fused vs Flax | fused vs PyTorch |",
             "|---|---|---|---|---|---|" + "---|" * (len(METHODS) + 2)]
    for r in found:
        for row in r["rows"]:
            times = [ms(row["ms"].get(m)) if m not in row.get("errors", {}) else "failed"
                     for m in METHODS]
            lines.append(f"| {r['device']} | {row['cell']} | {row['B']} | {row['T']:,} | "
                         f"{row['I']} | {row['H']} | " + " | ".join(times)
                         + f" | {speedup(row, 'flax')} | {speedup(row, 'torch')} |")
    return lines


def readme_block(folder: Path = Path("benchmarks/results")) -> str:
    """The Markdown between the README's ``benchmark: fused`` markers."""
    found = reports(folder)
    if not found:
        return "No device report in `benchmarks/results/` (run `bash benchmarks/gpu_fused.sh` on a GPU).\n"
    notes = [f"- {r['device']}, jax {r['jax']}, torch {r['torch']}: {r['loss']}; {r['precision']}; "
             f"median of {r['repeats']}." for r in found]
    return "\n".join(notes + [""] + table(found) + [""])
