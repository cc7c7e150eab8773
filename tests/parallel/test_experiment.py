"""experiments.parallel at a tiny size: the sweep's rows, convergence where λ_max < 0, the trained
networks' part, the c·(ln T)² fit, and the figures and index drawn from the saved summary alone."""

import json

import numpy as np
import pytest

from experiments.parallel.config import Config, GainConfig, TrainedConfig
from experiments.parallel.plots import headline, log_squared_fit, plot, readme_table
from experiments.parallel.run import run


def test_log_squared_fit_recovers_c_and_ignores_other_solves():
    rows = [{"method": "deer", "T": T, "lambda_max": -0.5, "converged": True,
             "iterations": 0.3 * np.log(T) ** 2} for T in (64, 256, 1024)]
    rows += [{"method": "deer", "T": 64, "lambda_max": 0.2, "converged": True, "iterations": 60},
             {"method": "deer", "T": 64, "lambda_max": -0.1, "converged": False, "iterations": 64},
             {"method": "elk", "T": 64, "lambda_max": -0.5, "converged": True, "iterations": 50}]
    assert np.isclose(log_squared_fit(rows, "deer"), 0.3)
    assert np.isnan(log_squared_fit(rows, "quasi_deer"))


@pytest.mark.slow
def test_tiny_sweep_rows_and_plots(tmp_path):
    config = Config(gain=GainConfig(hidden_size=4, gains=(0.5, 3.0), lengths=(16,), networks=1,
                                    lyapunov_steps=300),
                    trained=TrainedConfig(cells=("gru",), hidden_size=4, train_length=8, steps=3,
                                          seeds=1, batch_size=4, n_test=8, lengths=(16,)))
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
    trained = summary["trained_rows"]
    assert len(trained) == 4 and {r["cell"] for r in trained} == {"gru"}  # methods × lengths
    assert summary["trained"]["networks"][0]["test_mse"] > 0
    plot(tmp_path)
    for name in ("iterations_vs_lambda.png", "iterations_vs_T.png"):
        assert (tmp_path / name).stat().st_size > 0
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["headline"] == headline(summary)
    assert "trained GRU" in readme_table(tmp_path)
