"""End to end: the Jacobian-spectra experiment at a tiny size writes its tables, figures, index."""

import json

from experiments import jacobian_spectra


def test_jacobian_spectra_tiny(tmp_path, capsys):
    argv = [
        "--quick", "--families", "linear_orth,lstm_fb1", "--hidden-size", "6", "--length", "12", "--rhos", "0.5,1.5", "--seeds", "2",
        "--spectrum-hidden", "6", "--spectrum-times", "1,5", "--lyap-hidden", "6",
        "--lyap-steps", "60", "--lyap-warmup", "20", "--lyap-seeds", "1", "--lyap-gains", "0.5,2",
        "--lyap-gain-grid", "0.5,2", "--logistic-points", "5", "--adding-length", "6",
        "--train-hidden", "4", "--steps", "4", "--batch-size", "4", "--flow-samples", "2",
        "--clip-length", "6", "--clip-steps", "4", "--landscape-points", "5",
        "--workdir", str(tmp_path),
    ]
    assert jacobian_spectra.main(argv) == 0
    for name in ("norms_zero.png", "norms_driven.png", "spectra.png", "lyapunov.png", "flow.png",
                 "clipping.png", "config.json", "index.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    norms = json.loads((tmp_path / "norms.json").read_text())
    # zero input, linear, W = rho Q: log-norm = t log rho for every seed
    lin = norms["families"]["linear_orth"]["zero"]
    for i, rho in enumerate((0.5, 1.5)):
        for seed_curve in lin[i]:
            for t, v in zip(norms["t"], seed_curve, strict=True):
                assert abs(v - t * __import__("math").log(rho)) < 1e-3
    lyap = json.loads((tmp_path / "lyapunov.json").read_text())
    assert abs(lyap["logistic"]["lambda_at_4"] - lyap["logistic"]["ln2"]) < 0.02
    flow = json.loads((tmp_path / "flow.json").read_text())
    assert len(flow["models"]["lstm"]["trained"]) == 6
    # the same command again reuses every finished part instead of recomputing it
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.json") if p.name != "index.json"}
    capsys.readouterr()
    assert jacobian_spectra.main(argv) == 0
    log = capsys.readouterr().out
    for part in ("norms", "spectra", "lyapunov", "flow", "clipping"):
        assert f"-- {part}: reusing" in log, log
        assert (tmp_path / f"{part}.json").read_bytes() == before[f"{part}.json"]
    # without the run state (a fresh clone of committed results) every part is recomputed
    import shutil

    shutil.rmtree(tmp_path / "checkpoints")
    assert jacobian_spectra.main(argv) == 0
    assert "reusing" not in capsys.readouterr().out
    # a changed setting recomputes
    assert jacobian_spectra.main(argv[:-2] + ["--lyap-steps", "70", "--workdir", str(tmp_path)]) == 0
    assert "-- norms: reusing" not in capsys.readouterr().out
    assert json.loads((tmp_path / "norms.json").read_text())["settings"]["lyap_steps"] == 70
    # plot-only redraws from the saved results without retraining
    assert jacobian_spectra.main(["--plot-only", "--workdir", str(tmp_path)]) == 0
    # bad input: one line, exit status 2
    assert jacobian_spectra.main(["--length", "0", "--workdir", str(tmp_path / "x")]) == 2
