"""What a run in a workdir guarantees, by fault injection: kill, corrupt, concurrent runs, full disk.

Each test makes the fault, then checks the promise against an independent reference: an
uninterrupted run's parameters and ``metrics.jsonl`` bytes, or a byte snapshot of the workdir.
"""

import errno
import logging
import os
import re
import shutil
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnjax.train as T
from rnnjax.train import checkpoint as checkpoint_module
from rnnjax.train import metrics as metrics_module
from rnnjax.train import progress as progress_module

CONFIG = {"lr": 0.05}
OPT = T.optimizer("adam", 0.05)


def _loss(params, batch, key):
    x, y = batch
    noise = 0.01 * jax.random.normal(key, y.shape)  # the step's key matters
    return jnp.mean(jnp.square(x @ params["w"] - y + noise))


STEP = T.make_step(_loss, OPT)  # one compile for the whole module


def _batch_at(step):
    x = jax.random.normal(jax.random.fold_in(jax.random.key(5), step), (4, 3))
    return x, x @ jnp.array([[1.0], [-2.0], [0.5]])


def _fresh():
    return T.init_state({"w": jnp.zeros((3, 1))}, OPT, key=jax.random.key(0))


def _run(workdir, num_steps, **kw):
    kw = {"checkpoint_every": 2, "config": CONFIG, "progress": False, **kw}
    return T.fit(STEP, _fresh(), _batch_at, num_steps=num_steps, workdir=workdir, **kw)


def _snapshot(root):
    """Every file under ``root`` (but the lock, which holds the last opener's PID): bytes, mode."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode)
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def _same_params(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def _warnings(caplog):
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 8-step run, and a copy of the same run stopped after 6 steps."""
    root = tmp_path_factory.mktemp("reference")
    state, _ = _run(root / "full", 8)
    _run(root / "six", 6)
    return state, (root / "full" / "metrics.jsonl").read_bytes(), root / "six"


# ----------------------------------------------------------------------------- 1. step below


def test_fewer_steps_than_the_workdir_holds(reference, tmp_path):
    _, _, six = reference
    work = tmp_path / "w"
    shutil.copytree(six, work)  # checkpoints 2, 4, 6
    before = _snapshot(work)
    four, records = _run(work, 4)  # the kept checkpoint at exactly 4, not the step-6 state
    ref4, _ = _run(tmp_path / "ref4", 4)
    _same_params(four, ref4)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    with pytest.raises(T.WorkdirAhead, match=r"holds step 6 > num_steps 3: use a new workdir$"):
        _run(work, 3)
    assert _snapshot(work) == before


@pytest.mark.parametrize("bad", [2.5, True, -1])
def test_step_counts_use_the_library_size_check(tmp_path, bad):
    """NumPy integers are step counts; floats, bools and negatives are refused in one line."""
    assert T.check_workdir(tmp_path / "new", _fresh(), num_steps=np.int64(5)) == 0
    with pytest.raises(ValueError, match="num_steps must be a non-negative int"):
        T.check_workdir(tmp_path / "new", _fresh(), num_steps=bad)


def test_check_workdir_says_where_fit_would_start_and_writes_nothing(reference, tmp_path):
    _, _, six = reference
    work = tmp_path / "w"
    shutil.copytree(six, work)
    before = _snapshot(work)
    check = lambda n, **kw: T.check_workdir(work, _fresh(), num_steps=n, **{"config": CONFIG, **kw})
    assert [check(8), check(6), check(4)] == [6, 6, 4]
    with pytest.raises(T.WorkdirAhead):
        check(3)
    with pytest.raises(T.ConfigMismatch):
        check(8, config={"lr": 0.1})
    assert check(8, config={"lr": 0.1}, overwrite=True) == 0
    assert _snapshot(work) == before
    assert T.check_workdir(tmp_path / "new", _fresh(), num_steps=5) == 0
    assert not (tmp_path / "new").exists()


# ----------------------------------------------------------------------------- 2. lock

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, f"{os.getpid()}\\n".encode(), 0)
print("held", flush=True)
time.sleep(300)
"""


def test_second_run_refused_naming_the_holder_and_a_killed_holder_never_blocks(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(work / ".lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(T.WorkdirLocked, match=rf"in use by another run \(pid {holder.pid}\)") as e:
            _run(work, 2)
        assert "\n" not in str(e.value)
        assert not (work / "metrics.jsonl").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    _, records = _run(work, 2)  # the kernel released the dead holder's lock
    assert [r["step"] for r in records] == [1, 2]


# ----------------------------------------------------------------------------- 3. checks first


def test_refusals_change_nothing(reference, tmp_path):
    _, _, six = reference
    work = tmp_path / "w"
    shutil.copytree(six, work)
    before = _snapshot(work)
    with pytest.raises(T.ConfigMismatch, match=r"different config \(lr: 0.05 -> 0.1\)"):
        _run(work, 8, config={"lr": 0.1})
    assert _snapshot(work) == before
    # a results folder without checkpoints: only a run with the same config may redo it
    shutil.rmtree(work / "checkpoints")
    before = _snapshot(work)
    with pytest.raises(T.ConfigMismatch, match=r"different config \(lr: 0.05 -> 0.1\) and no checkpoint"):
        _run(work, 8, config={"lr": 0.1})
    (work / "run.json").unlink()  # results of an unknown run
    with pytest.raises(T.ConfigMismatch, match="unknown run"):
        _run(work, 8)
    assert _snapshot(work) == {k: v for k, v in before.items() if k != "run.json"}
    _, records = _run(work, 3, config={"lr": 0.1}, overwrite=True)
    assert [r["step"] for r in records] == [1, 2, 3]
    assert '"lr": 0.1' in (work / "run.json").read_text()
    assert sorted(p.name for p in (work / "checkpoints").iterdir()) == ["2", "3"]


def test_garbage_metrics_line_refused_and_torn_last_line_dropped_with_one_warning(
        reference, tmp_path, caplog):
    ref_state, ref_metrics, six = reference
    work = tmp_path / "w"
    shutil.copytree(six, work)
    lines = (work / "metrics.jsonl").read_text().splitlines(keepends=True)
    (work / "metrics.jsonl").write_text("".join(lines[:2] + ["garbage\n"] + lines[2:]))
    before = _snapshot(work)
    with pytest.raises(T.MetricsError, match=r"metrics.jsonl line 3 is not a JSON record"):
        _run(work, 8)
    assert _snapshot(work) == before
    (work / "metrics.jsonl").write_text("".join(lines) + '{"step": 7, "lo')
    with caplog.at_level(logging.WARNING):
        state, _ = _run(work, 8)
    assert [r.getMessage() for r in _warnings(caplog)] == [
        f"{work / 'metrics.jsonl'}: dropped its torn last line (a run stopped while writing it)"]
    _same_params(state, ref_state)
    assert (work / "metrics.jsonl").read_bytes() == ref_metrics


# ----------------------------------------------------------------------------- 4. verified


def _flip(p):
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0x01
    p.write_bytes(bytes(b))


DAMAGE = {
    "flipped bit": _flip,
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "missing": lambda p: p.unlink(),
    "no checksums": lambda p: (p.parents[2] / "sha256.json").unlink(),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_newest_checkpoint_falls_back_and_ends_bit_identical(
        reference, tmp_path, caplog, capfd, damage):
    ref_state, ref_metrics, six = reference
    work = tmp_path / "w"
    shutil.copytree(six, work)
    data = sorted((work / "checkpoints" / "6" / "state" / "d").iterdir())[0]  # the array data
    DAMAGE[damage](data)
    capfd.readouterr()
    with caplog.at_level(logging.WARNING):
        state, _ = _run(work, 8)
    _same_params(state, ref_state)
    assert (work / "metrics.jsonl").read_bytes() == ref_metrics
    (warning,) = _warnings(caplog)  # one line, nothing from Orbax
    assert re.fullmatch(r"checkpoint step 6 damaged \(.+\); resuming from step 4 \(moved to .+\)",
                        warning.getMessage()), warning.getMessage()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "absl" not in err and len(err.splitlines()) <= 1, err
    assert (work / "checkpoints.damaged" / "6").is_dir()


# ----------------------------------------------------------------------------- 5. finite


def test_finite_only_when_every_logged_value_is_finite(key):
    # |w| = 3e19 is finite in float32, but ||w||^2 overflows: param_norm would be inf
    opt = T.optimizer("sgd", 1.0)
    step = T.make_step(lambda p, b, k: jnp.sum(p["w"]) * 1e-30, opt)
    state = T.init_state({"w": jnp.full((3,), 3e19, jnp.float32)}, opt, key=key)
    new, m = step(state, None)
    assert float(m["finite"]) == 0.0 and not np.isfinite(float(m["param_norm"]))
    np.testing.assert_array_equal(new.params["w"], np.full((3,), 3e19, np.float32))
    with pytest.raises(T.NonFiniteError, match="step 1: param_norm of the update overflows"):
        T.fit(step, T.init_state({"w": jnp.full((3,), 3e19, jnp.float32)}, opt, key=key),
              lambda s: None, num_steps=2, progress=False)
    # an eval metric that overflows makes the record non-finite too
    _, hist = T.fit(STEP, _fresh(), _batch_at, num_steps=2, progress=False, nonfinite="skip",
                    eval_fn=lambda s: {"perplexity": T.safe_exp(30801.0)})
    assert [r["finite"] for r in hist] == [0.0, 0.0] and hist[0]["perplexity"] == float("inf")
    with pytest.raises(T.NonFiniteError, match="step 1: perplexity not finite"):
        T.fit(STEP, _fresh(), _batch_at, num_steps=2, progress=False,
              eval_fn=lambda s: {"perplexity": T.safe_exp(30801.0)})
    assert T.safe_exp(1.0) == pytest.approx(np.e) and np.isnan(T.safe_exp(float("nan")))
    np.testing.assert_array_equal(T.safe_exp(np.array([0.0, 1e6])), [1.0, np.inf])


# ----------------------------------------------------------------------------- 6. one-line errors


def test_unusable_workdirs_refused_in_one_line(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("results")
    with pytest.raises(T.WorkdirError, match="is a file, not a folder"):
        _run(afile, 2)
    with pytest.raises(T.WorkdirError, match=rf"lies under the file {afile}"):
        _run(afile / "sub" / "run", 2)
    assert afile.read_text() == "results"
    ro = tmp_path / "ro"
    ro.mkdir()
    real_open = os.open

    def read_only_open(path, flags, *args, **kw):  # what a read-only mount does (even to root)
        if str(path).startswith(str(ro)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", read_only_open)
    with pytest.raises(T.WorkdirError, match=r"cannot write into .*ro: Read-only file system$"):
        _run(ro, 2)
    monkeypatch.undo()
    assert list(ro.iterdir()) == []


def _no_space(*args, **kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_while_logging_names_what_is_intact_and_resumes_exactly(
        reference, tmp_path, monkeypatch):
    ref_state, ref_metrics, _ = reference
    work = tmp_path / "w"
    real = metrics_module.write_all
    calls = []

    def fill_up_at_record_5(fd, data):
        calls.append(1)
        return _no_space() if len(calls) == 5 else real(fd, data)

    monkeypatch.setattr(metrics_module, "write_all", fill_up_at_record_5)
    with pytest.raises(T.WriteFailed, match=r"^no space left on .*metrics.jsonl; "
                                            r"intact: checkpoint at step 4$"):
        _run(work, 8)
    monkeypatch.undo()
    state, _ = _run(work, 8)
    _same_params(state, ref_state)
    assert (work / "metrics.jsonl").read_bytes() == ref_metrics


def test_full_disk_while_saving_names_what_is_intact_and_resumes_exactly(
        reference, tmp_path, monkeypatch, caplog):
    ref_state, ref_metrics, _ = reference
    work = tmp_path / "w"
    real = checkpoint_module.atomic_write

    def fill_up_at_step_4(path, data):
        return _no_space() if path.parent.name == "4" else real(path, data)

    monkeypatch.setattr(checkpoint_module, "atomic_write", fill_up_at_step_4)
    with pytest.raises(T.WriteFailed, match=r"^no space left on .*checkpoints/4; "
                                            r"intact: checkpoint at step 2$"):
        _run(work, 8)
    monkeypatch.undo()
    with caplog.at_level(logging.WARNING):  # step 4 lacks its checksums: set aside
        state, _ = _run(work, 8)
    assert len(_warnings(caplog)) == 1
    _same_params(state, ref_state)
    assert (work / "metrics.jsonl").read_bytes() == ref_metrics


# ----------------------------------------------------------------------------- 7. file modes


def test_files_honour_the_umask(tmp_path):
    work = tmp_path / "w"
    old = os.umask(0o027)
    try:
        _run(work, 2)
        (work / "metrics.jsonl").chmod(0o600)
        _run(work, 4)  # resuming rewrites metrics.jsonl (mkstemp would make it 0600)
    finally:
        os.umask(old)
    modes = {p.relative_to(work).as_posix(): p.stat().st_mode & 0o777
             for p in work.rglob("*") if p.is_file()}
    assert {"metrics.jsonl", "run.json", ".lock", "checkpoints/4/sha256.json"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode != 0o640} == {}


# ----------------------------------------------------------------------------- 8. progress


def test_plain_progress_lines_when_stdout_is_not_a_terminal(capsys, monkeypatch):
    T.fit(STEP, _fresh(), _batch_at, num_steps=3, description="demo")
    lines = capsys.readouterr().out.splitlines()
    pattern = r"demo (\d)/3 loss=\d\S* elapsed=\d+\.\ds"
    assert [re.fullmatch(pattern, line).group(1) for line in lines] == ["1", "3"], lines
    monkeypatch.setattr(progress_module, "PLAIN_EVERY_S", 0.0)
    T.fit(STEP, _fresh(), _batch_at, num_steps=3, description="demo")
    assert len(capsys.readouterr().out.splitlines()) == 3
    T.fit(STEP, _fresh(), _batch_at, num_steps=3, progress=False)
    assert capsys.readouterr().out == ""


# ----------------------------------------------------------------------------- 9. side files


def _refused(error, pattern, work, **kw):
    """``fit`` raises ``error`` with a one-line message matching ``pattern`` and changes nothing."""
    before = _snapshot(work)
    with pytest.raises(error, match=pattern) as e:
        _run(work, 8, **kw)
    assert "\n" not in str(e.value)
    assert _snapshot(work) == before
    return str(e.value)


@pytest.mark.parametrize("damage", ["lines 4-6 deleted", "file deleted", "a value edited",
                                    "a line added"])
def test_metrics_that_do_not_match_the_newest_checkpoint_are_refused(reference, tmp_path, damage):
    ref_state, ref_metrics, six = reference
    work = tmp_path / "w"
    shutil.copytree(six, work)  # checkpoints 2, 4, 6 and the records of steps 1..6
    path = work / "metrics.jsonl"
    intact = path.read_text()
    lines = intact.splitlines(keepends=True)
    if damage == "lines 4-6 deleted":
        path.write_text("".join(lines[:3]))
        want = r"holds 3 records up to step 6, but checkpoint step 6 was saved after 6 records"
    elif damage == "file deleted":
        path.unlink()
        want = r"metrics.jsonl is missing, but checkpoint step 6 was saved after 6 records"
    elif damage == "a value edited":
        lines[4] = lines[4].replace('"loss": ', '"loss": 1')
        path.write_text("".join(lines))
        want = (r"holds 6 records up to step 6 that differ from those checkpoint step 6 was saved "
                r"after 6 records \(the last at step 6\)")
    else:
        path.write_text("".join(lines[:2] + [lines[1]] + lines[2:]))
        want = r"holds 7 records up to step 6"
    message = _refused(T.MetricsError, want, work)
    assert message.endswith("restore the file, or pass overwrite=True to start afresh "
                            "(the history cannot be rebuilt from checkpoints)")
    with pytest.raises(T.MetricsError):
        _run(work, 6)  # returning a finished run's history is checked the same way
    path.write_text(intact)  # restored: the run resumes and ends as an uninterrupted one
    state, _ = _run(work, 8)
    _same_params(state, ref_state)
    assert path.read_bytes() == ref_metrics


def test_folders_and_files_in_the_wrong_places_are_refused_before_anything_changes(
        reference, tmp_path):
    _, _, six = reference
    work = tmp_path / "w"
    shutil.copytree(six, work)
    shutil.rmtree(work / "checkpoints")
    (work / "checkpoints").write_text("not a folder")  # found before metrics.jsonl is cut
    for kw in ({}, {"overwrite": True}):
        _refused(T.WorkdirError, r"checkpoints is a file, where fit keeps its checkpoints folder",
                 work, **kw)
    other = tmp_path / "other"
    (other / "metrics.jsonl").mkdir(parents=True)
    for kw in ({}, {"overwrite": True}):
        _refused(T.WorkdirError, r"metrics.jsonl is a folder, where fit keeps its metrics.jsonl "
                                 r"file: move it away or use another workdir$", other, **kw)
    with pytest.raises(T.WorkdirError):
        T.check_workdir(other, _fresh(), num_steps=8, config=CONFIG)


@pytest.mark.parametrize("value", [lambda x: x, object(), np.tanh.__call__],
                         ids=["function", "object", "method"])
def test_configs_that_cannot_be_stored_are_refused_when_the_run_starts(tmp_path, value):
    work = tmp_path / "w"
    with pytest.raises(T.UnstorableConfig, match=r"^config\['model'\]\['act'\] is .* at 0x.*, "
                                                 r"which cannot be stored faithfully") as e:
        _run(work, 2, config={"model": {"act": value}})
    assert "\n" not in str(e.value) and not work.exists()
    with pytest.raises(T.UnstorableConfig):
        T.check_workdir(work, _fresh(), num_steps=2, config={"act": [1, value]})
    with pytest.raises(T.UnstorableConfig, match=r"^config cannot be stored as JSON \(TypeError: "
                                                 r"keys must be str.*\): use str keys"):
        _run(work, 2, config={(1, 2): "a tuple key"})
    assert not work.exists()


def test_configs_resume_when_stored_faithfully(tmp_path):
    # NaN matches itself, a set is stored sorted, a name is a name
    config = {"clip": float("nan"), "tags": {"b", "a"}, "act": "tanh"}
    _run(tmp_path / "w", 2, config=config)
    _, records = _run(tmp_path / "w", 4, config=config)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    stored = (tmp_path / "w" / "run.json").read_text()
    assert '"clip": NaN' in stored and '"tags": [\n   "a",\n   "b"\n  ]' in stored
