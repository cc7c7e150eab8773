"""The README's quick example runs as written."""

import re
from pathlib import Path


def test_readme_quick_example_runs():
    text = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"## Quick example\n\n```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["ys"].shape == (32, 100, 128)
    assert namespace["carry"].h.shape == (32, 128)
