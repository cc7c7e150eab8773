"""The Hopfield study end to end at a tiny size, its parts' caching, and its refusals."""

import json

import numpy as np
import pytest

from experiments import hopfield
from experiments.common.stats import wilson_interval
from experiments.hopfield import plots
from experiments.hopfield.alpha_c import extrapolate, logistic_crossing, retrieval_runs
from experiments.hopfield.attention import ratio_interval
from experiments.hopfield.classical import crossing, last_at_least, stability

TINY = ["--quick", "--capacity.sizes", "30", "40", "50", "--capacity.num-loads", "4",
        "--capacity.networks", "3", "--capacity.cues", "2", "--capacity.noise", "0", "0.1",
        "--capacity.alpha-c-sizes", "30", "40", "50", "--capacity.alpha-c-networks", "4", "4", "4",
        "--capacity.alpha-c-ranges", "0.1", "0.3", "0.1", "0.3", "0.1", "0.3",
        "--capacity.alpha-step", "0.05",
        "--perfect-recall.sizes", "40", "--perfect-recall.trials", "4",
        "--perfect-recall.points", "3", "--theorem5.sizes", "5", "--theorem5.num-betas", "4",
        "--dense.units", "10", "--dense.max-patterns", "16", "--dense.tests", "4",
        "--dense.sizes", "8", "12", "16", "--dense.exp-sizes", "6", "8", "10",
        "--dense.networks", "8", "--dense.capacity-max-patterns", "64",
        "--modern.sizes", "20", "--modern.queries", "5", "--modern.num-betas", "3",
        "--modern.clusters", "2", "--modern.cluster-size", "3", "--modern.capacity-dims", "10",
        "--modern.capacity-max-log2", "4", "--modern.capacity-queries", "8",
        "--attention.heads", "1", "2", "--attention.d-model", "4", "8",
        "--attention.queries", "3", "2", "--attention.stored", "5", "6",
        "--attention-task.length", "8", "--steps", "4", "--attention-task.eval-every", "2",
        "--attention-task.n-test", "16", "--attention-task.batch-size", "4",
        "--attention-task.hidden-size", "4", "--attention-task.model-dim", "4",
        "--attention-task.checkpoint-every", "2", "--attention-task.seeds", "2"]
PARTS = ("capacity", "perfect_recall", "dense", "modern", "theorem5", "attention",
         "attention_task")


@pytest.mark.slow
def test_tiny_run_writes_results_and_caches_each_part(tmp_path):
    assert hopfield.main(TINY + ["--workdir", str(tmp_path)]) == 0
    for name in PARTS:
        assert (tmp_path / f"{name}.json").exists()
    for file, *_ in plots.FIGURES:
        assert (tmp_path / file).stat().st_size > 10_000
    cap = json.loads((tmp_path / "capacity.json").read_text())
    row = cap["rows"][1]
    assert row["N"] == 40 and "40" in cap["alpha_c"] and cap["N"] == [30, 40, 50]
    assert cap["capped_runs"] == 0 and len(list((tmp_path / "checkpoints" / "parts" / "capacity").glob("*.json")))
    assert cap["trials"] == 6 and len(cap["exact_fraction"]) == 3 and "m" in cap["ags"]
    # at the lowest load (P = 1) a clean cue is a fixed point: overlap exactly 1
    assert row["noise"]["0.0"]["overlap_mean"][0] == 1.0
    assert all(row["noise"][c]["energy_max_change_per_sweep"] <= 0 for c in row["noise"])
    att = json.loads((tmp_path / "attention.json").read_text())
    assert [r["heads"] for r in att["rows"]] == [1, 2] and att["max_abs_diff"] < 1e-5
    task = json.loads((tmp_path / "attention_task.json").read_text())
    assert task["settings"]["steps"] == 4 and set(task["runs"]) == {"hopfield_pooling", "elman", "lstm"}
    assert all(r["steps"] == [2, 4] for r in task["runs"].values())
    for r in task["runs"].values():     # the mean over the two seeds, inside its interval
        assert len(r["seeds"]) == 2 and (tmp_path / "runs" / "lstm" / "seed1").is_dir()
        assert r["final_test_loss"] == pytest.approx(np.mean([s["test_loss"][-1]
                                                              for s in r["seeds"]]))
        ratio = ratio_interval(r)
        assert ratio["ci"][0] <= r["loss_over_baseline"] <= ratio["ci"][1]
        assert (ratio["interval"], ratio["n"]) == ("t", 2) and "final_test_loss_ci" not in r
    mod = json.loads((tmp_path / "modern.json").read_text())
    assert mod["capacity"][0]["flips"] == 1 and mod["capacity"][0]["noise"] == 0.1
    assert mod["regimes"]["mass"] == 0.9 and "separation_min" in mod["retrieval"]["20"]
    assert not any("seconds" in json.dumps(json.loads((tmp_path / f"{p}.json").read_text()))
                   for p in PARTS)
    assert "Capacity" in (tmp_path / "lstm_vs_hopfield.md").read_text()
    assert "α_c" in json.loads((tmp_path / "index.json").read_text())["headline"]
    assert "| storage capacity α_c (AGS 1987): retrieval probability 1/2, N = 30 / 40 / 50 |" in (
        plots.readme_table(tmp_path))

    # changing one part's field recomputes that part only
    before = {p: (tmp_path / f"{p}.json").stat().st_mtime_ns for p in PARTS}
    assert hopfield.main(TINY + ["--workdir", str(tmp_path), "--dense.tests", "3"]) == 0
    after = {p: (tmp_path / f"{p}.json").stat().st_mtime_ns for p in PARTS}
    assert [p for p in PARTS if after[p] != before[p]] == ["dense"]
    assert hopfield.main(["--plot-only", "--workdir", str(tmp_path)]) == 0

    # fewer training steps than the saved runs: refused in one line before any part is redone
    status = hopfield.main(TINY + ["--workdir", str(tmp_path), "--dense.tests", "2",
                                   "--steps", "3"])
    assert status == 2
    assert json.loads((tmp_path / "dense.json").read_text())["settings"]["tests"] == 3


@pytest.mark.parametrize("argv, field", [
    (["--capacity.noise", "0.7"], "capacity.noise"),
    (["--capacity.alpha-c-networks", "5"], "equal lengths"),
    (["--capacity.thresholds", "1.5"], "capacity.thresholds"),
    (["--attention.heads", "3", "--attention.d-model", "16", "--attention.queries", "2",
      "--attention.stored", "2"], "heads 3 must divide attention.d_model 16"),
    (["--attention.heads", "1", "2"], "lengths differ: 2, 3, 3, 3"),
    (["--modern.eps", "nan"], "eps"),
    (["--modern.capacity-dims", "10", "16"], "not for d = [16]"),
    (["--attention-task.seeds", "0"], "seeds"),
])
def test_bad_values_exit_2_before_writing(tmp_path, capsys, argv, field):
    assert hopfield.main(argv + ["--workdir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert field in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()


def test_crossing_and_last_at_least_by_hand():
    assert crossing([0.1, 0.2, 0.3], [1.0, 0.9, 0.5], 0.8) == pytest.approx(0.225)
    assert crossing([0.1, 0.2], [1.0, 0.9], 0.8) is None
    assert last_at_least([1, 2, 4, 8], [1.0, 0.6, 0.4, 0.7], 0.5) == 2
    assert last_at_least([1, 2], [0.1, 1.0], 0.5) is None


@pytest.mark.slow
def test_stability_against_a_numpy_loop():
    """The fixed-point fractions equal a loop over units computing the Hebbian fields afresh."""
    import jax

    key, n, ps, trials = jax.random.key(3), 12, (1, 3, 6), 5
    got = [(float(a), float(b)) for a, b in stability(key, n, ps, trials)]
    for (one, every), p in zip(got, ps, strict=True):
        keys = jax.random.split(jax.random.fold_in(key, p), trials)
        stable_one, stable_all = [], []
        for k in keys:
            x = np.asarray(jax.random.rademacher(k, (p, n), dtype=np.float32), np.int64)
            w = x.T @ x - p * np.eye(n, dtype=np.int64)
            fixed = [all(x[m, i] * (w[i] @ x[m]) >= 0 for i in range(n)) for m in range(p)]
            stable_one.append(fixed[0])
            stable_all.append(all(fixed))
        assert (one, every) == pytest.approx((np.mean(stable_one), np.mean(stable_all)))


def test_wilson_band():
    low, high = plots.wilson_band([0.0, 0.5, 1.0], [10, 10, 4])
    for f, n, lo, hi in zip([0.0, 0.5, 1.0], [10, 10, 4], low, high, strict=True):
        assert (lo, hi) == wilson_interval(int(round(f * n)), n)[1:]


def test_extrapolation_recovers_alpha_inf_and_nu():
    """α_c(N) = 0.138 + 0.9 N^(−2/3) exactly: the fit returns α_∞ and ν, and the profile
    intervals contain them; with noise of one standard error they still cover the truth."""
    ns = np.array([500, 1000, 2000, 4000, 8000])
    exact = 0.138 + 0.9 * ns ** (-2 / 3)
    se = np.full(len(ns), 0.001)
    out = extrapolate(ns, exact, se)
    assert out["alpha_inf"] == pytest.approx(0.138, abs=2e-4)
    assert out["nu"] == pytest.approx(2 / 3, abs=0.01) and out["dof"] == 2
    lo, hi = out["alpha_inf_ci"]
    assert lo < 0.138 < hi and out["nu_ci"][0] < 2 / 3 < out["nu_ci"][1]
    noisy = extrapolate(ns, exact + se * np.array([1, -1, 1, -1, 1]), se)
    assert noisy["alpha_inf_ci"][0] < 0.138 < noisy["alpha_inf_ci"][1]
    # a wider interval when the points are less certain
    wide = extrapolate(ns, exact, 4 * se)
    assert wide["alpha_inf_ci"][1] - wide["alpha_inf_ci"][0] > hi - lo


def test_logistic_crossing_recovers_the_curve_that_made_the_data():
    """Binomial counts from p(α) = 1/(1 + exp((α − 0.15)/0.005)): the fitted crossing's
    profile interval contains 0.15; the maximum likelihood matches a brute-force grid."""
    rng = np.random.default_rng(1)
    alpha = np.arange(0.13, 0.171, 0.0025)
    p = 1 / (1 + np.exp((alpha - 0.15) / 0.005))
    k = rng.binomial(400, p)
    out = logistic_crossing(alpha, k, np.full(len(alpha), 400))
    lo, hi = out["ci"]
    assert lo < 0.15 < hi and hi - lo < 0.003 and out["alpha_c"] == pytest.approx(0.15, abs=0.0015)
    a, w = np.meshgrid(np.linspace(0.145, 0.155, 201), np.linspace(0.003, 0.008, 101))
    z = (a[..., None] - alpha) / w[..., None]
    ll = np.sum(k * -np.logaddexp(0, -z) + (400 - k) * -np.logaddexp(0, z), axis=-1)
    assert out["alpha_c"] == pytest.approx(a.flat[np.argmax(ll)], abs=1e-4)
    assert logistic_crossing(alpha, np.zeros(len(alpha)), np.full(len(alpha), 5))["alpha_c"] is None


@pytest.mark.slow  # compiles two programs
def test_retrieval_runs_pad_without_changing_the_dynamics():
    """Zero padding rows leave every run as it is: the same agreement counts and sweeps for
    p_max = p and p_max > p; every run ends after a sweep that flips nothing."""
    import jax

    keys = jax.random.split(jax.random.key(0), 6)
    a = retrieval_runs(keys, 9, n=40, p_max=9, max_sweeps=200)
    b = retrieval_runs(keys, 9, n=40, p_max=15, max_sweeps=200)
    assert np.array_equal(np.asarray(a[0]), np.asarray(b[0]))
    assert np.array_equal(np.asarray(a[1]), np.asarray(b[1])) and np.all(np.asarray(a[1]) < 200)


@pytest.mark.slow  # float64 programs
def test_theorem5_errors_against_numpy():
    """The float64 one-update errors equal a NumPy softmax update; the bound is eq. 15."""
    import jax

    from experiments.hopfield.config import Theorem5Config
    from experiments.hopfield.theorem5 import theorem5
    from rnnjax.hopfield import modern

    cfg = Theorem5Config(sizes=(6,), dim=8, queries=3, num_betas=3, beta_range=(2.0, 50.0))
    out = theorem5(cfg, jax.random.key(0))
    with jax.enable_x64(True):
        k1, _ = jax.random.split(jax.random.fold_in(jax.random.key(0), 6))
        x = np.asarray(jax.random.normal(k1, (6, 8), np.float64))
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        sep = np.asarray(modern.separation(x))[:3]
    row = out["sizes"]["6"]
    assert row["separation"] == pytest.approx(sep.tolist())
    for b, r in zip(out["beta"], row["per_beta"], strict=True):
        assert r["bound"] == pytest.approx((2 * np.e * 5 * np.exp(-b * sep)).tolist())
        assert r["violations"] == sum(t and e > bd for e, bd, t in
                                      zip(r["error"], r["bound"], r["tested"], strict=True))
    assert out["tested"] >= 1 and out["violations"] == 0


def test_plot_draws_the_parts_saved_so_far(tmp_path):
    """A preset still running: only capacity.json saved gives its two figures, an index whose
    headline names the missing parts, and a README table with the capacity row alone."""
    import shutil
    from pathlib import Path

    shutil.copy(Path(__file__).parents[2] / "results" / "hopfield" / "capacity.json", tmp_path)
    plots.plot(tmp_path)
    index = json.loads((tmp_path / "index.json").read_text())
    assert [f["file"] for f in index["figures"]] == ["capacity.png", "alpha_c.png"]
    assert ("not computed yet: perfect_recall, dense, modern, theorem5, attention, "
            "attention_task") in index["headline"]
    assert not (tmp_path / "lstm_vs_hopfield.md").exists()
    table = plots.readme_table(tmp_path)
    assert table.count("\n") == 4 and "storage capacity α_c (AGS 1987)" in table
    assert "| not yet run |" in table          # Theorem 5 without its file


def test_regime_references_are_mass_count_of_equal_weights():
    """ceil(0.9 n) equals what mass_count gives when n stored patterns are equally likely
    (identical patterns: a uniform softmax)."""
    import jax.numpy as jnp

    from experiments.hopfield.modern_memory import mass_count_uniform
    from rnnjax.hopfield import modern

    for n in (1, 10, 16, 128):
        stored = jnp.ones((n, 3)) / jnp.sqrt(3.0)
        expect = int(modern.mass_count(stored, stored[0], 1.0, 0.9))
        assert mass_count_uniform(n) == expect
    assert mass_count_uniform(128) == 116 and mass_count_uniform(16) == 15


def test_seed_summary_and_modern_rows_by_hand():
    from experiments.hopfield.attention import summarise
    from experiments.hopfield.table import first_beta_below, ratio_with_interval

    runs = [{"steps": [1, 2], "test_loss": [0.3, v], "loss_over_baseline": v / 0.5,
             "steps_to_10pct_baseline": s, "parameters": 7}
            for v, s in ((0.1, 2), (0.2, None), (0.3, 2))]
    out = summarise(runs, 0.5)
    assert out["final_test_loss"] == pytest.approx(0.2)
    assert out["loss_over_baseline"] == pytest.approx(0.4)
    assert out["test_loss"] == pytest.approx([0.3, 0.2]) and out["steps_to_10pct_baseline"] is None
    # ratios 0.2, 0.4, 0.6: 0.4 ± t_{2, 0.975} · 0.2 / √3, t_{2, 0.975} = 4.302652729749464,
    # the lower end kept at 0
    r = ratio_interval(out)
    assert r["ci"] == pytest.approx([0.0, 0.4 + 4.302652729749464 * 0.2 / 3 ** 0.5])
    assert ratio_with_interval(out) == "0.4 [0, 0.9]"
    assert ratio_with_interval({"loss_over_baseline": 0.25}) == "0.25"   # one seed, saved bare
    assert first_beta_below([1, 2, 4], [0.5, 0.005, 0.0]) == 2
    assert first_beta_below([1, 2], [0.5, 0.5]) is None


@pytest.mark.parametrize("kind, power", [("poly", 3), ("exp", 0)])
def test_all_stable_fraction_against_numpy_energies(kind, power):
    """Every pattern of a network is stable when no single flip lowers E = -Σ F(ξ·σ) (a tie
    keeps the unit), checked in float64 NumPy on the same random patterns."""
    import jax

    from experiments.hopfield.dense_memory import all_stable_fraction, random_patterns

    key, units, k, networks = jax.random.key(3), 8, 6, 12
    got = float(all_stable_fraction(key, kind, power, units, k, networks))
    f = (lambda x: x**power) if kind == "poly" else np.exp
    stable = []
    for kk in jax.random.split(key, networks):
        x = np.asarray(random_patterns(kk, k, units), float)
        energy = lambda s, x=x: -np.sum(f(x @ s))
        stable.append(all(energy(np.where(np.arange(units) == i, -s, s)) >= energy(s)
                          for s in x for i in range(units)))
    assert got == pytest.approx(np.mean(stable))
    assert 0 < got < 1 or kind == "exp"


@pytest.mark.parametrize("kind, power", [
    pytest.param("poly", 2, marks=pytest.mark.slow), pytest.param("poly", 3, marks=pytest.mark.slow),
    pytest.param("poly", 4, marks=pytest.mark.slow), ("exp", 0)])
def test_tested_stable_is_the_library_fixed_point_test(kind, power):
    """The two-product stability check equals rnnjax.hopfield.dense.is_fixed_point pattern by
    pattern (ties included: x² at small N has many), and random_patterns are ±1 bits with
    mean near 0 across more than 32 units."""
    import jax

    from experiments.hopfield.dense_memory import random_patterns, tested_stable
    from rnnjax.hopfield import dense

    outcomes = []
    for trial, (n, k) in enumerate(((6, 3), (12, 40), (8, 60))):
        x = random_patterns(jax.random.key(trial), k, n)
        t = min(k, 24)
        got = np.asarray(tested_stable(x, t, kind, power)).tolist()
        want = jax.vmap(lambda s, x=x: dense.is_fixed_point(x, s, kind=kind, n=power))(x[:t])
        assert got == np.asarray(want).tolist()
        outcomes += got
    assert set(outcomes) == {True, False}
    x = np.asarray(random_patterns(jax.random.key(9), 500, 40))
    assert set(np.unique(x)) == {-1.0, 1.0} and abs(x.mean()) < 0.02
    assert abs(x[:, 35:].mean()) < 0.05


def _cap(ci, capped=0):
    ext = {"alpha_inf": sum(ci) / 2 if None not in ci else 0.14, "alpha_inf_ci": ci,
           "nu": 0.6, "nu_ci": [0.3, 1.0], "nu_range": [0.25, 2.0], "chi2": 1.0, "dof": 2,
           "level": 0.95, "threshold": 0.8, "by_threshold": {"0.8": {"alpha_inf": 0.14}}}
    return {"ags": {"alpha_c": 0.1379}, "retrieval": {}, "alpha_c_extrapolated": ext,
            "capped_runs": capped}


def test_alpha_c_and_recall_rules_come_out_both_ways():
    from experiments.hopfield.table import _alpha_c_verdict, _recall_verdict, theorem5_row
    from rnnjax.hopfield import theory

    assert _alpha_c_verdict(_cap([0.13, 0.145]))[1].startswith("yes")
    assert _alpha_c_verdict(_cap([0.14, 0.145]))[1].startswith("no")
    assert _alpha_c_verdict(_cap([None, 0.145]))[1].startswith("not decided")
    assert _alpha_c_verdict(_cap([0.13, 0.145], capped=3))[1].startswith("not decided")
    assert _alpha_c_verdict({"ags": {"alpha_c": 0.1379}})[1] == "not yet run"
    est = theory.finite_n_crossing(2000)
    row = {"N": 2000, "crossing_all": {"alpha_c": est, "ci": [est - 1, est + 1], "level": 0.95}}
    assert _recall_verdict(row, "all", True)[1].startswith("yes")
    row["crossing_all"]["ci"] = [est + 1, est + 2]
    assert _recall_verdict(row, "all", True)[1].startswith("no")
    t5 = {"sizes": {"10": {"error_over_bound_max": 0.1}}, "tested": 5, "violations": 0,
          "floor": 1e-12}
    assert theorem5_row(t5)[3].startswith("yes")
    assert theorem5_row({**t5, "violations": 2})[3].startswith("no")
    assert theorem5_row(None)[3] == "not yet run"


def test_dense_capacity_protocol_recovers_the_law_that_made_the_data():
    """Stable counts drawn from P(K) = exp(−ln 2 (K / K*(N))^2) with K*(N) = 0.05 N²: the
    doubling-then-quarter-octave grid brackets every crossing, the 95 % intervals hold K*(N)
    (at most one of six misses), and
    the slope's interval holds 2 (the theory slope passed in is 2 exactly); a law that is not
    the data's (slope 2.5) falls outside."""
    from experiments.hopfield.dense_memory import capacity_slope, measure_size, size_crossing

    rng = np.random.default_rng(3)
    networks, rows, misses = 256, [], 0
    for n in (16, 24, 32, 48, 64, 96):
        law = 0.05 * n * n
        count = lambda k, law=law: int(rng.binomial(networks, np.exp(-np.log(2) * (k / law)**2)))
        row = {"N": n, **measure_size(count, 2**20, networks)}
        assert not row["capped"] and min(row["window"]) < law < max(row["window"])
        assert np.all(np.diff(np.log2(row["window"])) <= 0.26 + 1 / min(row["window"]))
        row.update(size_crossing(row, networks, 0.95))
        misses += not row["capacity_ci"][0] < law < row["capacity_ci"][1]
        rows.append(row)
    assert misses <= 1
    ns = [r["N"] for r in rows]
    fit = capacity_slope(ns, [r["capacity"] for r in rows], [r["capacity_ci"] for r in rows],
                         exponential=False, level=0.95, theory=[0.05 * n * n for n in ns])
    assert fit["slope_ci"][0] < 2 < fit["slope_ci"][1] and fit["theory_slope"] == pytest.approx(2)
    assert not fit["slope_ci"][0] < 2.5 < fit["slope_ci"][1]
    capped = measure_size(lambda k: networks, 64, networks)
    assert capped["capped"] and capped["K"] == [2, 4, 8, 16, 32, 64] and not capped["window"]


def test_dense_rows_state_the_rule_and_come_out_both_ways():
    from experiments.hopfield.table import dense_rows

    fit = {"slope": 1.9, "slope_ci": [1.8, 2.0], "theory_slope": 1.95, "reproduced": True,
           "level": 0.95, "N": [16, 64], "x": "ln N"}
    row = {"N": 16, "capacity": 10.0, "capacity_ci": [9.0, 11.0], "theory_capacity": 10.5,
           "capped": False}
    cvn = {"tests": 64, "networks": 128, "max_patterns": 1024,
           "curves": {"poly3": {"rows": [row, {"N": 32, "capped": True}], "fit": fit},
                      "exp": {"rows": [row], "fit": {**fit, "x": "N", "reproduced": False}}}}
    (poly, exp) = dense_rows(cvn)
    assert poly[3].startswith("yes (rule: the theory's slope inside the measured slope's 95% interval)")
    assert "slope 1.950" in poly[2] and "[1.800, 2.000]" in poly[1] and "above 1024" in poly[1]
    assert exp[3].startswith("no (rule") and "ln K vs N" in exp[1]
    cvn["curves"]["poly3"]["fit"] = None
    assert dense_rows(cvn)[0][3].startswith("not tested")
