"""experiments.parallel: the competing fits of iterations against T, the λ_max bins, the outcome
categories, the float32-versus-float64 count, and (slow) a tiny sweep with its figures and index
drawn from the saved summary alone."""

import json
import re

import numpy as np
import pytest

from experiments.parallel.config import Config, GainConfig, TrainedConfig
from experiments.parallel.fits import (
    FORMS,
    fit_forms,
    float32_failures,
    growth_exponent,
    lambda_bins,
    outlook_check,
    verdict,
)
from experiments.parallel.plots import headline, plot, readme_table
from experiments.parallel.run import run
from experiments.parallel.solvers import outcome
from rnnjax.parallel import NewtonInfo

LENGTHS = np.array([64, 128, 256, 512, 1024, 2048, 4096], float)


@pytest.mark.parametrize("form", FORMS)
def test_fit_forms_picks_the_generating_form(form):
    rng = np.random.default_rng(0)
    T = np.repeat(LENGTHS, 10)
    y = 5 + (0 if form == "constant" else 0.5) * FORMS[form](T) + rng.normal(0, 0.3, T.size)
    fit = fit_forms(T, y)
    assert fit["best"] == form
    # a form with one more parameter costs 2 in AIC: the constant wins by less than that
    assert fit["runner_up_delta"] > (0 if form == "constant" else 2)
    if form != "constant":
        assert abs(fit["forms"][form]["b"] - 0.5) < 0.05
    # the AIC is the Gaussian one, n ln(RSS/n) + 2k, recomputed here
    a, b = fit["forms"]["ln T"]["a"], fit["forms"]["ln T"]["b"]
    rss = np.sum((y - a - b * np.log(T)) ** 2)
    assert np.isclose(fit["forms"]["ln T"]["aic"], T.size * np.log(rss / T.size) + 6)
    assert fit_forms([64, 64, 64], [1, 2, 3]) == {}


def test_lambda_bins_hold_at_least_per_bin_networks_in_order():
    nets = [{"lambda_max": v} for v in np.random.default_rng(1).normal(size=23)]
    bins = lambda_bins(nets, 10)
    assert [len(b) for b in bins] == [10, 13]
    flat = [n["lambda_max"] for b in bins for n in b]
    assert flat == sorted(flat)


def test_outcome_tells_diverged_from_not_converged():
    info = lambda res, ok: NewtonInfo(np.int32(3), np.float32(res), np.bool_(ok))
    assert outcome(info(1e-6, True)) == "converged"
    assert outcome(info(0.5, False)) == "not_converged"
    assert outcome(info(np.inf, False)) == "diverged"


def row(dtype, T, converged, overflow=False, out=None, gain=1.0, network=0, lam=-0.1):
    return {"method": "deer", "dtype": dtype, "T": T, "gain": gain, "network": network,
            "converged": converged, "overflow_1": overflow, "lambda_max": lam,
            "outcome": out or ("converged" if converged else "not_converged")}


def test_float32_failures_counts_pairs():
    rows = [row("float64", 64, True), row("float32", 64, True, overflow=True),
            row("float64", 128, True), row("float32", 128, False, overflow=True, out="diverged"),
            row("float64", 256, False), row("float32", 256, False)]
    f = float32_failures({"rows": rows})
    assert f == {"pairs": 3, "overflow_1": 2, "overflow_1_converged": 1, "lost": 1,
                 "lost_overflow_1": 1, "lost_diverged": 1, "lost_chaotic": 0,
                 "remedy_failures": 1, "lambda_T_converged_max": None, "lambda_T_lost_min": None}


def test_float32_failures_separate_chaotic_losses_by_lambda_T():
    # chaotic network (λ_max = 0.1): converged in both dtypes at T = 64 (λT = 6.4), lost at
    # T = 256 (λT = 25.6) after a first-step overflow; a forgetting network lost at T = 128
    rows = [row("float64", 64, True, lam=0.1, network=1), row("float32", 64, True, lam=0.1, network=1),
            row("float64", 256, True, lam=0.1, network=1),
            row("float32", 256, False, overflow=True, lam=0.1, network=1),
            row("float64", 128, True, lam=-0.2, network=2), row("float32", 128, False, network=2)]
    f = float32_failures({"rows": rows})
    assert (f["lost"], f["lost_chaotic"], f["remedy_failures"]) == (2, 1, 1)
    np.testing.assert_allclose([f["lambda_T_converged_max"], f["lambda_T_lost_min"]], [6.4, 25.6])


def test_verdict_needs_sublinear_stable_bins_and_failing_chaotic_bins():
    def b(lam, hi, conv):  # growth exponent's interval [0, hi]
        return {"lambda_max": lam, "per_T": [{"n": 3, "converged": conv}],
                "exponent": {"p": hi / 2, "ci": [0.0, hi], "ci_level": 0.95, "n": 3}}
    assert verdict([b(-0.2, 0.5, 3), b(0.1, 1.2, 3)])["holds"]
    assert not verdict([b(-0.2, 1.0, 3), b(0.1, 1.2, 3)])["holds"]  # not sublinear, λ_max < 0
    assert not verdict([b(-0.2, 0.5, 2), b(0.1, 1.2, 3)])["holds"]  # a failed solve
    assert not verdict([b(-0.2, 0.5, 3), b(0.1, 0.5, 3)])["holds"]  # sublinear, λ_max ≥ 0
    assert verdict([b(-0.2, 0.5, 3), b(0.1, 0.5, 2)])["holds"]  # ... but a solve failed
    no_exponent = dict(b(-0.2, 0.5, 3), exponent={})
    assert not verdict([no_exponent, b(0.1, 1.2, 3)])["holds"]


def test_growth_exponent_is_the_mean_per_network_log_log_slope():
    T = [64, 128, 256, 512]
    rows = [{"gain": 1.0, "network": n, "T": t, "iterations": round(3 * t ** p)}
            for n, p in enumerate([0.0, 0.2, 0.4]) for t in T]
    e = growth_exponent(rows)
    slopes = [np.polyfit(np.log(T), np.log([r["iterations"] for r in rows if r["network"] == n]),
                         1)[0] for n in range(3)]
    from scipy import stats as st
    half = st.t.ppf(0.975, 2) * np.std(slopes, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose([e["p"], *e["ci"]], [np.mean(slopes), np.mean(slopes) - half,
                                                    np.mean(slopes) + half])
    assert e["n"] == 3 and abs(e["p"] - 0.2) < 0.02
    # linear growth: p = 1 within rounding; a network seen at one length only does not count
    lin = [{"gain": 2.0, "network": n, "T": t, "iterations": t // 2 + n} for n in range(4)
           for t in T] + [{"gain": 2.0, "network": 9, "T": 64, "iterations": 30}]
    assert growth_exponent(lin)["n"] == 4 and abs(growth_exponent(lin)["p"] - 1) < 0.02
    assert growth_exponent(lin[:4]) == {}


def test_headline_does_not_test_the_claim_with_small_bins():
    from experiments.parallel.plots import MIN_PER_BIN

    rows = [{"method": "deer", "dtype": "float64", "gain": g, "network": n, "T": T,
             "iterations": 3 if g < 1 else T // 2, "converged": True, "outcome": "converged",
             "overflow_1": False, "lambda_max": -0.5 if g < 1 else 0.2, "max_iters": T}
            for g in (0.5, 2.0) for n in range(3) for T in (64, 128, 256)]
    summary = {"rows": rows, "missing_parts": [], "hidden_size": 8, "networks_per_gain": 3,
               "gains": [0.5, 2.0], "dtypes": ["float64"], "methods": ["deer"], "T": [64, 128, 256],
               "networks": [{"gain": r["gain"], "network": r["network"],
                             "lambda_max": r["lambda_max"]} for r in rows if r["T"] == 64]}
    assert MIN_PER_BIN == 10 and "not tested: bins of 3 networks" in headline(summary)
    summary["networks_per_gain"] = 10  # bins of 10 (here one bin of all 6): a call is made
    assert re.search("governed by λ_max\" (holds|fails) —", headline(summary))


def test_outlook_check_extrapolates_from_the_two_shortest_lengths():
    def r(n, T, it, lam, conv=True):
        return {"method": "deer", "dtype": "float64", "gain": 1.0, "network": n, "T": T,
                "iterations": it, "converged": conv, "lambda_max": lam}
    rows = [r(0, 64, 4, -0.5), r(0, 128, 4, -0.5), r(0, 256, 4, -0.5), r(0, 512, 5, -0.5),
            r(1, 64, 20, 0.1), r(1, 128, 40, 0.1), r(1, 256, 160, 0.1), r(1, 512, 512, 0.1, False)]
    o = outlook_check({"T": [64, 128, 256, 512], "rows": rows})
    # network 0: p = 0, predicts 4 at 256 and 512 (ratios 1, 0.8); network 1: p = 1, predicts
    # 80 at 256 (ratio 0.5); its 512 solve did not converge
    assert o["n"] == 3 and o["median_ratio"] == pytest.approx(0.8)
    assert o["within_2"] == 1.0
    assert (o["worthwhile_networks"], o["worthwhile_converged"], o["worthwhile_solves"]) == (1, 2, 2)
    assert outlook_check({"T": [64, 100, 256], "rows": rows}) == {}


def test_elk_runs_only_up_to_its_max_length_and_settings_name_what_ran():
    from experiments.parallel.run import methods_at, part_settings

    config = Config(gain=GainConfig(lengths=(64, 128, 256), elk_max_length=128))
    assert methods_at(config.gain, 128) == ("deer", "quasi_deer", "elk", "elk_adaptive")
    assert methods_at(config.gain, 256) == ("deer", "quasi_deer")
    assert part_settings(config, 0, 0, 256)["sweep"]["methods"] == ("deer", "quasi_deer")
    # a part's settings do not depend on the ELK cut-off, only on the methods run at its T
    other = Config(gain=GainConfig(lengths=(64, 128, 256), elk_max_length=256))
    assert part_settings(config, 0, 0, 128) == part_settings(other, 0, 0, 128)
    assert part_settings(config, 0, 0, 256) != part_settings(other, 0, 0, 256)
    with pytest.raises(ValueError, match="elk_max_length"):
        GainConfig(elk_max_length=0)


@pytest.mark.slow
def test_tiny_sweep_rows_and_plots(tmp_path):
    config = Config(gain=GainConfig(hidden_size=4, gains=(0.5, 3.0), lengths=(16, 32), networks=2,
                                    lyapunov_steps=300, max_iters=32),
                    trained=TrainedConfig(cells=("gru",), hidden_size=4, train_length=8, steps=3,
                                          seeds=1, batch_size=4, n_test=8, lengths=(16,)))
    run(config, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = summary["rows"]
    assert len(rows) == 2 * 2 * 2 * 2 * 4  # gains × networks × T × dtypes × methods
    assert summary["T"] == [16, 32] and summary["missing_parts"] == []
    stable = [r for r in rows if r["gain"] == 0.5]
    assert all(r["lambda_max"] < 0 for r in stable)
    assert all(r["converged"] for r in stable if r["method"] in ("deer", "quasi_deer"))
    assert all(r["iterations"] < 8 for r in stable if r["method"] == "deer")
    assert all(r["iterations"] <= r["max_iters"] for r in rows)
    assert {r["outcome"] for r in rows} <= {"converged", "not_converged", "diverged"}
    assert len(summary["trained_rows"]) == 4  # methods × lengths
    plot(tmp_path)
    for name in ("iterations_vs_lambda.png", "iterations_vs_T.png"):
        assert (tmp_path / name).stat().st_size > 0
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["headline"] == headline(summary)
    assert "no verdict" in index["headline"]  # 2 lengths: the fits need 3
    assert "GRU" in readme_table(tmp_path)
