"""Keep the numbers in ``README.md`` equal to the result files: generated blocks.

    python -m experiments.readme          # rewrite the generated blocks of README.md
    python -m experiments.readme --check  # exit 1 if any block differs from the result files

A benchmark block, between ``<!-- benchmark: NAME -->`` and ``<!-- /benchmark -->``, is rebuilt
by ``experiments.NAME.bench_readme.readme_block()`` from ``benchmarks/results/``.

A block is the text between ``<!-- results: FOLDER -->`` and ``<!-- /results -->`` in
README.md, where FOLDER is a results folder (``truncated_bptt``, ``jacobian_spectra_full``,
``longrange/full``). It is rebuilt from that folder's ``index.json`` and ``config.json``: the
command that made it, the headline numbers, and every figure as a link. A study may add a table:
``plots.readme_table(folder) -> str`` (Markdown) in its package. The test suite runs the check,
so README numbers cannot drift from the results.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

from experiments.common import write_text

README = Path("README.md")
RESULTS = Path("results")
BLOCK = re.compile(r"(<!-- results: (\S+) -->\n)(.*?)(<!-- /results -->)", re.S)
BENCHMARK = re.compile(r"(<!-- benchmark: (\w+) -->\n)(.*?)(<!-- /benchmark -->)", re.S)


def block(folder: str, results: Path = RESULTS) -> str:
    """The generated Markdown for one results folder."""
    path = results / folder
    index = json.loads((path / "index.json").read_text())
    config = json.loads((path / "config.json").read_text())
    lines = [f"`{config['command']}` → [`results/{folder}/`](results/{folder}/)", "",
             f"{index['headline']}", ""]
    table = _study_table(folder, path)
    if table:
        lines += [table.rstrip(), ""]
    figures = ", ".join(f"[{Path(f['file']).stem}](results/{folder}/{f['file']})"
                        for f in index["figures"])
    if figures:
        lines += [f"Figures: {figures}.", ""]
    return "\n".join(lines)


def _study_table(folder: str, path: Path) -> str | None:
    name = folder.split("/")[0].removesuffix("_full")
    try:
        plots = importlib.import_module(f"experiments.{name}.plots")
    except ModuleNotFoundError:
        return None
    table = getattr(plots, "readme_table", None)
    return table(path) if table else None


def render(text: str, results: Path = RESULTS) -> str:
    """``text`` with every generated block rebuilt."""
    text = BLOCK.sub(lambda m: m.group(1) + block(m.group(2), results) + m.group(4), text)
    return BENCHMARK.sub(lambda m: m.group(1) + benchmark_block(m.group(2)) + m.group(4), text)


def benchmark_block(name: str) -> str:
    """The Markdown of ``experiments/<name>/bench_readme.py`` from the reports in
    ``benchmarks/results`` (the benchmarks write the reports; experiments never import them)."""
    return importlib.import_module(f"experiments.{name}.bench_readme").readme_block()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = README.read_text()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print("README.md is out of date with results/: run python -m experiments.readme",
                  file=sys.stderr)
            return 1
        return 0
    if new != text:
        write_text(README, new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
