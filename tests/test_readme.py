"""The README's snippets run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def _snippets() -> list[tuple[str, str]]:
    """``(section heading, code)`` of every ``python`` block of the README."""
    text = README.read_text()
    return [(re.findall(r"^##+ (.*)$", text[:m.start()], re.M)[-1], m.group(1))
            for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


@pytest.mark.parametrize("index", range(len(_snippets())))
def test_every_readme_snippet_runs_as_written(index, tmp_path, monkeypatch):
    """Each ``python`` block of the README runs on its own, in a fresh namespace."""
    monkeypatch.chdir(tmp_path)  # snippets that write (a workdir) write here
    heading, code = _snippets()[index]
    namespace = {"__name__": "__readme__"}
    exec(compile(code, f"README.md snippet {index}", "exec"), namespace)
    if heading == "Quick example":  # its comments state the shapes
        assert namespace["ys"].shape == (32, 100, 128)
        assert namespace["carry"].h.shape == (32, 128)


def test_the_quick_example_is_a_snippet():
    assert [h for h, _ in _snippets()].count("Quick example") == 1
