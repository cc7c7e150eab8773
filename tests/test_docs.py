"""The documentation: its code runs, its API reference covers rnnjax, its numbers come from files.

A ``python`` block of ``docs/`` that is too heavy for the default tier is preceded by the line
``<!-- docs-test: skip -->`` (none is, today); every other block runs here, in a fresh namespace
and a temporary working directory. ``mkdocs build --strict`` itself runs in CI (``.ci/run``) and in
the ``slow`` test below, which also checks that every public function has its anchor in the site.
"""

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import readme

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP = "<!-- docs-test: skip -->"
# A measured time, size or speed-up typed into prose (numbers in generated blocks, code and
# inline code are not prose).
MEASUREMENT = re.compile(r"(?<![\w.])\d[\d.,]*\s?(?:ms|s|min|minutes|hours|MiB|GiB|MB|GB|×|GFLOP/s)"
                         r"(?![\w/])")


def _blocks() -> list[tuple[str, int, str]]:
    """``(page, index, code)`` of every python block of docs/ not marked to skip."""
    out = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text()
        for i, m in enumerate(re.finditer(r"```python\n(.*?)```", text, re.S)):
            if not text[:m.start()].rstrip().endswith(SKIP):
                out.append((page.relative_to(ROOT).as_posix(), i, m.group(1)))
    return out


@pytest.mark.parametrize("page,index,code", _blocks(), ids=lambda v: str(v)[:40] if not isinstance(v, str)
                         or "\n" not in v else "code")
def test_every_docs_code_block_runs(page, index, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write (a workdir) write here
    exec(compile(code, f"{page} block {index}", "exec"), {"__name__": "__docs__"})


def public_functions() -> dict[str, list[str]]:
    """``{module: [name, ...]}``: the functions and classes each public module defines and exports
    (its ``__all__`` when it has one, else every name without a leading underscore)."""
    out = {}
    for name in readme.public_modules():
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        out[name] = [n for n, obj in vars(module).items()
                     if (inspect.isfunction(obj) or inspect.isclass(obj))
                     and getattr(obj, "__module__", None) == name
                     and (n in exported if exported is not None else not n.startswith("_"))]
    return out


def test_api_reference_documents_every_public_module_in_the_nav():
    directives = {line[4:].strip() for page in (DOCS / "api").glob("*.md")
                  for line in page.read_text().splitlines() if line.startswith("::: ")}
    missing = sorted(set(public_functions()) - directives)
    assert not missing, f"not in docs/api/ (run python -m experiments.readme): {missing}"
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in DOCS.rglob("*.md"):
        assert page.relative_to(DOCS).as_posix() in nav, f"{page} is not in mkdocs.yml's nav"


def test_no_measurement_is_typed_into_prose():
    for page in readme.pages():
        text = readme.GENERATED.sub("", (ROOT / page).read_text())
        text = re.sub(r"`[^`\n]*`", "", readme.FENCE.sub("", text))
        found = MEASUREMENT.findall(text)
        assert not found, f"{page}: {found} typed by hand: generate it from a file between markers"
    assert MEASUREMENT.search("took 1.5 s") and MEASUREMENT.search("is 0.7× as fast")  # the rule bites


def test_readme_is_a_front_door_and_its_test_command_is_what_ci_runs():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    commands = [line.split("  #")[0].strip() for line in text.splitlines() if "pytest" in line
                and line.startswith("python3 -m pip install")]
    assert len(commands) == 1 and commands[0] in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_docs_build_strict_and_every_public_function_has_its_anchor(tmp_path):
    pytest.importorskip("mkdocstrings", reason="the docs dependencies: pip install -e '.[docs]'")
    site = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    html = "".join(p.read_text() for p in (site / "api").rglob("index.html"))
    missing = [f"{m}.{n}" for m, names in public_functions().items() for n in names
               if f'id="{m}.{n}"' not in html]
    assert not missing, f"public functions missing from the API reference: {missing}"
    assert (site / "results" / "hopfield" / "capacity.png").exists()  # figures served by the hook
