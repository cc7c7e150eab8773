"""The shared command line, on a toy study whose run takes no time.

Every promise of :mod:`experiments.common.cli` is checked by making it fail: bad flags, bad
values, a workdir that is a file / under a file / read-only / locked / full, results of another
config, and that a refused command writes nothing.
"""

import dataclasses
import errno
import importlib
import json
import math
import os
import stat
import subprocess
import sys
import types
from pathlib import Path

import pytest

from experiments import check as check_module
from experiments.common import Study, main, read_json, require_positive, write_index, write_json
from experiments.common import files as files_module
from rnnjax.train.lock import exclusive

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class PartConfig:
    """A part."""

    size: int = 4
    """How big."""
    rate: float = 0.1
    """How fast."""

    def __post_init__(self):
        require_positive(self, "size", "rate")


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    """A toy study. Command: python -m experiments.toy --quick."""

    seed: int = 0
    """Seed."""
    steps: int | None = None
    """Updates."""
    part: PartConfig = PartConfig()


def _run(config, workdir: Path) -> None:
    write_json(workdir / "summary.json", {"value": config.part.size * config.part.rate,
                                          "seed": config.seed})


def _plot(workdir: Path) -> None:
    summary = read_json(workdir / "summary.json")
    write_index(workdir, title="toy", headline=f"value {summary['value']}", figures=[])


TOY = Study(name="toy", config=ToyConfig, presets={"quick": ToyConfig(part=PartConfig(size=2)),
                                                   "full": ToyConfig()}, run=_run, plot=_plot)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_presets_flags_and_recorded_command(tmp_path):
    w = tmp_path / "w"
    assert main(TOY, ["--quick", "--part.rate", "0.5", "--workdir", str(w)]) == 0
    assert json.loads((w / "summary.json").read_text())["value"] == 2 * 0.5
    saved = json.loads((w / "config.json").read_text())
    assert saved["preset"] == "quick" and saved["config"]["part"] == {"size": 2, "rate": 0.5}
    assert saved["command"] == f"python -m experiments.toy --quick --part.rate 0.5 --workdir {w}"
    w2 = tmp_path / "w2"
    assert main(TOY, ["--preset", "full", "--workdir", str(w2)]) == 0
    assert json.loads((w2 / "summary.json").read_text())["value"] == 4 * 0.1


def test_default_workdir_is_left_out_of_the_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(TOY, ["--quick", "--workdir", "results/toy"]) == 0
    assert json.loads(Path("results/toy/config.json").read_text())["command"] == \
        "python -m experiments.toy --quick"
    assert TOY.workdir("full") == Path("results/toy/full")


def test_rerun_leaves_result_files_identical(tmp_path):
    w = tmp_path / "w"
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0
    before = {p.name: p.read_bytes() for p in w.glob("*.json") if p.name != "timing.json"}
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0
    after = {p.name: p.read_bytes() for p in w.glob("*.json") if p.name != "timing.json"}
    assert before == after
    assert "total" in json.loads((w / "timing.json").read_text())  # wall clock kept apart


def test_help_shows_descriptions_types_and_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        main(TOY, ["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--quick", "--preset", "--seed", "--steps", "--workdir", "--plot-only",
                 "--overwrite", "--part.size"):
        assert flag in out, flag
    assert "How big." in out and "INT" in out and "(default: 4)" in out


@pytest.mark.parametrize("argv", [
    ["--no-such-option", "1"],
    ["--step", "5"],                 # no prefix matching
    ["--part.siz", "5"],
    ["--seed", "-1"],
    ["--seed", str(2**70)],
    ["--seed", "2**70"],
    ["--steps=-5"],
    ["--part.size", "0"],
    ["--part.rate", "nan"],
    ["--part.rate", "inf"],
    ["--preset", "nosuch"],
    ["--preset", "full", "--quick"],
])
def test_bad_input_is_one_line_and_writes_nothing(argv, tmp_path, capsys):
    w = tmp_path / "w"
    assert main(TOY, [*argv, "--workdir", str(w)]) == 2
    _one_error_line(capsys)
    assert not w.exists()


def test_abbreviation_names_the_real_flag(tmp_path, capsys):
    assert main(TOY, ["--step", "5", "--workdir", str(tmp_path / "w")]) == 2
    assert "--steps" in _one_error_line(capsys)


def test_workdir_that_is_a_file_or_under_a_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("mine")
    for w in (f, f / "sub"):
        for extra in ([], ["--plot-only"]):
            assert main(TOY, ["--quick", "--workdir", str(w), *extra]) == 2
            assert "expected a folder" in _one_error_line(capsys)
    assert f.read_text() == "mine"


def test_read_only_workdir(tmp_path, capsys, monkeypatch):
    w = tmp_path / "w"
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0
    real_access = os.access
    monkeypatch.setattr(os, "access",
                        lambda p, mode: False if Path(p) == w else real_access(p, mode))
    for extra in ([], ["--plot-only"]):
        assert main(TOY, ["--quick", "--workdir", str(w), *extra]) == 2
        assert "not writable" in _one_error_line(capsys)


def test_permission_error_while_writing_is_one_line(tmp_path, capsys, monkeypatch):
    def refuse(path, data):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(files_module, "atomic_write_bytes", refuse)
    monkeypatch.setattr(files_module, "write_text", lambda p, t: refuse(p, t))
    assert main(TOY, ["--quick", "--workdir", str(tmp_path / "w")]) == 2
    assert "permission denied" in _one_error_line(capsys)


def test_full_disk_is_one_line_and_keeps_earlier_files(tmp_path, capsys, monkeypatch):
    w = tmp_path / "w"
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0
    summary = (w / "summary.json").read_bytes()
    real = files_module.atomic_write_bytes

    def full(path, data):
        if Path(path).name == "summary.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(files_module, "atomic_write_bytes", full)
    assert main(TOY, ["--quick", "--part.rate", "0.7", "--workdir", str(w), "--overwrite"]) == 2
    assert "no space left on" in _one_error_line(capsys)
    assert (w / "summary.json").read_bytes() == summary


def test_locked_workdir_is_refused_naming_the_holder(tmp_path, capsys):
    w = tmp_path / "w"
    with exclusive(w):
        assert main(TOY, ["--quick", "--workdir", str(w)]) == 2
        assert f"pid {os.getpid()}" in _one_error_line(capsys)
    assert not (w / "summary.json").exists()
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0  # released


def test_stale_lock_of_a_killed_run_does_not_block(tmp_path):
    w = tmp_path / "w"
    code = ("import sys, os, signal; from rnnjax.train.lock import exclusive\n"
            f"with exclusive({str(w)!r}):\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60)
    assert res.returncode == -9 and (w / ".lock").exists()
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0


def test_results_of_another_config_are_not_overwritten(tmp_path, capsys):
    w = tmp_path / "w"
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0
    theirs = {p.name: p.read_bytes() for p in w.glob("*.json")}
    assert main(TOY, ["--quick", "--part.size", "9", "--workdir", str(w)]) == 2
    assert "another config" in _one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in w.glob("*.json")} == theirs
    assert main(TOY, ["--quick", "--part.size", "9", "--workdir", str(w), "--overwrite"]) == 0
    assert json.loads((w / "summary.json").read_text())["value"] == 9 * 0.1


def test_a_setting_added_since_the_folder_was_written_counts_only_off_its_default(tmp_path,
                                                                                 capsys):
    """A committed folder written before a config field existed (its config.json lacks it) is
    the same config while that field keeps its default, and another one once it does not."""
    w = tmp_path / "w"
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0
    saved = json.loads((w / "config.json").read_text())
    del saved["config"]["part"]["rate"]  # as if rate had been added since (quick: its default)
    (w / "config.json").write_text(json.dumps(saved))
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0
    (w / "config.json").write_text(json.dumps(saved))
    assert main(TOY, ["--quick", "--part.rate", "0.7", "--workdir", str(w)]) == 2
    assert "another config" in _one_error_line(capsys)
    saved["config"]["part"]["unknown"] = 1  # a field the config no longer has
    (w / "config.json").write_text(json.dumps(saved))
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 2
    assert "another config" in _one_error_line(capsys)


def test_run_state_lets_the_same_machine_change_a_part(tmp_path):
    w = tmp_path / "w"
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 0
    (w / "checkpoints").mkdir()  # this machine made them: changing a part recomputes it
    assert main(TOY, ["--quick", "--part.size", "9", "--workdir", str(w)]) == 0


def test_a_resumed_part_adds_its_time_to_the_earlier_sittings(tmp_path, monkeypatch):
    """``timing.json`` holds a part's cost: a part computed afresh replaces its recorded time,
    one that resumes its own run state (an interrupted sitting's checkpoints) adds to it."""
    from experiments.common import parts

    clock = iter([0.0, 5.0, 100.0, 103.0, 200.0, 202.0])
    monkeypatch.setattr(parts, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    w, state = tmp_path / "w", tmp_path / "w" / "runs" / "a"
    timing = lambda: json.loads((w / "timing.json").read_text())["a"]  # noqa: E731
    parts.cached_part(w, "a", {"n": 1}, lambda: {"x": 1}, run_state=state)
    assert timing() == 5.0                      # no run state: a fresh start
    state.mkdir(parents=True)
    parts.cached_part(w, "a", {"n": 2}, lambda: {"x": 2}, run_state=state)
    assert timing() == 8.0                      # resumed: 5 + 3
    parts.cached_part(w, "a", {"n": 3}, lambda: {"x": 3})
    assert timing() == 2.0                      # no run state named: its own time


def test_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = files_module.write_text(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_plot_only_without_results_is_one_line(tmp_path, capsys):
    assert main(TOY, ["--quick", "--plot-only", "--workdir", str(tmp_path / "w")]) == 2
    assert "run the experiment first" in _one_error_line(capsys)


def test_unknown_study_exits_2():
    res = subprocess.run([sys.executable, "-m", "experiments", "no_such_study"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: unknown study 'no_such_study'")
    assert len(res.stderr.strip().splitlines()) == 1


def _toy_module(study=TOY):
    return types.SimpleNamespace(STUDY=study, main=lambda argv: main(study, argv))


def test_check_passes_on_a_reproduction_and_tables_what_differs(tmp_path, monkeypatch, capsys):
    committed = tmp_path / "results" / "toy"
    assert main(TOY, ["--quick", "--workdir", str(committed)]) == 0
    assert main(TOY, ["--preset", "full", "--workdir", str(committed / "full")]) == 0  # not quick's
    monkeypatch.setattr(check_module, "study_names", lambda argv: ["toy"])
    monkeypatch.setattr(check_module, "load_study", lambda name: _toy_module())
    assert check_module.main([], root=tmp_path) == 0
    assert "toy: every number matches" in capsys.readouterr().out

    summary = committed / "summary.json"
    summary.write_text(json.dumps({"value": 0.25, "seed": 0}))  # the rerun gives 2 * 0.1 = 0.2
    assert check_module.main([], root=tmp_path) == 1
    out = capsys.readouterr().out
    assert "toy: 1 differ" in out
    line = next(ln for ln in out.splitlines() if "summary.json" in ln).split()
    assert line[:4] == ["summary.json", "value", "0.25", "0.2"] and float(line[4]) == pytest.approx(0.2)

    tolerant = dataclasses.replace(TOY, tolerances={"value": 0.25})
    assert check_module.check(tolerant, committed, _toy_module(tolerant).main) == []
    summary.unlink()
    assert check_module.check(TOY, committed, _toy_module().main) == [
        ("summary.json", "(file)", "missing", "present", math.inf, 0.0)]
    assert check_module.check(TOY, committed, lambda argv: 2)[0][1:4] == ("exit status", 0, 2)
    assert check_module.check(TOY, tmp_path / "none", _toy_module().main)[0][2] == "missing"


def test_check_of_finished_results_reruns_nothing(tmp_path, monkeypatch, capsys):
    committed, clone = tmp_path / "results" / "toy", tmp_path / "clone" / "results"
    assert main(TOY, ["--quick", "--workdir", str(committed)]) == 0
    assert main(TOY, ["--quick", "--workdir", str(clone / "toy")]) == 0
    never = types.SimpleNamespace(STUDY=TOY, main=lambda argv: pytest.fail("reran the study"))
    monkeypatch.setattr(check_module, "study_names", lambda argv: ["toy"])
    monkeypatch.setattr(check_module, "load_study", lambda name: never)
    assert check_module.main(["--results", str(clone)], root=tmp_path) == 0
    assert "toy: every number matches" in capsys.readouterr().out
    (clone / "toy" / "summary.json").write_text(json.dumps({"value": 0.25, "seed": 0}))
    assert check_module.main([f"--results={clone}"], root=tmp_path) == 1
    assert "toy: 1 differ" in capsys.readouterr().out
    for bad in (["--results"], ["--results", str(tmp_path / "none")], ["--result", str(clone)]):
        assert check_module.main(bad, root=tmp_path) == 2
        assert _one_error_line(capsys).startswith("error: ")


def test_check_knows_every_study_and_its_committed_results():
    from experiments.__main__ import STUDIES

    for name in STUDIES:
        study = importlib.import_module(f"experiments.{name}").STUDY
        files = check_module.result_files(ROOT / study.workdir("quick"), frozenset(study.unchecked))
        assert {"config.json", "index.json"} <= files.keys(), name
        assert not any(f.startswith(("full/", "long/", "medium/")) for f in files), name
    assert check_module.main(["no_such_study"]) == 2


@dataclasses.dataclass(frozen=True)
class _Sizes:
    count: int = 1
    lengths: tuple[int, ...] = (1,)
    maybe: int | None = None
    rate: float = 0.5


@pytest.mark.parametrize("field, bad", [("count", 2.5), ("count", True), ("lengths", (1, 2.0)),
                                        ("maybe", 0), ("rate", 0.0)])
def test_require_positive_checks_int_fields_with_the_library_size_check(field, bad):
    """Fields annotated as ints take Python and NumPy integers, never floats or bools; float
    fields any finite number > 0."""
    import numpy as np

    ok = _Sizes(count=np.int64(3), lengths=(np.int32(2), 5), maybe=4, rate=1e-3)
    require_positive(ok, "count", "lengths", "maybe", "rate")
    expected = "must be a finite number > 0" if field == "rate" else "must be a positive int"
    with pytest.raises(ValueError, match=expected):
        require_positive(dataclasses.replace(ok, **{field: bad}), field)
    if field == "count":  # allow_zero: the non-negative size check
        require_positive(_Sizes(count=0), "count", allow_zero=True)
        with pytest.raises(ValueError, match="must be a non-negative int"):
            require_positive(dataclasses.replace(ok, count=bad), "count", allow_zero=True)
