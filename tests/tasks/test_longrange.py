"""End-to-end checks of experiments.longrange at tiny size.

- the files, one summary row per (task, model, T, seed, ablation), loss / baseline consistent;
- a run of one seed equals the same seed inside a two-seed run that was interrupted and resumed
  from its checkpoint (runs independent, vmap and lax.map agree, resumption is exact);
- the same sweep sharded over two forced host CPU devices (a subprocess) gives the same losses,
  and so does a sweep split over two local processes in one JAX runtime (only process 0 writes),
  also when the processes' runs stop at different updates;
- every run stops at success: its parameters are frozen there, and a program whose runs have all
  succeeded stops at its next checkpoint;
- the rate search: the choice by successes, the grid extended beyond an edge;
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
    from experiments.longrange.sweep import optimizer, set_hyperparams, stop_at_success

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


def test_the_rate_search_chooses_by_success_and_extends_beyond_an_edge():
    from experiments.longrange import plan

    config = lc.PRESETS["quick"]
    (g,) = [g for g in plan.tune_groups(config, 50, {}, 0) if g.family == "elman"]
    # elman at T = 50: 2 rates x 2 tuning seeds, apart from the reported seeds
    assert len(g.members) == 4 and g.name == "adding_T50_elman_tune0"
    assert {m.seed for m in g.members} == {plan.TUNE_SEED, plan.TUNE_SEED + 1}
    assert g.budget == 150  # half of the budget at T = 50 (300), whole evaluations

    def rows(lr, wins, losses, model="elman"):
        return [{"task": "adding", "T": 50, "model": model, "ablation": "tune", "lr": lr,
                 "recurrent_init": "default", "success": w is not None, "steps_to_success": w,
                 "loss_over_baseline": x, "budget": 150} for w, x in zip(wins, losses, strict=True)]

    # 1e-2 succeeds more often; at 1e-3 none does although its final loss is lower
    tune = rows(1e-3, [None, None], [0.2, 0.2]) + rows(1e-2, [100, None], [0.05, None])
    best = plan.choose(tune)
    assert best == {("adding", 50, "elman"): (1e-2, "default")}
    # at the top edge: one grid step (x 10 here) beyond, within the ceiling
    assert plan.extensions(config, tune, best) == {("adding", 50, "elman"): [(0.1, "default")]}
    tune += rows(0.1, [50, 100], [0.01, 0.02])  # as many successes, faster: chosen, at 0.1
    best = plan.choose(tune)
    assert best[("adding", 50, "elman")] == (0.1, "default")
    assert plan.extensions(config, tune, best) == {}  # 1.0 would pass the ceiling 0.1
    (grid,) = plan.grids(config, tune, best)
    assert grid["at_edge"] and [x["successes"] for x in grid["grid"]] == [0, 1, 2]
    assert lc.log_grid(1e-5, 1e-1) == (1e-05, 3.16e-05, 1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2,
                                         3.16e-2, 0.1)
    assert lc.PRESETS["full"].tune.learning_rates == lc.log_grid(1e-5, 1e-1)
    # the reported runs use the chosen rate, with 10 seeds in the headline cells
    full = lc.PRESETS["full"]
    main = plan.main_groups(full, 400, {("adding", 400, "gru"): (3e-3, "default")})
    gru = [m for grp in main for m in grp.members if m.model == "gru" and m.ablation is None]
    assert {m.lr for m in gru} == {3e-3} and len(gru) == 10
    assert {grp.budget for grp in main} == {20_000} and full.train.budget(800) == 20_000


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
    import dataclasses

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
    import dataclasses

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


def _tune_members(model="elman", rates=(1e-3, 1e-2, 1e-1), seeds=3):
    from experiments.longrange.plan import TUNE_SEED, Member

    return [Member(model, TUNE_SEED + s, lr, "default", True, "tune") for lr in rates
            for s in range(seeds)]


def test_a_setting_that_can_no_longer_be_chosen_is_stopped():
    from experiments.longrange.plan import Member, cannot_be_chosen

    members = _tune_members() + [Member("elman", 0, 1e-2, "default", True, None)]
    # 1e-3 has won every seed, median 200; 1e-2 can at best reach median 300; 1e-1 can reach 150
    first = [100, 200, 400] + [100, None, None] + [100, 150, None] + [None]
    assert cannot_be_chosen(members, first, 300) == [False] * 3 + [False, True, True] + \
        [False] * 3 + [False]  # never a succeeded run, never a reported run
    # a tie at the winner's median is left to the final losses: not stopped
    assert not any(cannot_be_chosen(members, first[:3] + [100, 200, None] + [200, 200, None]
                                    + [None], 300))
    # no setting has won every seed yet: nothing can be ruled out
    assert not any(cannot_be_chosen(members, [100, 200, None] + [None] * 7, 500))
    # another model's winner says nothing about this one
    other = _tune_members("gru", rates=(1e-3,)) + _tune_members(rates=(1e-2,))
    assert not any(cannot_be_chosen(other, [100, 100, 100, None, None, None], 500))


def test_stopping_settings_never_changes_the_choice():
    """Against every way the stopped runs could have gone on (succeeding at any later
    evaluation or never, with any final loss), the full search chooses the same setting as the
    search whose stopped runs are recorded as failures, and never a stopped setting."""
    import itertools
    import random

    from experiments.longrange import plan

    members = _tune_members()
    rng = random.Random(0)
    checked = 0
    for _ in range(300):
        now = rng.choice([200, 300, 400])
        first = [rng.choice([None, None, 100, 200, 300]) if rng.random() < 0.8 else None
                 for _ in members]
        first = [f if f is None or f < now else None for f in first]
        stop = plan.cannot_be_chosen(members, first, now)
        open_ = [i for i, f in enumerate(first) if f is None]
        if not any(stop) or len(open_) > 6:
            continue
        checked += 1

        def rows(outcome):
            return [{"task": "adding", "T": 50, "model": m.model, "ablation": "tune", "lr": m.lr,
                     "recurrent_init": m.init, "success": w is not None, "steps_to_success": w,
                     "loss_over_baseline": x} for m, (w, x) in zip(members, outcome, strict=True)]

        for later in itertools.product([None, now, now + 100, now + 400], repeat=len(open_)):
            outcome = [(f, 0.05 if f else rng.choice([0.3, 0.9])) for f in first]
            for i, w in zip(open_, later, strict=True):
                outcome[i] = (w, 0.05 if w else rng.choice([0.3, 0.9]))
            stopped = [(None, 1.0) if s else o for o, s in zip(outcome, stop, strict=True)]
            want = plan.choose(rows(outcome))
            assert plan.choose(rows(stopped)) == want
            (lr, _), = want.values()
            assert not any(s for s, m in zip(stop, members, strict=True) if m.lr == lr)
    assert checked >= 20


@pytest.mark.slow
def test_the_rate_search_stops_settings_that_cannot_be_chosen_and_resumes_exactly(tmp_path):
    """A rate that succeeds in every tuning seed rules out, from the end of that piece on, a
    rate too small to learn: its runs stop there (``pruned``), the program ends
    long before its budget, and an interrupted program resumed from its checkpoint stops them at
    the same update."""
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--sweep.adding.seeds",
                   "1", "--tune.models", "elman", "--tune.learning-rates", "1e-8", "0.03",
                   "--tune.rate-floor", "1e-9", "--tune.elman-inits", "default", "--steps", "400",
                   "--tune.budget-fraction", "0.5", "--train.success-ratio", "0.95",
                   "--train.lr-schedule", "constant", "--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    rows = [r for r in _rows(tmp_path) if r["ablation"] == "tune"]
    fast = [r for r in rows if r["lr"] == 0.03]
    slow = [r for r in rows if r["lr"] == 1e-8]
    assert all(r["success"] for r in fast), [r["loss_over_baseline"] for r in fast]
    assert all(r["pruned"] and not r["success"] for r in slow)
    # stopped at the piece (4 updates) whose end saw the fast rate's last tuning success
    won_by = max(r["steps_to_success"] for r in fast)
    assert {r["steps"] for r in slow} == {won_by} and won_by < 200
    assert {r["budget"] for r in rows} == {200}
    ends = {c["steps"][-1] for c in json.loads((tmp_path / "curves.json").read_text())
            if c["ablation"] == "tune"}
    assert ends == {won_by}  # then every run had stopped: the program ended there
    (grid,) = json.loads((tmp_path / "summary.json").read_text())["grids"]
    assert grid["lr"] == 0.03 and {x["lr"]: x["pruned"] for x in grid["grid"]} == {1e-8: 2, 0.03: 0}
    saved = {(r["lr"], r["seed"]): (r["loss"], r["steps"]) for r in rows}
    # interrupt the rate search after its first piece: resumed, it stops the same runs
    (part,) = (tmp_path / "parts").glob("*tune0.json")
    part.unlink()
    ckpts = next((tmp_path / "runs").glob("*tune0")) / "checkpoints"
    kept = sorted(int(c.name) for c in ckpts.iterdir() if c.name.isdigit())
    assert kept[0] < won_by  # resumed from before the program ended
    for step in kept[1:]:
        shutil.rmtree(ckpts / str(step))
    assert longrange.main(args) == 0
    again = {(r["lr"], r["seed"]): (r["loss"], r["steps"]) for r in _rows(tmp_path)
             if r["ablation"] == "tune"}
    assert again == saved


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
    import dataclasses

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


def test_an_interrupted_sweep_lists_every_cell_it_has_not_finished(tmp_path, monkeypatch):
    """The tables written after each program name every planned cell without a result, so a
    sweep stopped part-way (a session's end) commits an honest partial summary."""
    import importlib

    lr_run = importlib.import_module("experiments.longrange.run")
    real, calls = lr_run.train_group, []

    def stop_after_one(*args, **kw):
        if calls:
            raise RuntimeError("stopped")
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(lr_run, "train_group", stop_after_one)
    args = TINY + ["--sweep.adding.models", "elman", "gru", "--ablations.kinds", "--steps", "4",
                   "--sweep.adding.seeds", "1", "--workdir", str(tmp_path)]
    with pytest.raises(RuntimeError, match="stopped"):
        longrange.main(args)
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert not saved["complete"] and {r["model"] for r in saved["rows"]} == {"elman"}
    assert saved["not_yet_run"] == [{"task": "adding", "T": 8, "model": "gru", "ablation": None}]


def test_a_tabulated_partial_sweep_is_continued_by_the_computing_command(tmp_path):
    """A fresh clone holds a partial sweep tabulated with --execution.no-compute and no run
    state: the computing command (another execution setting, the same numbers) continues it
    without --overwrite and reuses its finished programs; another protocol is still refused."""
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--steps", "4",
                   "--sweep.adding.seeds", "1", "--execution.reuse-committed", "--workdir",
                   str(tmp_path)]
    assert longrange.main(args) == 0
    assert longrange.main(args + ["--execution.no-compute"]) == 0
    shutil.rmtree(tmp_path / "runs")  # a fresh clone: parts, no run state
    shutil.rmtree(tmp_path / "parts" / "checkpoints", ignore_errors=True)
    assert not list(tmp_path.rglob("checkpoints"))
    assert longrange.main(args) == 0
    assert not (tmp_path / "runs").exists()  # every program reused, none retrained
    other = [a if a != "4" else "8" for a in args]  # --steps 8: another protocol
    assert longrange.main(other) == 2


def test_a_tabulation_with_one_rate_search_missing_keeps_every_cell_whose_search_is_done(
        tmp_path):
    """--execution.no-compute with one family's rate search not yet finished (its part absent)
    still tabulates the cells of the other families at that T, their rates and reported runs;
    only the cells without a rate are listed as not yet run."""
    args = TINY + ["--sweep.adding.models", "elman", "gru", "--tune.models", "elman", "gru",
                   "--tune.learning-rates", "0.001", "0.01", "--tune.elman-inits", "default",
                   "--tune.rate-floor", "0.001", "--tune.rate-ceiling", "0.01",
                   "--ablations.kinds", "--steps", "4", "--sweep.adding.seeds", "1",
                   "--tune.seeds", "1", "--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    full = json.loads((tmp_path / "summary.json").read_text())
    (tmp_path / "parts" / "adding_T8_gru_tune0.json").unlink()
    assert longrange.main(args + ["--execution.no-compute"]) == 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert not saved["complete"]
    assert {tuple(c.values()) for c in saved["not_yet_run"]} == {
        tuple({"task": "adding", "T": 8, "model": "gru", "ablation": a}.values())
        for a in (None, "tune")}
    elman = [r for r in full["rows"] if r["model"] == "elman"]
    assert [r for r in saved["rows"] if r["model"] == "elman"] == elman
    assert not [r for r in saved["rows"] if r["model"] == "gru"]
    assert [g["model"] for g in saved["grids"]] == ["elman"]


def test_a_cell_whose_verdict_hinges_gets_more_seeds_at_its_rate():
    """After the reported runs at T, a (task, model) cell whose success fraction is open (its
    Wilson 95 % interval holds ½: 1-4 of 5) gets seeds up to open_seeds at its own rate and
    budget; a resolved cell (5/5, 0/5), a headline cell, an ablation and open_seeds=0 get none."""
    from experiments.common.stats import wilson_interval
    from experiments.longrange import plan

    full = lc.PRESETS["full"]

    def runs(model, won, n=5, ablation=None, T=100, budget=None):
        return [{"task": "adding", "T": T, "model": model, "ablation": ablation, "seed": s,
                 "success": s < won, "budget": budget or plan.budget(full, 100)}
                for s in range(n)]

    rows = (runs("elman", 2) + runs("gru", 5) + runs("irnn", 0) + runs("lstm_fb1", 4)
            + runs("lstm_fb1", 2, ablation="no_clip") + runs("lstm_chrono", 9, n=10))
    best = {("adding", 100, "elman"): (1e-3, "gaussian"), ("adding", 100, "lstm_fb1"): (0.1,
                                                                                     "default")}
    groups = plan.open_groups(full, 100, best, rows)
    assert {g.name for g in groups} == {"adding_T100_elman_more", "adding_T100_lstm_more"}
    members = {(m.model, m.seed, m.lr, m.init, m.ablation) for g in groups for m in g.members}
    assert members == {(m, s, lr, i, None) for (_, _, m), (lr, i) in best.items()
                       for s in range(5, 10)}
    assert {g.budget for g in groups} == {plan.budget(full, 100)}
    for k in range(6):  # open is exactly "the Wilson interval holds 1/2"
        _, lo, hi = wilson_interval(k, 5)
        assert bool(plan.open_groups(full, 100, best, runs("elman", k))) == (lo <= 0.5 <= hi)
    none = dataclasses.replace(full, sweep=dataclasses.replace(
        full.sweep, adding=dataclasses.replace(full.sweep.adding, open_seeds=0)))
    assert plan.open_groups(none, 100, best, rows) == []
    # a resolved cell on which a paired comparison hinges gets seeds as well
    hinged = plan.open_groups(full, 100, best, rows, {("adding", 100, "gru")})
    assert {(m.model, m.seed) for g in hinged for m in g.members if m.model == "gru"} == {
        ("gru", s) for s in range(5, 10)}
    # a cell rerun with twice the budget (stage longer1) gets its seeds at that budget
    B = plan.budget(full, 100)
    longer = runs("elman", 2, budget=2 * B)
    assert plan.open_groups(full, 100, best, longer) == []           # not round 0's budget
    (group,) = plan.open_groups(full, 100, best, longer, round_=1)
    assert (group.name, group.budget) == ("adding_T100_elman_longer1_more", 2 * B)
    assert [m.seed for m in group.members] == list(range(5, 10))


def test_the_added_seeds_run_as_a_program_of_their_own_after_the_reported_ones(tmp_path):
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--steps", "4",
                   "--sweep.adding.seeds", "1", "--sweep.adding.open-seeds", "2", "--workdir",
                   str(tmp_path)]
    assert longrange.main(args) == 0  # one seed is always open: a second is added
    assert (tmp_path / "parts" / "adding_T8_elman_more.json").exists()
    assert sorted(r["seed"] for r in _rows(tmp_path)) == [0, 1]
    assert longrange.main(args) == 0  # rerun: reused, nothing retrained
    assert sorted(r["seed"] for r in _rows(tmp_path)) == [0, 1]
    (tmp_path / "parts" / "adding_T8_elman_more.json").unlink()  # the added seeds not yet run
    assert longrange.main(args + ["--execution.no-compute"]) == 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert [r["seed"] for r in saved["rows"]] == [0] and not saved["complete"]
    assert saved["not_yet_run"] == [{"task": "adding", "T": 8, "model": "elman",
                                     "ablation": "more_seeds"}]


def test_a_failure_still_learning_at_its_budget_is_rerun_with_twice_the_budget():
    """Stage ``longer<r>``: a reported cell that does not learn and was still learning when its
    budget ended is rerun, every seed, at its rate with 2^r x the budget, up to ``longer`` rounds;
    a cell that learns, one at a plateau, an ablation, a cell of another round's budget and
    ``longer=0`` get none."""
    from experiments.longrange import plan

    full = lc.PRESETS["full"]
    B = plan.budget(full, 200)

    def runs(model, won, fall, n=5, ablation=None, budget=B):
        return [{"task": "adding", "T": 200, "model": model, "ablation": ablation, "seed": s,
                 "success": s < won, "budget": budget,
                 "last_quarter_fall": None if s < won else fall} for s in range(n)]

    rows = (runs("elman", 0, 0.4) + runs("gru", 5, 0.4) + runs("irnn", 0, 0.02)
            + runs("irnn_sgd", 2, 0.3, n=10) + runs("lstm_fb1", 0, 0.4, ablation="no_clip"))
    best = {("adding", 200, "elman"): (1e-3, "gaussian"),
            ("adding", 200, "irnn_sgd"): (0.01, "default")}
    groups = plan.longer_groups(full, 200, best, rows, 1)
    assert {g.name for g in groups} == {"adding_T200_elman_longer1",
                                        "adding_T200_irnn_sgd_longer1"}
    assert {g.budget for g in groups} == {2 * B}
    assert {(m.model, m.seed, m.lr, m.init, m.ablation) for g in groups for m in g.members} == \
        {("elman", s, 1e-3, "gaussian", None) for s in range(5)} | \
        {("irnn_sgd", s, 0.01, "default", None) for s in range(10)}
    assert plan.longer_groups(full, 200, best, rows, 2) == []  # round 2 needs round 1's budget
    twice = runs("elman", 0, 0.4, budget=2 * B)
    assert plan.longer_groups(full, 200, best, twice, 2) == []  # longer=1: one round
    two = dataclasses.replace(full, sweep=dataclasses.replace(
        full.sweep, adding=dataclasses.replace(full.sweep.adding, longer=2)))
    assert [g.budget for g in plan.longer_groups(two, 200, best, twice, 2)] == [4 * B]
    assert plan.longer_groups(lc.PRESETS["quick"], 200, best, rows, 1) == []


def test_the_longer_runs_replace_the_shorter_ones_in_the_tables(tmp_path, monkeypatch):
    """End to end: a cell still learning (forced here) reruns as ``<name>_longer1`` with twice
    the budget; the summary reports those runs once each, lists the budget they replace under
    ``extended``, and a rerun reuses every program."""
    from experiments.longrange import plan, summary

    monkeypatch.setattr(plan, "still_learning", lambda rows: True)
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--steps", "4",
                   "--sweep.adding.seeds", "2", "--sweep.adding.longer", "1",
                   "--sweep.adding.open-seeds", "0", "--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    assert (tmp_path / "parts" / "adding_T8_elman_longer1.json").exists()
    rows = [r for r in _rows(tmp_path) if r["ablation"] is None]
    assert sorted((r["seed"], r["budget"]) for r in rows) == [(0, 8), (1, 8)]
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert [(e["model"], e["budget"], e["seeds"]) for e in saved["extended"]] == [("elman", 4, 2)]
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert len([c for c in curves if c["ablation"] is None]) == 2
    assert longrange.main(args) == 0  # rerun: reused
    assert json.loads((tmp_path / "summary.json").read_text()) == saved
    shorter = [{**r, "budget": 4} for r in rows]
    kept, _, extended, replaced = summary.supersede(rows + shorter)
    assert kept == rows and [e["budget"] for e in extended] == [4] and replaced == shorter
    assert saved["replaced"] == [r for r in saved["replaced"] if r["budget"] == 4]
    assert len(saved["replaced"]) == 2
    # an ablation of that cell is compared with its model at the ablation's own budget
    ablated = [{**r, "ablation": "no_clip"} for r in shorter]
    paired = summary.paired_with_ablations(rows + shorter + ablated)
    assert [r for r in paired if r["ablation"] is None] == shorter
    assert summary.paired_with_ablations(rows + shorter) == rows  # no ablation: the longer runs


def test_a_task_run_alone_makes_the_programs_the_full_preset_reuses():
    """A program's settings are its own: the copy task run alone (no adding models, no
    ablations) plans programs whose settings equal the full preset's, so their files are
    reused when copied into the full preset's parts/."""
    import dataclasses

    from experiments.longrange import plan
    from experiments.longrange.run import group_settings

    full = lc.PRESETS["full"]
    alone = dataclasses.replace(
        full, sweep=dataclasses.replace(full.sweep, adding=lc.TaskSweep()),
        ablations=dataclasses.replace(full.ablations, kinds=()))
    best = {("copy", 100, m): (1e-3, "default") for m in full.sweep.copy.models}
    for groups in (lambda c: plan.tune_groups(c, 100, {}, 0),
                   lambda c: plan.main_groups(c, 100, best)):
        ours = {g.name: group_settings(full, g) for g in groups(full) if g.task == "copy"}
        theirs = {g.name: group_settings(alone, g) for g in groups(alone)}
        assert ours and ours == theirs


def test_the_truncation_control_is_tuned_on_adding_late_and_its_ablation_shares_that_rate():
    """The full-BPTT control of the tbptt_late ablation has its own rate search on adding_late
    (a rate searched on the plain problem would be carried to another task); the truncated run
    trains at the control's rate, the plain-adding ablations at the plain problem's."""
    from experiments.longrange import plan

    full = lc.PRESETS["full"]
    assert ("adding_late", 100, "lstm_fb1") in plan.tuned_cells(full, 100)
    assert not any(c[0] == "adding_late" for c in plan.tuned_cells(full, 50))  # not ablated
    late = [g for g in plan.tune_groups(full, 100, {}, 0) if g.task == "adding_late"]
    assert {g.name for g in late} == {"adding_late_T100_elman_tune0", "adding_late_T100_lstm_tune0"}
    assert all(g.tbptt is None for g in late)  # the control's gradient path: full BPTT
    elman = {m.lr for g in late for m in g.members if m.model == "elman"}
    assert elman == set(full.tune.learning_rates)
    best = {("adding", 100, "lstm_fb1"): (0.1, "default"),
            ("adding_late", 100, "lstm_fb1"): (3.16e-3, "default")}
    rates = {(g.task, m.ablation): m.lr for g in plan.main_groups(full, 100, best)
             for m in g.members if m.model == "lstm_fb1" and g.task != "copy"}
    assert rates == {("adding", None): 0.1, ("adding", "no_clip"): 0.1,
                     ("adding", "tbptt_k20"): 0.1, ("adding_late", "late_full"): 3.16e-3,
                     ("adding_late", "tbptt_late_k20"): 3.16e-3}
    # no tbptt_late ablation: adding_late is neither tuned nor run
    none = dataclasses.replace(full, ablations=dataclasses.replace(full.ablations,
                                                                   kinds=("tbptt",)))
    assert not any(c[0] == "adding_late" for c in plan.tuned_cells(none, 100))
    assert not any(g.task == "adding_late" for g in plan.main_groups(none, 100, best))


def test_a_model_limited_to_short_lengths_is_neither_tuned_nor_run_beyond_them():
    """The full preset runs the one-layer LRU (linear in its inputs: it cannot go below its
    floor 1 - 2/T) at T <= 100 only, every other model at every T."""
    from experiments.longrange import plan

    full = lc.PRESETS["full"]
    best = {}
    for T, expected in ((100, True), (200, False), (800, False)):
        tuned = {m for task, _, m in plan.tuned_cells(full, T) if task == "adding"}
        run = {m.model for g in plan.main_groups(full, T, best) if g.task == "adding"
               for m in g.members if m.ablation is None}
        models = set(full.sweep.adding.models)
        assert tuned == run == (models if expected else models - {"lru"})
    assert not lc.TaskSweep(models=("lru",), lengths=(50, 200), longest=("lru:100",)).runs(
        "lru", 200)
    assert lc.TaskSweep(models=("lru",), lengths=(50, 200)).runs("lru", 200)
    # a task with its models removed keeps its default limits, which then have no effect
    assert not lc.TaskSweep(lengths=(50,), longest=("lru:100",)).runs("lru", 50)
