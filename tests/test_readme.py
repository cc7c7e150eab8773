"""The README's snippets run as written."""

import re
from pathlib import Path

import pytest


def test_readme_quick_example_runs():
    text = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"## Quick example\n\n```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["ys"].shape == (32, 100, 128)
    assert namespace["carry"].h.shape == (32, 128)


def _snippets() -> list[str]:
    text = (Path(__file__).parents[1] / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.mark.parametrize("index", range(len(_snippets())))
def test_every_readme_snippet_runs_as_written(index, tmp_path, monkeypatch):
    """Each ``python`` block of the README runs on its own, in a fresh namespace."""
    monkeypatch.chdir(tmp_path)  # snippets that write (a workdir) write here
    code = _snippets()[index]
    exec(compile(code, f"README.md snippet {index}", "exec"), {"__name__": "__readme__"})
