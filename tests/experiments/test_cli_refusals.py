"""A refused study command changes nothing; ``--overwrite`` reaches every training run.

A toy study with two parts (one computed, one trained through :func:`rnnjax.train.fit` under
``runs/``) is refused by ``fit`` after its first part and ``config.json`` were written (fewer
``--steps`` than saved, another learning rate): every file must come back byte for byte. The
workdir's shape (an empty path, a folder where a file belongs, a file where a folder belongs)
and list flags given no values are refused before anything is written.
"""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import optax
import pytest

import rnnjax.train as tr
from experiments.common import Study, cached_part, main, read_json, write_index, write_json
from experiments.common.cli import flag_words

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How the toy trains."""

    learning_rate: float = 0.1
    """Adam's rate."""
    sizes: tuple[int, ...] = (1, 2)
    """Needed values."""
    extras: tuple[int, ...] = (3,)
    """May be empty."""


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    """A toy study that trains."""

    seed: int = 0
    """Seed."""
    steps: int | None = None
    """Updates."""
    train: TrainConfig = TrainConfig()


def _train(config, workdir: Path) -> dict:
    opt = optax.adam(config.train.learning_rate)
    state = tr.init_state({"w": jnp.zeros(())}, opt, key=jax.random.key(config.seed))
    step = tr.make_step(lambda p, b, k: (p["w"] - b) ** 2, opt)
    state, hist = tr.fit(step, state, lambda s: jnp.float32(s % 3), num_steps=config.steps or 4,
                         workdir=workdir / "runs" / "fit", checkpoint_every=2, progress=False,
                         config={"lr": config.train.learning_rate})
    return {"w": float(state.params["w"]), "steps": [r["step"] for r in hist]}


def _run(config, workdir: Path) -> None:
    settings = {"steps": config.steps, "train": config.train}
    first = cached_part(workdir, "first", settings, lambda: {"value": config.steps or 4})
    trained = cached_part(workdir, "trained", settings, lambda: _train(config, workdir))
    write_json(workdir / "summary.json", {**first, **trained})


def _plot(workdir: Path) -> None:
    write_index(workdir, title="toy", headline=f"w {read_json(workdir / 'summary.json')['w']}",
                figures=[])


TOY = Study(name="toy_fit", config=ToyConfig, presets={"quick": ToyConfig()}, run=_run,
            plot=_plot, optional_lists=("train.extras",))


def _snapshot(root: Path) -> dict:
    """Every file below ``root`` (but the lock, which holds the last opener's PID): its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def trained(tmp_path):
    w = tmp_path / "w"
    assert main(TOY, ["--quick", "--steps", "6", "--workdir", str(w)]) == 0
    return w


@pytest.mark.parametrize("flags, message", [
    (["--steps", "3"], "holds step 6 > num_steps 3"),
    (["--steps", "6", "--train.learning-rate", "0.5"], "different config"),
])
def test_a_refused_run_leaves_every_file_byte_identical(trained, capsys, flags, message):
    before = _snapshot(trained)
    capsys.readouterr()
    assert main(TOY, ["--quick", *flags, "--workdir", str(trained)]) == 2
    err = _one_error_line(capsys)
    assert message in err and "--overwrite" in err and "overwrite=True" not in err
    assert _snapshot(trained) == before  # config.json too, and part "first" recomputed before


def test_overwrite_reaches_fit_and_starts_afresh(trained):
    assert main(TOY, ["--quick", "--steps", "3", "--workdir", str(trained), "--overwrite"]) == 0
    summary = read_json(trained / "summary.json")
    assert summary["steps"] == [1, 2, 3] and summary["value"] == 3
    assert read_json(trained / "config.json")["config"]["steps"] == 3
    records = (trained / "runs" / "fit" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in records] == [1, 2, 3]


def test_a_refusal_in_a_new_workdir_leaves_nothing(tmp_path, capsys, monkeypatch):
    def refuse(config, workdir):
        write_json(workdir / "partial.json", {})
        raise tr.ConfigMismatch("refused")

    w = tmp_path / "new" / "w"
    assert main(dataclasses.replace(TOY, run=refuse), ["--quick", "--workdir", str(w)]) == 2
    assert _one_error_line(capsys) == "error: refused"
    assert not w.exists()


def test_a_stop_while_computing_keeps_what_was_written(tmp_path, capsys):
    def stop(config, workdir):
        write_json(workdir / "part.json", {"done": 1})
        raise tr.WriteFailed("no space left: part.json is intact")

    w = tmp_path / "w"
    assert main(dataclasses.replace(TOY, run=stop), ["--quick", "--workdir", str(w)]) == 2
    assert "no space left" in _one_error_line(capsys)
    assert read_json(w / "part.json") == {"done": 1} and (w / "config.json").exists()


def test_empty_workdir_path_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for value in ("", " "):
        assert main(TOY, ["--quick", "--workdir", value]) == 2
        assert "--workdir must name a folder" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, message", [
    (lambda w: (w / "config.json").mkdir(parents=True), "is a folder where a file belongs"),
    (lambda w: (w / "runs" / "trained.json").mkdir(parents=True), "is a folder where a file"),
    (lambda w: (w / "runs").write_text("x"), "is a file where a folder belongs"),
    (lambda w: (w / "checkpoints").write_text("x"), "is a file where a folder belongs"),
])
def test_files_where_folders_belong_and_the_reverse(tmp_path, capsys, make, message):
    w = tmp_path / "w"
    w.mkdir()
    make(w)
    before = sorted(p.relative_to(w) for p in w.rglob("*"))
    assert main(TOY, ["--quick", "--workdir", str(w)]) == 2
    assert message in _one_error_line(capsys)
    assert sorted(p.relative_to(w) for p in w.rglob("*")) == before


def test_an_empty_list_where_values_are_needed_is_refused(tmp_path, capsys):
    w = tmp_path / "w"
    assert main(TOY, ["--quick", "--train.sizes", "--workdir", str(w)]) == 2
    assert _one_error_line(capsys) == "error: --train.sizes needs at least one value (the preset has 1 2)"
    assert not w.exists()
    assert main(TOY, ["--quick", "--train.extras", "--steps", "2", "--workdir", str(w)]) == 0


def test_messages_name_the_flags():
    assert flag_words("x: use a new workdir, or overwrite=True to discard it") == \
        "x: use a new workdir, or --overwrite to discard it".replace("a new workdir", "another --workdir")
    assert flag_words("w holds step 6 > num_steps 3: use a new workdir") == \
        "w holds step 6 > num_steps 3: use another --workdir, or --overwrite to start afresh"


@pytest.mark.slow
def test_truncated_bptt_refusals_change_nothing(tmp_path):
    """The probes on a real study: fewer --steps, another --train.learning-rate, no --methods.k2s."""
    w = tmp_path / "w"
    tiny = ["-m", "experiments.truncated_bptt", "--quick", "--methods.k2s", "4",
            "--methods.naive-chunks", "4", "--train.seeds", "1", "--train.n-test", "8",
            "--workdir", str(w)]

    def run(*flags):
        return subprocess.run([sys.executable, *tiny, *flags], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)

    assert run("--steps", "4").returncode == 0
    before = _snapshot(w)
    for flags in (["--steps", "2"], ["--steps", "4", "--train.learning-rate", "0.5"],
                  ["--steps", "4", "--methods.k2s"]):
        out = run(*flags)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert _snapshot(w) == before, flags
    assert run("--steps", "2", "--overwrite").returncode == 0
    assert read_json(w / "config.json")["config"]["steps"] == 2
