"""The committed long-range results obey the protocol they claim (issue: train to a criterion,
seeds per cell, rows that say what each run had), checked on every committed results folder."""

import importlib
import json
import shutil
from pathlib import Path

import pytest

from experiments import longrange
from experiments.longrange.plan import SEARCH

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = sorted(p.parent for p in (ROOT / "results" / "longrange").glob("**/summary.json")
                 if not {"runs", "parts", "checkpoints"} & set(p.relative_to(ROOT).parts))


def _load(folder: Path):
    summary = json.loads((folder / "summary.json").read_text())
    config = json.loads((folder / "config.json").read_text())["config"]
    return summary["rows"], config


def test_there_are_folders_to_check():
    assert {f.name for f in FOLDERS} >= {"longrange", "full", "controls"}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_every_run_stopped_at_success_or_at_its_budget(folder):
    """A run without success trained its whole budget (a tuning run may instead have been stopped
    once its rate could no longer be chosen, or a repeated search's once a run of its model
    succeeded, ``pruned``; any run once float32 overflow froze it, ``frozen_at``); a success is
    counted at or before the
    update the run stopped at, never after its budget."""
    rows, _ = _load(folder)
    assert rows
    for r in rows:
        where = (r["task"], r["T"], r["model"], r["ablation"], r["seed"], r["lr"])
        assert r["steps"] <= r["budget"], where
        if r["success"]:
            assert r["steps_to_success"] is not None and r["steps_to_success"] <= r["steps"], where
        else:
            assert (r["steps"] == r["budget"] or (r["ablation"] in SEARCH and r["pruned"])
                    or r["steps"] == r["frozen_at"]), where
        if r["frozen_at"] is not None:  # stopped where float32 overflow froze it
            assert r["diverged"] and not r["success"] and r["steps"] == r["frozen_at"], where
        assert r["optimizer"] in ("adam", "sgd") and r["lr"] > 0, where


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_every_reported_cell_has_its_seeds(folder):
    """Each reported (task, T, model) has the config's seeds (the headline cells their headline
    seeds), seeds 0 .. n - 1 shared by every model of that T (paired data), and at most
    ``open_seeds`` where seeds were added."""
    rows, config = _load(folder)
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["ablation"] is None:
            cells.setdefault((r["task"], r["T"], r["model"]), []).append(r)
    assert cells
    for (task, T, model), rs in cells.items():
        ts = config["sweep"][task]
        seeds = {r["seed"] for r in rs}
        headline = model in ts["headline_models"] and T in ts["headline_lengths"]
        n = max(ts["seeds"], ts["headline_seeds"]) if headline else ts["seeds"]
        assert seeds in ({*range(n)}, {*range(max(n, ts["open_seeds"]))}), (task, T, model, seeds)
        if headline and folder.name == "full":  # the headline cells: at least 20 000 updates
            assert all(r["budget"] >= 20_000 for r in rs), (task, T, model)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_a_committed_slice_belongs_to_a_program_not_yet_finished(folder):
    """A program trained in slices keeps them only until its own result is saved; each slice's
    settings name it and hold its share of the program's runs."""
    parts = folder / "parts"
    for piece in parts.glob("*_slice*of*.json"):
        program, cut = piece.stem.rsplit("_slice", 1)
        assert not (parts / f"{program}.json").exists(), piece.name
        settings = json.loads(piece.read_text())["settings"]
        i, n = map(int, cut.split("of"))
        assert settings["group"] == piece.stem and 0 <= i < n and settings["members"], piece.name


@pytest.mark.parametrize("folder", [pytest.param(f, marks=pytest.mark.slow) if f.name == "full"
                                    else f for f in FOLDERS], ids=lambda f: f.name)
def test_every_committed_part_is_one_the_protocol_reads(folder, tmp_path, monkeypatch):
    """No stale program result: each file of ``parts/`` is a program (or a slice of one) whose
    result the folder's own command reads when it tabulates (``--execution.no-compute`` on a
    copy), so the folder is what the code in the repo produces. (The full preset's, about a
    minute of tabulation, runs with ``-m slow``.)"""
    run = importlib.import_module("experiments.longrange.run")
    read, finished = set(), run._finished

    def spy(where, name, settings):
        found = finished(where, name, settings)
        if found is not None:
            read.add(name)
        return found

    monkeypatch.setattr(run, "_finished", spy)
    shutil.copytree(folder / "parts", tmp_path / "parts")
    shutil.copy(folder / "config.json", tmp_path / "config.json")
    preset = json.loads((folder / "config.json").read_text())["preset"]
    assert longrange.main(["--preset", preset, "--execution.no-compute",
                           "--workdir", str(tmp_path)]) == 0
    stored = {p.stem for p in (folder / "parts").glob("*.json")} - {"timing"}
    assert sorted(stored - read) == []
