
"""experiments.parallel at a tiny size: the sweep's rows, convergence where λ_max < 0, and the
figure and index drawn from the saved summary alone."""

import json

import pytest

from experiments.parallel.config import Config, GainConfig
from experiments.parallel.plots import headline, plot
from experiments.parallel.run import run


@pytest.mark.slow
def test_tiny_sweep_rows_and_plots(tmp_path):
    config = Config(gain=GainConfig(hidden_size=4, gains=(0.5, 3.0), lengths=(16,), networks=1,
                                    lyapunov_steps=300))
    run(config, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = summary["rows"]
    assert len(rows) == 2 * 4  # gains × methods
    stable = [r for r in rows if r["gain"] == 0.5]
    assert all(r["lambda_max"] < 0 for r in stable)
    assert all(r["converged"] for r in stable if r["method"] in ("deer", "quasi_deer"))
    deer = next(r for r in stable if r["method"] == "deer")
    assert deer["iterations"] < 8  # quadratic convergence where the network forgets
    assert all(r["iterations"] <= 16 for r in rows)
    plot(tmp_path)
    assert (tmp_path / "iterations_vs_lambda.png").stat().st_size > 0
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["headline"] == headline(summary)
