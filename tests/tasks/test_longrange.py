"""End-to-end checks of experiments.longrange at tiny size.

- the files, one summary row per (task, model, T, seed, ablation), loss / baseline consistent;
- a run of one seed equals the same seed inside a two-seed run that was interrupted and resumed
  from its checkpoint (runs independent, vmap and lax.map agree, resumption is exact);
- the same sweep sharded over two forced host CPU devices (a subprocess) gives the same losses,
  and so does a sweep split over two local processes in one JAX runtime (only process 0 writes),
  also when the processes' runs stop at different updates;
- every run stops at success: its parameters are frozen there, and a program whose runs have all
  succeeded stops at its next checkpoint;
- the optimiser rows (per-run Adam rates, clipped SGD), the dynamics of every run, the tasks'
  constant and linear predictors (the plan's stages: ``test_longrange_plan.py``);
- the presets that made the committed folders, and the README table generated from them.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnjax.train as tr
from experiments import longrange
from experiments.longrange import config as lc
from experiments.longrange import summary, tasks
from experiments.longrange.sweep import truncated_apply

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--quick", "--sweep.adding.lengths", "8", "--train.hidden-size", "4",
        "--train.batch-size", "4", "--train.n-test", "16", "--train.eval-every", "4",
        "--train.checkpoint-every", "4", "--tune.models", "--ablations.lengths", "8"]


def _rows(workdir):
    saved = json.loads((Path(workdir) / "summary.json").read_text())
    assert saved["complete"]
    return saved["rows"]


def _keys(tree) -> set:
    if isinstance(tree, dict):
        return set(tree).union(*map(_keys, tree.values()))
    if isinstance(tree, list):
        return set().union(*map(_keys, tree))
    return set()


@pytest.mark.slow
def test_tiny_sweep_writes_tables_and_figures(tmp_path):
    rc = longrange.main(TINY + ["--sweep.adding.models", "elman", "lstm_fb1", "--sweep.adding.seeds", "2",
                                "--steps", "4", "--ablations.kinds", "no_clip", "tbptt",
                                "--ablations.models", "elman", "--train.tbptt-truncation", "2",
                                "--workdir", str(tmp_path)])
    assert rc == 0
    for f in ("config.json", "summary.json", "curves.json", "index.json", "curves_adding.png",
              "loss_vs_T.png", "success_vs_T.png", "success_vs_sequences.png", "ablations.png"):
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
        assert r["steps"] == 4 and r["budget"] == 4 and r["optimizer"] == "adam"
        assert (r["clip_norm"] is None) == (r["ablation"] == "no_clip")
    assert next(r for r in rows if r["model"] == "lstm_fb1")["n_params"] == (
        2 * 16 + 4 * 16 + 16 + 4 + 1)  # w_x (2, 4H), w_h (H, 4H), b (4H), readout (H, 1) + bias
    index = json.loads((tmp_path / "index.json").read_text())
    assert "LSTM" in index["headline"] and "timing.json" not in index["tables"]
    # wall clock never goes into a result file
    for f in ("summary.json", "curves.json", "index.json"):
        assert not {"time", "wall_s", "seconds"} & _keys(json.loads((tmp_path / f).read_text())), f
    # --plot-only redraws from the saved tables and never retrains
    (tmp_path / "loss_vs_T.png").unlink()
    assert longrange.main(["--plot-only", "--workdir", str(tmp_path)]) == 0
    assert (tmp_path / "loss_vs_T.png").exists()


@pytest.mark.slow
def test_vmapped_seed_equals_single_run_and_resume_is_exact(tmp_path, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    common = TINY + ["--sweep.adding.models", "lstm_fb1", "--ablations.kinds", "--steps", "8"]
    # one seed batched with vmap; two seeds run in turn with lax.map (the CPU default)
    assert longrange.main(common + ["--sweep.adding.seeds", "1", "--execution.sweep", "vmap",
                                    "--workdir", str(one)]) == 0
    assert longrange.main(common + ["--sweep.adding.seeds", "2", "--workdir", str(two)]) == 0
    a = {r["seed"]: r["loss"] for r in _rows(one)}
    b = {r["seed"]: r["loss"] for r in _rows(two)}
    assert a[0] == pytest.approx(b[0], rel=1e-4)
    assert b[0] != pytest.approx(b[1], rel=1e-3)  # different seeds train differently
    # interrupt after update 4: drop the final checkpoint and the finished program's result
    (ckpt,) = (two / "runs").glob("*/checkpoints")
    shutil.rmtree(ckpt / "8")
    for finished in (two / "parts").glob("*.json"):  # the program's result, not yet written
        finished.unlink()
    updates = []
    fit = tr.fit

    def counting_fit(step_fn, *args, **kw):
        def step(state, batch):
            updates.append(1)
            return step_fn(state, batch)
        return fit(step, *args, **kw)

    monkeypatch.setattr(tr, "fit", counting_fit)
    assert longrange.main(common + ["--sweep.adding.seeds", "2", "--workdir", str(two)]) == 0
    assert len(updates) == 4  # resumed at update 4, not retrained
    assert {r["seed"]: r["loss"] for r in _rows(two)} == b
    # rerun unchanged: the finished program is reused, nothing trains
    updates.clear()
    assert longrange.main(common + ["--sweep.adding.seeds", "2", "--workdir", str(two)]) == 0
    assert updates == []
    # a fresh clone holds the committed program file but none of this machine's run state:
    # reused when told to (finishing a long sweep elsewhere), retrained by the quick preset
    shutil.rmtree(two / "parts" / "checkpoints")
    shutil.rmtree(two / "runs")
    fresh = common + ["--sweep.adding.seeds", "2", "--workdir", str(two), "--overwrite"]
    assert longrange.main(fresh + ["--execution.reuse-committed"]) == 0
    assert updates == []
    assert longrange.main(fresh) == 0
    assert len(updates) == 8 and {r["seed"]: r["loss"] for r in _rows(two)} == b


@pytest.mark.slow
def test_sharded_over_two_host_devices_matches_one_device(tmp_path):
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--sweep.adding.seeds", "3",
                   "--steps", "4", "--execution.sweep", "map"]
    assert longrange.main(args + ["--workdir", str(tmp_path / "cpu1")]) == 0
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    code = ("import jax, sys; from experiments.longrange import main; "
            "assert jax.device_count() == 2; sys.exit(main(sys.argv[1:]))")
    out = subprocess.run([sys.executable, "-c", code, *args, "--workdir", str(tmp_path / "cpu2")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    one = sorted((r["seed"], r["loss"]) for r in _rows(tmp_path / "cpu1"))
    two = sorted((r["seed"], r["loss"]) for r in _rows(tmp_path / "cpu2"))
    assert [s for s, _ in two] == [0, 1, 2]  # the padding run is dropped
    np.testing.assert_allclose([x for _, x in one], [x for _, x in two], rtol=1e-4)


def _one_and_two_processes(args, tmp_path) -> tuple[dict, dict]:
    """The summaries of ``args`` run in this process (workdir ``one``) and on two local
    processes (``two``, a subprocess)."""
    assert longrange.main(args + ["--workdir", str(tmp_path / "one")]) == 0
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "experiments.longrange", *args, "--workdir",
                          str(tmp_path / "two"), "--local-processes", "2"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return tuple(json.loads((tmp_path / d / "summary.json").read_text()) for d in ("one", "two"))


def test_two_local_processes_give_the_single_process_summary(tmp_path):
    """Two processes in one JAX runtime (gloo collectives) split 3 runs 2 + 1: same numbers."""
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--sweep.adding.seeds", "3",
                   "--steps", "4", "--execution.sweep", "map"]
    one, two = _one_and_two_processes(args, tmp_path)
    assert two == one and len(one["rows"]) == 3
    def files(d):
        return {p.relative_to(tmp_path / d) for p in (tmp_path / d).rglob("*") if p.is_file()}

    assert files("two") <= files("one")  # process 0's files only, no checkpoints of a worker


@pytest.mark.slow
def test_processes_whose_runs_stop_at_different_updates_give_the_single_process_tables(
        tmp_path):
    """Runs that succeed stop: process 0's share (seeds 0, 1) and process 1's (seed 2) end at
    different updates, and the gathered program is still the single-process one."""
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--sweep.adding.seeds",
                   "3", "--steps", "400", "--train.learning-rate", "0.03",
                   "--train.success-ratio", "0.95", "--train.lr-schedule", "constant"]
    one, two = _one_and_two_processes(args, tmp_path)
    ends = [r["steps"] for r in one["rows"]]
    assert max(ends[:2]) != ends[2], ends
    assert two == one
    curves = [json.loads((tmp_path / d / "curves.json").read_text()) for d in ("one", "two")]
    assert curves[0] == curves[1]


def test_a_worker_process_writes_nothing(tmp_path):
    """Process 1 of a cluster run takes no lock and writes no config.json (nor figures)."""
    worker = ["--coordinator", "localhost:1", "--num-processes", "2",
              "--process-id", "1"]
    assert longrange.main([*worker, "--plot-only", "--workdir", str(tmp_path / "w")]) == 0
    assert not (tmp_path / "w").exists()
    assert longrange.STUDY.computes_only(longrange.STUDY.presets["quick"]) is False


@pytest.mark.parametrize("flags, message", [
    (["--sweep.adding.models", "transformer"], "models must be a subset"),
    (["--ablations.kinds", "dropout"], "ablations.kinds must be among"),
    (["--sweep.adding.lengths", "4"], "lengths must be values >= 6"),
    (["--tune.elman-inits", "xavier"], "tune.elman_inits must be a non-empty subset"),
    (["--train.learning-rate", "nan"], "learning_rate must be a finite number"),
    (["--execution.sweep", "pmap"], "execution.sweep must be one of"),
    (["--coordinator", "node0"], "--coordinator must be HOST:PORT"),
    (["--process-id", "1"], "--num-processes and --process-id need"),
    (["--coordinator", "h:1", "--num-processes", "2",
      "--process-id", "2"], "process_id must be < num_processes"),
    (["--coordinator", "h:1", "--local-processes", "2"], "coordinator and local_processes exclude"),
    (["--train.checkpoint-every", "30"], "must be a multiple of train.eval_every"),
    (["--execution.no-compute", "--local-processes", "2"], "runs in one process"),
    (["--tune.learning-rates", "10"], "must lie in [tune.rate_floor, tune.rate_ceiling]"),
    (["--sweep.adding.longest", "lstm:x"], "longest entries must be MODEL:T"),
    (["--sweep.adding.longest", "lstm_fb9:100"], "longest entries must be MODEL:T"),
    (["--sweep.adding.open-seeds", "-1"], "open_seeds"),
])
def test_bad_config_exits_with_status_2(tmp_path, capsys, flags, message):
    assert longrange.main([*flags, "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # refused before anything is written


def test_finished_programs_under_the_former_folder_name_are_refused(tmp_path, capsys):
    """A workdir whose results are still under ``programs/`` (now ``parts/``, as in every study)
    is refused in one line rather than retrained; nothing is written."""
    old = tmp_path / "programs"
    old.mkdir()
    (old / "adding_T8_lstm.json").write_text("{}")
    assert longrange.main(TINY + ["--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "rename it" in err and str(tmp_path / "parts") in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".lock") == ["programs"]


def test_committed_results_keep_their_parts_in_parts():
    for folder in ("longrange", "longrange/controls"):
        assert not (ROOT / "results" / folder / "programs").exists()
        assert any((ROOT / "results" / folder / "parts").glob("*.json"))


@pytest.mark.slow
def test_runs_stop_at_success_and_the_program_stops_when_all_have(tmp_path):
    """With a success threshold every run meets at its first evaluation, each run stops at
    update 4 and the program ends at its first checkpoint, far before its budget."""
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--sweep.adding.seeds",
                   "2", "--steps", "40", "--train.success-ratio", "1e6", "--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    rows = _rows(tmp_path)
    assert [(r["success"], r["steps_to_success"], r["steps"], r["budget"]) for r in rows] == [
        (True, 4, 4, 40)] * 2
    (curve,) = {tuple(c["steps"]) for c in json.loads((tmp_path / "curves.json").read_text())}
    assert curve == (4,)


def test_stop_at_success_freezes_each_run_from_its_evaluation_on(key):
    """The sweep's step with stopping equals the plain step for the runs that have not succeeded;
    a run that succeeded at update 2 keeps its parameters and has its rate set to 0."""
    import jax
    import jax.numpy as jnp

    from experiments.longrange.plan import Member
    from experiments.longrange.stopping import stop_at_success
    from experiments.longrange.sweep import optimizer, set_hyperparams

    opt = optimizer(lc.PRESETS["quick"], "adam", 10)
    members = [Member("elman", s, 1e-2, "default", True, None) for s in range(3)]
    target = jnp.array([1.0, -2.0])

    def loss(params, batch, key):
        return jnp.sum((params["w"] - target) ** 2)

    single = tr.make_step(loss, opt, jit=False)
    update = jax.vmap(single, in_axes=(0, None))
    params = {"w": jax.random.normal(key, (3, 2))}
    states = jax.vmap(lambda p: tr.init_state(p, opt, key=jax.random.key(0)))(params)
    states = states._replace(opt_state=set_hyperparams(states.opt_state, members, 1.0))
    wins = jnp.array([False, True, False])
    step = jax.jit(stop_at_success(update, lambda p: wins, every=2))
    plain = jax.jit(update)
    a, b = states, jax.tree.map(jnp.copy, states)
    for n in range(5):
        a, _ = step(a, None)
        b, _ = plain(b, None)
        if n == 1:
            frozen = np.asarray(a.params["w"][1])
    np.testing.assert_allclose(np.asarray(a.params["w"])[[0, 2]], np.asarray(b.params["w"])[[0, 2]],
                               rtol=1e-6)
    np.testing.assert_array_equal(a.params["w"][1], frozen)  # stopped after update 2
    assert not np.allclose(frozen, b.params["w"][1])  # where the plain step went on
    rate = np.asarray(optax_get(a.opt_state, "step_size"))
    assert rate[1] == 0 and rate[0] == rate[2] == -1e-2


def optax_get(state, name):
    import optax

    return optax.tree_utils.tree_get(state, name)


def test_median_interval_and_model_names():
    med, lo, hi, level = summary.median_ci([3.0, None, 1.0, float("inf"), 2.0])
    assert (med, lo, hi, level) == (2.0, 1.0, 3.0, 0.75)  # None and inf left out; 3 seeds: 75 %
    assert summary.median_ci([5, 1, 4, 2, 3])[1:] == (1, 5, 0.9375)
    assert all(np.isnan(summary.median_ci([None])))
    assert summary.success_ci([{"success": True}, {"success": False}])[0] == 0.5
    assert tuple(tasks.MODELS) == lc.MODELS


@pytest.mark.slow
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
        np.testing.assert_allclose(truncated_apply(model, params, xs, k),
                                   truncated_apply(model, params, xs, None),
                                   rtol=1e-5, atol=1e-6)
        last = lambda x, kk: jnp.sum(truncated_apply(model, params, x, kk)[:, -1])
        g_full, g_cut = jax.grad(last, 0)(xs, None), jax.grad(last, 0)(xs, k)
        # the last output depends on every input; truncated, only on the last k
        assert np.all(np.abs(np.asarray(g_full[:, :T - k])).sum(axis=(0, 2)) > 0)
        np.testing.assert_array_equal(np.asarray(g_cut[:, :T - k]), 0.0)
        np.testing.assert_allclose(g_cut[:, T - k:], g_full[:, T - k:], rtol=1e-5, atol=1e-7)


def test_per_run_learning_rate_equals_adam_with_that_rate(key):
    """The sweep's optimiser, with each run's rate and clipping set in its state, takes the same
    updates as optax.chain(clip_by_global_norm, adam(cosine schedule of that rate))."""
    import jax
    import jax.numpy as jnp
    import optax

    from experiments.longrange.plan import Member
    from experiments.longrange.sweep import optimizer, set_hyperparams

    config = lc.PRESETS["quick"]
    total, clip = config.train.budget(100), config.train.clip_norm
    members = [Member("elman", 0, lr, "default", c, None)
               for lr, c in ((1e-3, True), (3e-2, True), (1e-2, False))]
    params = {"w": jax.random.normal(key, (len(members), 3, 2))}
    opt = optimizer(config, "adam", total)
    state = jax.vmap(opt.init)(params)
    state = set_hyperparams(state, members, clip)
    refs = [optax.chain(optax.clip_by_global_norm(clip if m.clip else jnp.inf),
                        optax.adam(optax.cosine_decay_schedule(m.lr, total, alpha=0.1)))
            for m in members]
    ref_params = [jax.tree.map(lambda x, i=i: x[i], params) for i in range(len(members))]
    ref_states = [r.init(p) for r, p in zip(refs, ref_params, strict=True)]
    for t in range(5):
        grads = {"w": 3.0 * jax.random.normal(jax.random.fold_in(key, t), params["w"].shape)}
        updates, state = jax.vmap(opt.update)(grads, state, params)
        params = optax.apply_updates(params, updates)
        for i, r in enumerate(refs):
            u, ref_states[i] = r.update({"w": grads["w"][i]}, ref_states[i], ref_params[i])
            ref_params[i] = optax.apply_updates(ref_params[i], u)
    for i in range(len(members)):
        np.testing.assert_allclose(params["w"][i], ref_params[i]["w"], rtol=1e-5, atol=1e-7)


def test_the_sgd_row_is_clipped_sgd_with_its_rate(key):
    """irnn_sgd trains with global-norm clipping then plain SGD (Le et al. 2015), same schedule."""
    import jax
    import optax

    from experiments.longrange.plan import Member, optimizer_of
    from experiments.longrange.sweep import optimizer, set_hyperparams

    assert optimizer_of("irnn_sgd") == "sgd" and optimizer_of("irnn") == "adam"
    config = lc.PRESETS["quick"]
    opt = optimizer(config, "sgd", 50)
    member = Member("irnn_sgd", 0, 0.3, "default", True, None)
    params = {"w": jax.random.normal(key, (1, 4))}
    state = set_hyperparams(jax.vmap(opt.init)(params), [member], 1.0)
    ref = optax.chain(optax.clip_by_global_norm(1.0),
                      optax.sgd(optax.cosine_decay_schedule(0.3, 50, alpha=0.1)))
    ref_params = {"w": params["w"][0]}
    ref_state = ref.init(ref_params)
    for t in range(3):
        g = {"w": 5.0 * jax.random.normal(jax.random.fold_in(key, t), (1, 4))}
        u, state = jax.vmap(opt.update)(g, state, params)
        params = optax.apply_updates(params, u)
        ru, ref_state = ref.update({"w": g["w"][0]}, ref_state, ref_params)
        ref_params = optax.apply_updates(ref_params, ru)
    np.testing.assert_allclose(params["w"][0], ref_params["w"], rtol=1e-5)


def test_run_dynamics_equals_a_numpy_jacobian_product(key):
    """log ||dh_T/dh_0|| of an Elman model equals log sigma_max of the float64 NumPy product of
    the per-step Jacobians diag(1 - h_t^2) W_h^T."""
    import jax

    import rnnjax
    from experiments.longrange.dynamics import run_dynamics
    from rnnjax.models.sequence import sequence_model

    H, T = 6, 12
    model = sequence_model(rnnjax.cells.elman(H), input_size=2, output_size=1, pool="last")
    params = model.init(key)
    xs = np.asarray(jax.random.uniform(jax.random.fold_in(key, 1), (T, 2)), np.float64)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params.cell)
    w_x, w_h, b = (getattr(p, n) for n in ("w_x", "w_h", "b"))
    h, P = np.zeros(H), np.eye(H)
    for x in xs:
        h = np.tanh(x @ w_x + h @ w_h + b)
        P = (np.diag(1 - h ** 2) @ w_h.T) @ P
    got = run_dynamics(model, params, xs.astype(np.float32))
    np.testing.assert_allclose(got["log_jacobian"], np.log(np.linalg.svd(P)[1][0]), rtol=1e-4)
    assert "lambda_max" not in got


def test_benchmarks_page_states_the_step_benchmark_from_its_result():
    from benchmarks.bench_longrange_step import RESULT, readme_line

    assert readme_line(json.loads(RESULT.read_text())) in (ROOT / "docs" / "benchmarks.md").read_text()


def test_report_tables_count_successes_and_flag_a_partial_sweep(tmp_path):
    from experiments.longrange import report, tables

    rows = [{"task": "adding", "ablation": None, "T": 5, "model": "gru", "seed": s,
             "steps_to_success": t, "loss_over_baseline": x, "success": t is not None}
            for s, (t, x) in enumerate([(None, 0.9), (40, 0.05), (20, 0.02)])]
    labels = {"gru": "GRU"}
    for r in rows:
        r["budget"] = 100
    assert "| 5 | 30 (2/3 in 100) |" in tables.learning_time_table(rows, "adding", labels)
    assert "| 5 | 0.05 [0.02, 0.9] |" in tables.loss_table(rows, "adding", labels)
    for r in rows:
        r["steps_to_success"] = None
    assert "never (0/3 in 100)" in tables.learning_time_table(rows, "adding", labels)
    (tmp_path / "summary.json").write_text(json.dumps({"complete": False, "rows": rows}))
    assert report.readme_table(tmp_path).startswith("**Partial sweep**")


@pytest.mark.parametrize("task, T", [("adding", 12), ("copy", 6)])
def test_summary_rows_carry_the_constant_predictions_loss_on_the_runs_test_set(task, T):
    """``constant_loss_over_baseline`` equals a NumPy computation on the test set regenerated from
    the sweep's keys: ``mean((y - 1)^2) / (1/6)`` for the adding problem, and for the copy task
    cross-entropy 0 on the blanks and log 8 at the recall steps (so exactly 1)."""

    import jax

    from experiments.longrange.plan import Group, Member
    from rnnjax.tasks import adding
    from rnnjax.tasks import copy as copy_task

    quick = lc.PRESETS["quick"]
    seed, n = 3, 32
    config = dataclasses.replace(quick, seed=seed,
                                 train=dataclasses.replace(quick.train, n_test=n))
    group = Group(task, T, "elman", None, (Member("elman", 0, 1e-3, "default", True, None),),
                  "main", 10)
    base = tasks.make_task(task, T).baseline
    result = {"steps": [10], "baseline": base, "test_loss": [[0.5 * base]], "test_solved": [[0.0]],
              "n_params": {"elman": 1}, "init_log_jacobian": [None], "final_log_jacobian": [None],
              "init_lambda_max": [None]}
    (row,), _ = summary.rows_and_curves(config, group, result, {})
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed + 10_007), T),
                             lc.TASKS.index(task))
    if task == "copy":
        data = copy_task.batch(key=key, batch_size=n, delay=T)
        y = np.asarray(data.targets)
        recall = np.arange(y.shape[1]) >= y.shape[1] - 10
        assert np.all(y[:, ~recall] == 0) and np.all((y[:, recall] >= 1) & (y[:, recall] <= 8))
        expected = np.mean(np.where(recall, np.log(8.0), 0.0) * np.ones_like(y)) / base
    else:
        y = np.asarray(adding.batch(key=key, batch_size=n, length=T).targets, float)
        expected = np.mean((y - 1.0) ** 2) / (1 / 6)
        assert abs(expected - 1) > 1e-3  # a small test set: the ratio is not 1
    assert row["constant_loss_over_baseline"] == pytest.approx(expected, rel=1e-5)
    assert row["loss_over_baseline"] == pytest.approx(0.5)


def test_last_quarter_fall_is_the_loss_drop_over_the_last_quarter_of_the_updates():
    """``1 − final / min(loss at evaluations ≤ ¾ of the updates)``, by hand: a run still falling,
    one at a plateau (noise above its best: negative), one that succeeded (none) and one whose
    final loss is not finite (none)."""

    from experiments.longrange.plan import Group, Member

    quick = lc.PRESETS["quick"]
    config = dataclasses.replace(quick, train=dataclasses.replace(quick.train, n_test=8))
    members = tuple(Member("elman", s, 1e-3, "default", True, None) for s in range(4))
    group = Group("adding", 50, "elman", None, members, "main", 400)
    base = tasks.make_task("adding", 50).baseline
    runs = [[0.9, 0.9, 0.9, 0.5], [0.8, 0.5, 0.5, 0.55], [0.6, 0.5, 0.05, 0.05],
            [0.5, 0.55, 0.6, float("nan")]]  # each run at updates 100 … 400: ¾ of 400 is 300
    losses = [list(at) for at in zip(*runs, strict=True)]  # per evaluation, as a program returns
    result = {"steps": [100, 200, 300, 400], "baseline": base,
              "test_loss": [[x * base for x in at] for at in losses],
              "n_params": {"elman": 1}, "init_log_jacobian": [None] * 4,
              "final_log_jacobian": [None] * 4, "init_lambda_max": [None] * 4}
    rows, _ = summary.rows_and_curves(config, group, result, {})
    falls = [r["last_quarter_fall"] for r in rows]
    assert falls[0] == pytest.approx(1 - 0.5 / 0.9) and falls[1] == pytest.approx(1 - 0.55 / 0.5)
    assert rows[2]["success"] and falls[2] is None and falls[3] is None


def test_the_best_linear_predictor_of_the_adding_problem_reaches_1_minus_2_over_t(key):
    """Least squares of y on every input (values, markers, a constant) over many sequences:
    its mean squared error / (1/6) is the closed form 1 - 2/T."""
    from rnnjax.tasks import adding

    T, n = 10, 100_000
    d = adding.batch(key=key, batch_size=n, length=T)
    X = np.concatenate([np.asarray(d.inputs, np.float64).reshape(n, 2 * T), np.ones((n, 1))], 1)
    y = np.asarray(d.targets, np.float64)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    assert np.mean((X @ coef - y) ** 2) * 6 == pytest.approx(tasks.linear_floor(T), abs=0.01)
    assert tasks.linear_floor(T) == pytest.approx(0.8)


@pytest.mark.parametrize("name", ["adding", "adding_late"])
def test_the_linear_predictor_is_the_least_squares_fit_on_many_sequences(key, name):
    """Least squares of y on every input (values, markers, a constant) over many sequences has
    value weights P(t in {a, b}), marker weights and intercept 0, and the error of
    tasks.linear_prediction: the floor of any model linear in its inputs (the one-layer LRU)."""
    T, k, n = 12, 3, 200_000
    task = tasks.make_task(name, T, k)
    x, y = (np.asarray(a, np.float64) for a in task.sample(key, n))
    X = np.concatenate([x.reshape(n, 2 * T), np.ones((n, 1))], 1)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    p = np.asarray(tasks.marker_probability(name, T, k))
    np.testing.assert_allclose(coef[0:2 * T:2], p, atol=0.01)
    np.testing.assert_allclose(coef[1:2 * T:2], 0.0, atol=0.01)
    ours = np.mean((np.asarray(tasks.linear_prediction(name, T, x, k)) - y) ** 2)
    assert ours == pytest.approx(np.mean((X @ coef - y) ** 2), rel=0.01)
    assert p.sum() == pytest.approx(2.0)


def test_adding_late_puts_no_marker_in_the_last_k_steps(key):
    """adding_late: one marker in [0, T/2), one in [T/2, T - k), the target their values' sum;
    every allowed second position occurs."""
    T, k, n = 20, 6, 4000
    x, y = (np.asarray(a) for a in tasks.late_adding(key, n, T, k))
    first, second = (np.argmax(x[:, :T // 2, 1], 1),
                     T // 2 + np.argmax(x[:, T // 2:, 1], 1))
    assert np.all(x[:, :, 1].sum(1) == 2) and np.all(x[:, T - k:, 1] == 0)
    assert set(second) == set(range(T // 2, T - k)) and first.max() < T // 2
    np.testing.assert_allclose(y, x[np.arange(n), first, 0] + x[np.arange(n), second, 0],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="adding_late needs"):
        tasks.late_adding(key, 1, T, T)


def _independent_qrs(jaxpr) -> int:
    """QR decompositions a program may run side by side: those outside loop bodies (a loop's
    body runs its steps in turn), counted through nested calls."""
    count = 0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "qr":
            count += 1
        elif eqn.primitive.name not in ("scan", "while"):
            for sub in jax_core_jaxprs(eqn.params):
                count += _independent_qrs(sub)
    return count


def jax_core_jaxprs(params):
    import jax

    for v in params.values():
        for x in v if isinstance(v, (tuple, list)) else (v,):
            if isinstance(x, jax.extend.core.ClosedJaxpr):
                yield x.jaxpr
            elif isinstance(x, jax.extend.core.Jaxpr):
                yield x


def test_no_program_of_a_sweep_runs_two_decompositions_side_by_side(monkeypatch):
    """Several independent batched QRs in one XLA:CPU program can deadlock its thread pool
    (docs/known-issues.md); a program of three LSTM variants (three orthogonal inits) compiles
    none with more than one."""

    import jax

    from experiments.longrange.plan import Group, Member
    from experiments.longrange.sweep import train_group

    seen = []
    jit = jax.jit

    def recording_jit(fun, *args, **kw):
        compiled = jit(fun, *args, **kw)

        def call(*a, **k):
            seen.append(_independent_qrs(jax.make_jaxpr(fun)(*a, **k).jaxpr))
            return compiled(*a, **k)
        return call

    monkeypatch.setattr(jax, "jit", recording_jit)
    c = lc.PRESETS["full"]
    c = dataclasses.replace(c, train=dataclasses.replace(
        c.train, hidden_size=4, batch_size=2, eval_every=1, checkpoint_every=1, n_test=4))
    members = tuple(Member(m, 1000 + s, 1e-3, "default", True, "tune")
                    for m in ("lstm_fb0", "lstm_fb1", "lstm_chrono") for s in range(2))
    train_group(c, Group("adding", 8, "lstm", None, members, "tune0", 1), None)
    assert seen and max(seen) == 1
