"""Keep every number in ``README.md`` and ``docs/`` equal to the files it comes from.

    python -m experiments.readme          # rewrite the generated blocks and docs/api/
    python -m experiments.readme --check  # exit 1 if any block or API page is out of date

Numbers reach prose one way: a generated block between markers, rebuilt from a file.

- ``<!-- results: FOLDER -->`` … ``<!-- /results -->``: a results folder (``truncated_bptt``,
  ``jacobian_spectra_full``, ``longrange/full``), from its ``index.json`` and ``config.json``:
  the command that made it, the headline, the study's table (``plots.readme_table(folder) ->
  str`` in its package, if any) and every figure (embedded on docs pages, linked in the README).
- ``<!-- benchmark: NAME -->`` … ``<!-- /benchmark -->``: a table of
  :func:`benchmarks.report.block` from ``benchmarks/results/``, naming the machine.
- ``<!-- studies -->`` … ``<!-- /studies -->``: the README's table of the studies, one headline
  figure and one verdict each, linked to their docs pages.

Links are written relative to the page: the README's from the repository root, a docs page's
from ``docs/`` (where the docs hook ``docs/hooks.py`` serves ``results/``). ``docs/api/`` holds
one page per part of :mod:`rnnjax`, listing every public module (:func:`api_pages`). The test
suite runs the check, so no page can drift from the files.
"""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
import re
import sys
from pathlib import Path

from experiments.common import write_text

README = Path("README.md")
DOCS = Path("docs")
RESULTS = Path("results")
BLOCK = re.compile(r"(<!-- results: (\S+) -->\n)(.*?)(<!-- /results -->)", re.S)
BENCHMARK = re.compile(r"(<!-- benchmark: (\w+) -->\n)(.*?)(<!-- /benchmark -->)", re.S)
STUDIES = re.compile(r"(<!-- studies -->\n)(.*?)(<!-- /studies -->)", re.S)
GENERATED = re.compile(r"<!-- (results: \S+|benchmark: \w+|studies) -->\n.*?<!-- /(results|benchmark|"
                       r"studies) -->", re.S)

# The figure that stands for each study in the README's table (a file of its index.json).
HEADLINE_FIGURE = {
    "jacobian_spectra": "lyapunov.png", "longrange": "success_vs_T.png", "hopfield": "capacity.png",
    "char_lm": "perplexity.png", "sentiment": "accuracy_by_kind.png", "forecast": "one_step.png",
    "translate": "exposure_bias.png", "caption": "captions.png",
    "truncated_bptt": "accuracy_vs_k2.png", "parallel": "iterations_vs_lambda.png",
}


def pages() -> list[Path]:
    """Every page that may hold generated blocks: the README and the Markdown of ``docs/``."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def prefix(page: Path) -> str:
    """What makes a link from ``page`` reach the repository root (README) or ``docs/`` root."""
    root = DOCS if DOCS in page.parents else Path(".")
    return "../" * (len(page.relative_to(root).parts) - 1)


def block(folder: str, results: Path = RESULTS, *, link: str = "", images: bool = False) -> str:
    """The generated Markdown for one results folder; ``link`` is prepended to every path."""
    path = results / folder
    index = json.loads((path / "index.json").read_text())
    config = json.loads((path / "config.json").read_text())
    lines = [f"`{config['command']}` → `results/{folder}/`", "", f"{index['headline']}", ""]
    table = _study_table(folder, path)
    if table:
        lines += [table.rstrip(), ""]
    if images:
        for f in index["figures"]:
            lines += [f"![{Path(f['file']).stem}]({link}results/{folder}/{f['file']})", "",
                      f"*{f.get('caption', '')}*", ""]
    else:
        figures = ", ".join(f"[{Path(f['file']).stem}]({link}results/{folder}/{f['file']})"
                            for f in index["figures"])
        if figures:
            lines += [f"Figures: {figures}.", ""]
    return "\n".join(lines)


def _study_table(folder: str, path: Path) -> str | None:
    """The study's ``plots.readme_table(path)``, computed once per state of the folder's files
    (the studies table and the study's page both show it; some tables take a while)."""
    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in Path(path).glob("*.json")))
    return _table(folder, str(path), stamp)


@functools.lru_cache(maxsize=64)
def _table(folder: str, path: str, stamp: tuple) -> str | None:
    path = Path(path)
    name = folder.split("/")[0].removesuffix("_full")
    try:
        plots = importlib.import_module(f"experiments.{name}.plots")
    except ModuleNotFoundError:
        return None
    table = getattr(plots, "readme_table", None)
    return table(path) if table else None


def preferred_folder(name: str, results: Path = RESULTS) -> str:
    """The study's full preset where one is committed (the comparison with the papers), else quick."""
    for folder in (f"{name}/full", f"{name}_full"):
        if (results / folder / "index.json").exists():
            return folder
    return name


def verdict(folder: str, results: Path = RESULTS) -> str:
    """One sentence: the reproduced rows of the study's paper table, or its headline."""
    table = _study_table(folder, results / folder)
    header = table.splitlines()[0] if table else ""
    if header.count("|") > 1 and "reproduced" in header.split("|")[-2]:
        rows = [r.split("|")[-2].strip().strip("*") for r in table.splitlines()[2:] if r.startswith("|")]
        yes = sum(r.lower().startswith("yes") for r in rows)
        return f"{yes} of {len(rows)} claims compared with the papers reproduced (`{folder}`)."
    return json.loads((results / folder / "index.json").read_text())["headline"] + f" (`{folder}`)."


def studies_table(results: Path = RESULTS) -> str:
    """The README's table: each study linked to its docs page, a headline figure, a verdict."""
    from experiments.__main__ import STUDIES as NAMES

    lines = ["| study | headline figure | verdict |", "|---|---|---|"]
    for name in NAMES:
        folder = preferred_folder(name, results)
        index = json.loads((results / folder / "index.json").read_text())
        figure, shown = HEADLINE_FIGURE.get(name), folder
        if figure is None or not (results / folder / figure).exists():
            # a full preset still running has no figures yet: show the quick preset's
            shown = name
            figure = figure or json.loads((results / name / "index.json").read_text())["figures"][0]["file"]
        lines.append(f"| [{index['title']}](docs/studies/{name}.md) | "
                     f"[{Path(figure).stem}](results/{shown}/{figure}) | {verdict(folder, results)} |")
    return "\n".join(lines) + "\n"


FENCE = re.compile(r"^```.*?^```[^\n]*\n", re.S | re.M)


def render(text: str, results: Path = RESULTS, page: Path = README) -> str:
    """``text`` (the content of ``page``) with every generated block rebuilt.

    Markers inside fenced code blocks (a page showing how to write one) are left as they are.
    """
    pieces, at = [], 0
    for m in FENCE.finditer(text):
        pieces += [_render(text[at:m.start()], results, page), m.group(0)]
        at = m.end()
    return "".join(pieces + [_render(text[at:], results, page)])


def _render(text: str, results: Path, page: Path) -> str:
    from benchmarks.report import block as benchmark_block

    link, images = prefix(page), DOCS in page.parents
    text = BLOCK.sub(lambda m: m.group(1) + block(m.group(2), results, link=link, images=images)
                     + m.group(4), text)
    text = BENCHMARK.sub(lambda m: m.group(1) + benchmark_block(m.group(2)).rstrip() + "\n\n"
                         + m.group(4), text)
    return STUDIES.sub(lambda m: m.group(1) + studies_table(results) + m.group(3), text)


def public_modules() -> list[str]:
    """Every module of :mod:`rnnjax` whose dotted name has no part starting with ``_``."""
    import rnnjax

    names = ["rnnjax", *(m.name for m in pkgutil.walk_packages(rnnjax.__path__, "rnnjax."))]
    return sorted(n for n in names if not any(p.startswith("_") for p in n.split(".")))


def api_pages() -> dict[Path, str]:
    """``docs/api/<part>.md`` for each subpackage of rnnjax, ``core.md`` for its top modules."""
    parts: dict[str, list[str]] = {}
    for name in public_modules():
        dotted = name.split(".")
        pkg = importlib.import_module(name)
        is_package = hasattr(pkg, "__path__")
        part = "core" if len(dotted) == 1 or (len(dotted) == 2 and not is_package) else dotted[1]
        parts.setdefault(part, []).append(name)
    out = {}
    for part, modules in parts.items():
        title = "rnnjax" if part == "core" else f"rnnjax.{part}"
        lines = ["<!-- generated by python -m experiments.readme from the docstrings' modules -->",
                 f"# {title}", ""]
        for module in modules:
            lines += [f"::: {module}", ""]
        out[DOCS / "api" / f"{part}.md"] = "\n".join(lines)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stale = []
    for path, new in api_pages().items():
        if not path.exists() or path.read_text() != new:
            stale.append(path)
            if "--check" not in argv:
                write_text(path, new)
    for page in pages():
        text = page.read_text()
        new = render(text, RESULTS, page)
        if new != text:
            stale.append(page)
            if "--check" not in argv:
                write_text(page, new)
    if "--check" in argv and stale:
        print(f"out of date with results/ and benchmarks/results/: {', '.join(map(str, stale))}; "
              "run python -m experiments.readme", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
