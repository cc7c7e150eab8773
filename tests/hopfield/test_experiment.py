"""End-to-end: the Hopfield experiment at a tiny size writes its tables, figures and index."""

import json

import pytest

from experiments import hopfield

TINY = ["--sizes", "40", "--num-loads", "4", "--trials", "3", "--noise", "0,0.1",
        "--stability-trials", "4", "--dense-units", "10", "--dense-max-patterns", "16",
        "--dense-tests", "4", "--modern-sizes", "20", "--modern-queries", "5", "--num-betas", "3",
        "--clusters", "2", "--cluster-size", "3", "--capacity-dims", "6",
        "--capacity-max-log2", "4", "--capacity-queries", "8", "--task-length", "8",
        "--steps", "4", "--eval-every", "2", "--n-test", "16", "--batch-size", "4",
        "--hidden-size", "4", "--model-dim", "4"]


@pytest.mark.slow
def test_tiny_run_writes_results(tmp_path):
    assert hopfield.main(TINY + ["--workdir", str(tmp_path)]) == 0
    for name in ("capacity", "perfect_recall", "dense", "modern", "attention"):
        assert (tmp_path / f"{name}.json").exists()
    for fig in ("capacity", "perfect_recall", "dense", "modern_beta", "regimes", "capacity_dim",
                "attention_task"):
        assert (tmp_path / f"{fig}.png").stat().st_size > 10_000
    cap = json.loads((tmp_path / "capacity.json").read_text())
    row = cap["rows"][0]
    assert row["N"] == 40 and "alpha_c" in cap
    # at the lowest load (P = 1) a clean cue is a fixed point: overlap exactly 1
    assert row["noise"]["0.0"]["overlap_mean"][0] == 1.0
    att = json.loads((tmp_path / "attention.json").read_text())
    assert att["identity"]["max_abs_diff"] < 1e-4
    assert "Capacity" in (tmp_path / "lstm_vs_hopfield.md").read_text()
    index = json.loads((tmp_path / "index.json").read_text())
    assert "α_c" in index["headline"]
    # rerunning with the same settings reuses every part; --plot-only redraws from the JSON
    assert hopfield.main(["--plot-only", "--workdir", str(tmp_path)]) == 0


def test_bad_flag_exits_2(tmp_path, capsys):
    assert hopfield.main(["--noise", "0.7", "--workdir", str(tmp_path)]) == 2
    assert "noise" in capsys.readouterr().err
