"""End-to-end checks of experiments/longrange.py at tiny size.

- the files, one summary row per (task, model, T, seed, ablation), loss / baseline consistent;
- a run of one seed equals the same seed inside a two-seed run that was interrupted and resumed
  from its checkpoint (members independent, vmap and lax.map agree, resumption is exact);
- the same sweep sharded over two forced host CPU devices (a subprocess) gives the same losses.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import longrange

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--tasks", "adding", "--lengths", "8", "--hidden-size", "4", "--batch-size", "4",
        "--n-test", "16", "--eval-every", "4", "--checkpoint-every", "4",
        "--learning-rate", "0.01"]


def _rows(workdir):
    summary = json.loads((Path(workdir) / "summary.json").read_text())
    assert summary["complete"]
    return summary["rows"]


def test_tiny_sweep_writes_tables_and_figures(tmp_path):
    rc = longrange.main(TINY + ["--models", "elman,lstm_fb1", "--seeds", "2", "--steps", "4",
                                "--ablation-models", "elman", "--tbptt-truncation", "2",
                                "--workdir", str(tmp_path)])
    assert rc == 0
    for f in ("config.json", "summary.json", "curves.json", "timing.json", "index.json",
              "curves_adding.png", "loss_vs_T.png", "success_vs_T.png",
              "learning_time_vs_T.png", "ablations.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    rows = _rows(tmp_path)
    # both models, clipping-off and truncated-BPTT ablations of the Elman net, 2 seeds each
    keys = sorted((r["model"], r["ablation"] or "", r["seed"]) for r in rows)
    expected = sorted([("lstm_fb1", "", s) for s in (0, 1)] + [
        ("elman", a, s) for a in ("", "no_clip", "tbptt_k2") for s in (0, 1)])
    assert keys == expected
    for r in rows:
        assert r["task"] == "adding" and r["T"] == 8 and r["baseline"] == pytest.approx(1 / 6)
        assert r["loss_over_baseline"] == pytest.approx(r["loss"] / r["baseline"])
        assert r["steps_to_success"] is None or r["steps_to_success"] in (4,)
    assert next(r for r in rows if r["model"] == "lstm_fb1")["n_params"] == (
        2 * 16 + 4 * 16 + 16 + 4 + 1)  # w_x (2, 4H), w_h (H, 4H), b (4H), readout (H, 1) + bias
    index = json.loads((tmp_path / "index.json").read_text())
    assert "LSTM" in index["headline"]
    # --plot-only redraws from the saved tables and never retrains
    (tmp_path / "loss_vs_T.png").unlink()
    assert longrange.main(["--plot-only", "--workdir", str(tmp_path)]) == 0
    assert (tmp_path / "loss_vs_T.png").exists()


def test_vmapped_seed_equals_single_run_and_resume_is_exact(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    common = TINY + ["--models", "lstm_fb1", "--ablations", "", "--steps", "8"]
    # one seed batched with vmap; two seeds run in turn with lax.map (the CPU default)
    assert longrange.main(common + ["--seeds", "1", "--sweep", "vmap",
                                    "--workdir", str(one)]) == 0
    assert longrange.main(common + ["--seeds", "2", "--workdir", str(two)]) == 0
    a = {r["seed"]: r["loss"] for r in _rows(one)}
    b = {r["seed"]: r["loss"] for r in _rows(two)}
    assert a[0] == pytest.approx(b[0], rel=1e-4)
    assert b[0] != pytest.approx(b[1], rel=1e-3)  # different seeds train differently
    # interrupt after step 4: drop the final checkpoint; the rerun resumes from step 4
    (ckpt,) = (two / "groups").glob("*/checkpoints")
    shutil.rmtree(ckpt / "8")
    assert longrange.main(common + ["--seeds", "2", "--workdir", str(two)]) == 0
    timing = json.loads((two / "timing.json").read_text())
    assert timing[0]["trained_steps"] == 4
    assert {r["seed"]: r["loss"] for r in _rows(two)} == b


def test_sharded_over_two_host_devices_matches_one_device(tmp_path):
    args = TINY + ["--models", "elman", "--ablations", "", "--seeds", "3", "--steps", "4",
                   "--sweep", "map"]
    assert longrange.main(args + ["--workdir", str(tmp_path / "cpu1")]) == 0
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "experiments.longrange", *args,
                          "--workdir", str(tmp_path / "cpu2")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    timing = json.loads((tmp_path / "cpu2" / "timing.json").read_text())
    assert timing[0]["devices"] == 2
    one = sorted((r["seed"], r["loss"]) for r in _rows(tmp_path / "cpu1"))
    two = sorted((r["seed"], r["loss"]) for r in _rows(tmp_path / "cpu2"))
    assert [s for s, _ in two] == [0, 1, 2]  # the padding member is dropped
    np.testing.assert_allclose([x for _, x in one], [x for _, x in two], rtol=1e-4)


def test_bad_config_exits_with_status_2(tmp_path, capsys):
    assert longrange.main(["--models", "transformer", "--workdir", str(tmp_path)]) == 2
    assert "models must be among" in capsys.readouterr().err


def test_truncated_apply_blocks_gradients_beyond_k_steps(key):
    import jax
    import jax.numpy as jnp

    import rnnjax
    from rnnjax.models.sequence import sequence_model

    T, k = 9, 3
    for pool in ("last", None):
        model = sequence_model(rnnjax.cells.lstm(5), input_size=2, output_size=1, pool=pool)
        params = model.init(key)
        xs = jax.random.normal(key, (2, T, 2))
        np.testing.assert_allclose(longrange.truncated_apply(model, params, xs, k),
                                   longrange.truncated_apply(model, params, xs, None),
                                   rtol=1e-5, atol=1e-6)
        last = lambda x, kk: jnp.sum(longrange.truncated_apply(model, params, x, kk)[:, -1])
        g_full, g_cut = jax.grad(last, 0)(xs, None), jax.grad(last, 0)(xs, k)
        # the last output depends on every input; truncated, only on the last k
        assert np.all(np.abs(np.asarray(g_full[:, :T - k])).sum(axis=(0, 2)) > 0)
        np.testing.assert_array_equal(np.asarray(g_cut[:, :T - k]), 0.0)
        np.testing.assert_allclose(g_cut[:, T - k:], g_full[:, T - k:], rtol=1e-5, atol=1e-7)
