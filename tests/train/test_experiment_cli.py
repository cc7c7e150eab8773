"""The experiment conventions, checked for every experiment module that exists.

``--help`` works; bad values (negative steps, an unknown option, hidden size 0, a corpus file
that does not exist) exit with status 2 and one line on stderr, no traceback. Bad values are
rejected while parsing, before any training, so these checks are fast.
"""

import dataclasses
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.__main__ import STUDIES

ROOT = Path(__file__).resolve().parents[2]
MODULES = [n for n in STUDIES if importlib.util.find_spec(f"experiments.{n}") is not None
           and not (ROOT / "experiments" / n / "__init__.py").exists()]  # packages: tests/experiments


def _fields(module) -> set[str]:
    return {f.name for f in dataclasses.fields(module.Config)}


def _bad_values(module) -> list[list[str]]:
    fields = _fields(module)
    cases = [["--no-such-option", "1"]]
    if "steps" in fields:
        cases.append(["--steps=-5"])
    if "hidden_size" in fields:
        cases.append(["--hidden-size", "0"])
    for name in sorted(fields):
        if "corpus" in name and name.endswith(("corpus", "file", "path")):
            cases.append([f"--{name.replace('_', '-')}", "/no/such/dir/corpus.txt"])
    return cases


@pytest.mark.parametrize("name", MODULES)
def test_module_follows_conventions(name):
    module = importlib.import_module(f"experiments.{name}")
    assert module.Config.__doc__ and "python -m experiments" in module.Config.__doc__
    assert isinstance(module.QUICK, dict) and set(module.QUICK) <= _fields(module)
    for attr in ("run", "plot", "main"):
        assert callable(getattr(module, attr))
    module.Config(**module.QUICK)  # the quick preset is a valid config


@pytest.mark.parametrize("name", MODULES)
def test_help_exits_zero(name, capsys):
    module = importlib.import_module(f"experiments.{name}")
    with pytest.raises(SystemExit) as e:
        module.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--quick" in out and "--workdir" in out


@pytest.mark.parametrize("name", MODULES)
def test_bad_values_exit_with_one_line(name, capsys, tmp_path):
    module = importlib.import_module(f"experiments.{name}")
    for argv in _bad_values(module):
        status = module.main([*argv, "--workdir", str(tmp_path / "w")])
        err = capsys.readouterr().err.strip()
        assert status == 2, (argv, err)
        assert err.startswith("error: ") and len(err.splitlines()) == 1, (argv, err)
        assert "Traceback" not in err
        assert not (tmp_path / "w").exists(), "a rejected command must not write results"


def test_real_process_exit_status_and_stderr(tmp_path):
    """One real ``python -m`` run: status 2, a single stderr line, no traceback."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    res = subprocess.run(
        [sys.executable, "-m", "experiments.char_lm", "--hidden-size", "0",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines == ["error: hidden_size must be > 0, got 0"], res.stderr
