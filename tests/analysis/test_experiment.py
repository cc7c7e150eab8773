"""End to end: the Jacobian-spectra study at a tiny size writes its tables, figures and index."""

import json
import math

import numpy as np
import pytest

from experiments import jacobian_spectra
from experiments.jacobian_spectra.config import PRESETS, Config
from experiments.jacobian_spectra.lyapunov_plots import interval_text, mean_and_interval

TINY = [
    "--quick", "--norms.families", "linear_orth", "lstm_fb1", "--norms.hidden-size", "6",
    "--norms.length", "12", "--norms.rhos", "0.5", "1.5", "--norms.seeds", "2",
    "--spectra.hidden-size", "6", "--spectra.times", "1", "5", "--spectra.rhos", "1", "1.5",
    "--spectra.seeds", "2",
    "--lyapunov.hidden-size", "6", "--lyapunov.length", "60", "--lyapunov.warmup", "20",
    "--lyapunov.seeds", "1", "--lyapunov.gains", "0.5", "2", "--lyapunov.gain-grid", "0.5", "2",
    "--lyapunov.finite-sizes", "4", "6", "--lyapunov.logistic-points", "5",
    "--flow.length", "6", "--flow.hidden-size", "4", "--flow.batch-size", "4", "--flow.samples", "2",
    "--clipping.length", "6", "--clipping.hidden-size", "4", "--clipping.batch-size", "4",
    "--clipping.landscape-points", "5", "--clipping.seeds", "2", "--flow.seeds", "2",
    "--clipping.learning-rate", "30", "--steps", "4",
    "--plateau.sizes", "4", "5", "6", "--plateau.driven-sizes", "4", "5", "6",
    "--plateau.gains", "1.2", "--plateau.driven-gains", "1", "--plateau.seeds", "2",
    "--plateau.length", "30", "--plateau.warmup", "10",
    "--clipping-sweep.length", "6", "--clipping-sweep.hidden-size", "4",
    "--clipping-sweep.batch-size", "4", "--clipping-sweep.seeds", "2",
    "--clipping-sweep.learning-rates", "30", "--clipping-sweep.rhos", "1", "1.5",
    "--clipping-sweep.modes", "none", "norm",
]
PARTS = ("norms", "spectra", "lyapunov", "plateau", "flow", "clipping", "clipping_sweep")


@pytest.mark.slow  # compiles every part and draws every figure twice
def test_jacobian_spectra_tiny(tmp_path, capsys):
    argv = [*TINY, "--workdir", str(tmp_path)]
    assert jacobian_spectra.main(argv) == 0
    for name in ("norms_zero.png", "norms_driven.png", "spectra.png", "lyapunov.png", "flow.png",
                 "clipping.png", "plateau.png", "clipping_sweep.png", "config.json", "index.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["preset"] == "quick" and config["config"]["norms"]["rhos"] == [0.5, 1.5]
    norms = json.loads((tmp_path / "norms.json").read_text())
    # zero input, linear, W = rho Q: log-norm = t log rho for every seed
    lin = np.asarray(norms["families"]["linear_orth"]["zero"])  # (rhos, seeds, T)
    expected = np.asarray(norms["t"])[None, None, :] * np.log([0.5, 1.5])[:, None, None]
    np.testing.assert_allclose(lin, np.broadcast_to(expected, lin.shape), atol=1e-3)
    spectra = json.loads((tmp_path / "spectra.json").read_text())
    # orthogonal W = rho Q and zero input: every singular value of (rho Q)^t is rho^t
    sv = np.asarray(spectra["log10_sv"]["linear_orth"], dtype=float)  # (rhos, seeds, times, H)
    assert sv.shape == (2, 2, 2, 6)
    expected = np.log10([1.0, 1.5])[:, None, None, None] * np.asarray([1, 5])[None, None, :, None]
    np.testing.assert_allclose(sv, np.broadcast_to(expected, sv.shape), atol=1e-4)
    # gated cells on zero input: the closed-form zero-state product J^t is what was measured
    lstm = norms["families"]["lstm_fb1"]
    np.testing.assert_allclose(lstm["exact_zero"], lstm["zero"], atol=1e-3)
    lyap = json.loads((tmp_path / "lyapunov.json").read_text())
    assert abs(lyap["logistic"]["lambda_at_4"] - math.log(2)) < 0.02
    at = lyap["logistic"]["at_4"]
    assert at["orbits"] == 64 and at["ci"][0] < math.log(2) < at["ci"][1]
    # u_t = s xi_t with s = 0.5: sigma_u^2 = 0.25; without input mean field is ln g for g <= 1
    assert lyap["driven"]["input_variance"] == 0.25 and lyap["autonomous"]["N"] == 6
    assert abs(lyap["autonomous"]["mean_field"][0] - math.log(0.5)) < 1e-6
    for label in ("autonomous", "driven"):
        entry = lyap[label]
        assert entry["g"] == [0.5, 2.0] and len(entry["lambda_max"]) == 2
        np.testing.assert_allclose(entry["lambda_max"], np.mean(entry["lambda_max_seeds"], 1),
                                   rtol=1e-6)
        mean, ci = mean_and_interval(entry)
        assert np.all(ci[:, 0] <= mean) and np.all(mean <= ci[:, 1]) and "lambda_max_ci" not in entry
    assert sorted(lyap["finite_size"], key=int) == ["4", "6"]
    assert lyap["finite_size"]["6"]["lambda_max"] == lyap["autonomous"]["lambda_max"]
    flow = json.loads((tmp_path / "flow.json").read_text())
    assert np.asarray(flow["models"]["lstm"]["trained"]).shape == (2, 6)  # (seeds, lags)
    assert len(flow["models"]["tanh"]["test_mse"]) == 2
    clip = json.loads((tmp_path / "clipping.json").read_text())
    # every update logged; the first non-finite update is the first the loop flagged (and
    # skipped), read back from the raw training log; a null loss never comes before it
    members = [(rho, s) for rho in clip["rhos"] for s in range(2)]
    for name, run in clip["runs"].items():
        assert run["steps"] == [1, 2, 3, 4]
        log = [json.loads(line) for line in
               (tmp_path / "runs" / f"clip_{name}" / "metrics.jsonl").read_text().splitlines()]
        for i, (rho, s) in enumerate(members):
            r = run["rho"][f"{rho:g}"]
            flagged = [rec["step"] for rec in log if rec["finite"][i] == 0]
            assert r["diverged_at"][s] == (flagged[0] if flagged else None)
            null = [t for t, v in zip(run["steps"], r["loss"][s], strict=True) if v is None]
            assert not null or (flagged and flagged[0] <= null[0])
    plateau = json.loads((tmp_path / "plateau.json").read_text())
    assert sorted(plateau["autonomous"]["sizes"], key=int) == ["4", "5", "6"]
    assert plateau["autonomous"]["gap_fit"]["N"] == [4, 5, 6]
    sweep = json.loads((tmp_path / "clipping_sweep.json").read_text())
    assert set(sweep["cells"]) == {"none/30", "norm/30"} and sweep["control_rho"] == 1.0
    assert all(sweep["cells"][c]["rho"]["1"]["runs"] == 2 for c in sweep["cells"])
    for part in PARTS:  # no wall clock in results
        assert "seconds" not in json.loads((tmp_path / f"{part}.json").read_text())
    # the same command again reuses every finished part
    before = {p: (tmp_path / f"{p}.json").read_bytes() for p in PARTS}
    capsys.readouterr()
    assert jacobian_spectra.main(argv) == 0
    log = capsys.readouterr().out
    for part in PARTS:
        assert f"{part}: reusing" in log, log
        assert (tmp_path / f"{part}.json").read_bytes() == before[part]
    # changing one part's field recomputes only that part
    assert jacobian_spectra.main([*argv, "--lyapunov.length", "70"]) == 0
    log = capsys.readouterr().out
    assert "lyapunov: reusing" not in log and "norms: reusing" in log and "flow: reusing" in log
    assert json.loads((tmp_path / "lyapunov.json").read_text())["settings"]["length"] == 70
    # plot-only redraws from the saved results
    (tmp_path / "flow.png").unlink()
    assert jacobian_spectra.main(["--plot-only", "--workdir", str(tmp_path)]) == 0
    assert (tmp_path / "flow.png").exists()


def test_jacobian_spectra_bad_input_is_one_line(tmp_path, capsys):
    for bad in (["--norms.length", "0"], ["--norms.families", "rnn"],
                ["--lyapunov.warmup", "900"], ["--spectra.rhos", "nan"],
                ["--clipping.control-rho", "1.5"], ["--flow.length", "1"],
                ["--plateau.seeds", "1"], ["--clipping-sweep.modes", "norm"]):
        assert jacobian_spectra.main(["--quick", *bad, "--workdir", str(tmp_path / "x")]) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:"), (bad, err)
    assert not (tmp_path / "x").exists()


def test_full_preset_is_the_config_default():
    assert PRESETS["full"] == Config()
    assert jacobian_spectra.STUDY.workdir("full").as_posix() == "results/jacobian_spectra_full"


def test_lyapunov_bars_are_t_intervals_of_the_seeds():
    from scipy import stats

    mean, ci = mean_and_interval({"lambda_max_seeds": [[1.0, 2.0, 4.0], [-0.5, -0.5, -0.5]]})
    np.testing.assert_allclose(mean, [7 / 3, -0.5])
    want = stats.t.interval(0.95, df=2, loc=7 / 3, scale=stats.sem([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(ci, [want, (-0.5, -0.5)], rtol=1e-12)
    assert interval_text(3) == "95 % t-interval of the mean, 3 seeds"
