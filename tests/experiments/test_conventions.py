"""Every study follows the layout and the command-line conventions.

Fast checks only (nothing is trained): the package layout, presets that are valid configs, the
common flags in ``--help`` with field descriptions, bad values rejected in one line before
anything is written, and no file in ``experiments/`` over the size a reader takes in whole.
"""

import dataclasses
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.__main__ import STUDIES
from experiments.common import Study

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [n for n in STUDIES if (ROOT / "experiments" / n / "__init__.py").exists()]
MAX_LINES = 420


def _leaf_fields(config_cls, prefix=""):
    """``(flag, field)`` for every field of a nested config dataclass."""
    for f in dataclasses.fields(config_cls):
        if dataclasses.is_dataclass(f.type) or (isinstance(f.default, object)
                                                and dataclasses.is_dataclass(f.default)):
            yield from _leaf_fields(type(f.default), f"{prefix}{f.name}.")
        else:
            yield f"--{prefix}{f.name}".replace("_", "-"), f


@pytest.mark.parametrize("name", PACKAGES)
def test_study_package_layout(name):
    package = ROOT / "experiments" / name
    for file in ("config.py", "plots.py", "__main__.py", "__init__.py"):
        assert (package / file).exists(), file
    study = importlib.import_module(f"experiments.{name}").STUDY
    assert isinstance(study, Study) and study.name == name
    doc = study.config.__doc__
    assert doc and f"python -m experiments.{name}" in doc
    assert "quick" in study.presets and "full" in study.presets
    for preset in study.presets.values():
        assert isinstance(preset, study.config)
    assert study.presets["full"] == study.config(), "the config's defaults are the full preset"
    assert len((package / "__main__.py").read_text().splitlines()) <= 6


@pytest.mark.parametrize("name", PACKAGES)
def test_help_shows_every_field_with_its_description(name, capsys):
    module = importlib.import_module(f"experiments.{name}")
    with pytest.raises(SystemExit) as e:
        module.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--quick", "--preset", "--seed", "--steps", "--workdir", "--plot-only"):
        assert flag in out, flag
    missing_docs = [flag for flag, _ in _leaf_fields(module.STUDY.config)
                    if flag not in out and "--" + flag.rsplit(".", 1)[-1] not in out]  # top-level
    assert not missing_docs, missing_docs


@pytest.mark.parametrize("name", PACKAGES)
@pytest.mark.parametrize("argv", [["--no-such-option", "1"], ["--step", "5"], ["--steps=-5"],
                                  ["--seed", "-1"]])
def test_bad_values_exit_with_one_line(name, argv, capsys, tmp_path):
    module = importlib.import_module(f"experiments.{name}")
    status = module.main([*argv, "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip()
    assert status == 2, (argv, err)
    assert err.startswith("error: ") and len(err.splitlines()) == 1, (argv, err)
    assert not (tmp_path / "w").exists(), "a rejected command must not write results"


def test_no_file_in_experiments_is_too_long_to_read_whole():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "experiments").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_real_process_exit_status_and_stderr(tmp_path):
    """One real ``python -m`` run: status 2, a single stderr line, no traceback."""
    name = PACKAGES[0]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    res = subprocess.run([sys.executable, "-m", f"experiments.{name}", "--seed", "-1",
                          "--workdir", str(tmp_path / "w")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: seed must be an integer in [0, 4294967295], got -1"], res.stderr
