"""The plateau and clipping-sweep summaries and the README rules: against hand computations,
and each rule shown to come out both ways."""

import numpy as np
import pytest

from experiments.common.stats import wilson_interval
from experiments.jacobian_spectra.clipping_sweep import summarise as sweep_summary
from experiments.jacobian_spectra.plateau import gap_fit
from experiments.jacobian_spectra.plateau import summarise as plateau_summary
from experiments.jacobian_spectra.summary import clipping_row, driven_row, plateau_row
from rnnjax.analysis.mean_field import mean_field_lyapunov


def test_gap_fit_recovers_a_line_in_one_over_n():
    ns = np.array([100, 200, 400, 800, 1600])
    gap = 0.002 + 3.0 / ns
    out = gap_fit(ns, gap, np.full(5, 1e-3))
    assert out["a"] == pytest.approx(0.002) and out["c"] == pytest.approx(3.0)
    assert out["a_ci"][0] < 0.002 < out["a_ci"][1] and out["dof"] == 3
    # the interval of a: the normal one of a weighted least-squares fit, by hand
    x = np.stack([np.ones(5), 1 / ns], 1) / 1e-3
    se = np.sqrt(np.linalg.inv(x.T @ x)[0, 0])
    assert out["a_ci"][1] - out["a"] == pytest.approx(1.959964 * se, rel=1e-5)


def test_plateau_summary_by_hand():
    gains = (1.1, 1.5)
    theory = mean_field_lyapunov(np.asarray(gains), 0.0).lambda_max
    lam = np.array([[0.0, theory[0], theory[0] / 3, 0.9 * theory[0]],
                    [theory[1], theory[1], -0.1, theory[1] / 2 - 1e-6]])
    out = plateau_summary(lam, gains, 0.0, 0.95)
    assert out["regular"] == [2, 2]      # below half the theory at its gain
    assert out["regular_ci"][0] == list(wilson_interval(2, 4)[1:])
    assert out["gap"] == pytest.approx(np.mean(theory - lam.mean(1)))
    se = lam.std(1, ddof=1) / 2
    assert out["gap_se"] == pytest.approx(np.sqrt(np.sum(se ** 2)) / 2)


def test_sweep_summary_counts_by_hand():
    cell = {"members": [[1.0, 0], [1.0, 1], [1.5, 0], [1.5, 1]],
            "diverged_at": [None, None, 7, None], "tail_loss": [0.01, 0.05, None, 0.016]}
    out = sweep_summary(cell, (1.0, 1.5), 2, 0.1, 0.95)
    assert (out["1"]["diverged"], out["1"]["learned"]) == (0, 1)     # 0.05 > 0.1 / 6
    assert (out["1.5"]["diverged"], out["1.5"]["learned"]) == (1, 1)
    assert out["1.5"]["diverged_ci"] == list(wilson_interval(1, 2)[1:])


def _sweep(none_div, norm_learned, control_div=0, seeds=5):
    def cell(div, learned):
        return {"runs": seeds, "diverged": div, "learned": learned,
                "diverged_ci": list(wilson_interval(div, seeds)[1:]),
                "learned_ci": list(wilson_interval(learned, seeds)[1:])}

    cells = {"none/0.01": {"rho": {"1": cell(control_div, 5), "1.5": cell(none_div, 0)}},
             "norm/0.01": {"rho": {"1": cell(0, 5), "1.5": cell(0, norm_learned)}}}
    return {"cells": cells, "level": 0.95, "seeds": seeds, "control_rho": 1.0,
            "stable_rates": [0.01] if control_div == 0 else [], "learning_rates": [0.01],
            "success": 0.1, "length": 50, "steps": 2000}


def test_clipping_rule_comes_out_both_ways():
    assert clipping_row(_sweep(5, 5))[3].startswith("yes")
    assert clipping_row(_sweep(2, 5))[3].startswith("not tested")  # divergence not shown
    assert clipping_row(_sweep(5, 2))[3].startswith("**no**")      # clipped runs do not learn
    assert clipping_row(_sweep(5, 5, control_div=1))[3].startswith("not tested")  # no stable rate
    assert clipping_row(None)[3] == "not yet run"


def _plateau(a_ci, c_ci):
    size = {"gap": 0.01, "regular": [1], "g": [1.1]}
    fit = {"a": sum(a_ci) / 2, "a_ci": a_ci, "c": sum(c_ci) / 2, "c_ci": c_ci}
    entry = {"sizes": {"100": size, "200": size, "400": size}, "gap_fit": fit,
             "input_variance": 0.25}
    return {"autonomous": entry, "driven": entry, "seeds": 20, "level": 0.95, "length": 10000}


def test_plateau_and_driven_rules_come_out_both_ways():
    assert plateau_row(_plateau([-0.001, 0.002], [0.5, 2.0]))[3].startswith("yes")
    assert plateau_row(_plateau([0.001, 0.002], [0.5, 2.0]))[3].startswith("**no**")
    assert plateau_row(_plateau([-0.001, 0.002], [-0.5, 2.0]))[3].startswith("**no**")
    assert driven_row(_plateau([-0.001, 0.002], [-0.5, 2.0]))[3].startswith("yes")
    assert driven_row(_plateau([0.003, 0.004], [0.5, 2.0]))[3].startswith("**no**")
    assert plateau_row(None)[3] == driven_row(None)[3] == "not yet run"


def test_exact_rows_use_the_float32_rounding_bound():
    """The exact-identity rows pass inside t H ε and fail just outside it."""
    import math

    from experiments.jacobian_spectra.summary import linear_error, rounding_bound

    t, hidden = 100, 32
    norms = {"t": list(range(1, t + 1)), "settings": {"hidden_size": hidden}}
    bound = rounding_bound(norms)
    assert bound == pytest.approx(t * hidden * 2.0 ** -23, rel=1e-12)
    rho = 0.9
    exact = [i * math.log(rho) for i in norms["t"]]
    for shift, verdict in ((0.5 * bound, True), (2.0 * bound, False)):
        fam = {"linear_orth": {"zero": [[[e + shift for e in exact]]]}}
        err = linear_error({**norms, "rhos": [rho], "families": fam})
        assert (err <= bound) is verdict


def test_logistic_interval_and_rule():
    """λ(4) over independent orbits: the per-orbit exponents against a float64 Python loop
    from the same initial points (chaos separates the orbits, so only within the spread of
    per-orbit values), the Student-t interval by hand, ln 2 inside it; the rule comes out
    both ways."""
    import math

    from scipy import stats

    from experiments.jacobian_spectra.lyapunov import (
        GOLDEN,
        LOGISTIC_STEPS,
        LOGISTIC_WARMUP,
        LOGISTIC_X0,
        logistic_at_4,
    )
    from experiments.jacobian_spectra.summary import logistic_row

    at = logistic_at_4(4)
    lam = []
    for j in range(4):
        x, total = (LOGISTIC_X0 + GOLDEN * j) % 1.0, 0.0
        for t in range(LOGISTIC_WARMUP + LOGISTIC_STEPS):
            if t >= LOGISTIC_WARMUP:
                total += math.log(abs(4 * (1 - 2 * x)))
            x = 4 * x * (1 - x)
        lam.append(total / LOGISTIC_STEPS)
    assert np.all(np.abs(np.array(lam) - math.log(2)) < 5e-3)
    assert np.all(np.abs(np.array(at["per_orbit"]) - math.log(2)) < 5e-3)
    half = stats.t.ppf(0.975, 3) * np.std(at["per_orbit"], ddof=1) / 2
    assert at["lambda"] == pytest.approx(np.mean(at["per_orbit"]), abs=1e-15)
    assert at["ci"] == pytest.approx([at["lambda"] - half, at["lambda"] + half], abs=1e-15)
    assert at["ci"][0] < math.log(2) < at["ci"][1]
    assert logistic_row({"at_4": at, "lambda_at_4": 0.69})[3].startswith("yes")
    off = {**at, "ci": [0.70, 0.71]}
    assert logistic_row({"at_4": off, "lambda_at_4": 0.69})[3].startswith("**no**")
    assert logistic_row({"lambda_at_4": 0.69})[3].startswith("not decided")


def test_attention_identity_rule_uses_the_rounding_bound():
    """The attention-identity row passes within (d + S) ε × scale and fails just outside it."""
    from experiments.hopfield.table import attention_within_rounding

    eps = float(np.finfo(np.float32).eps)
    row = {"d_model": 64, "stored": 128, "output_scale": 2.0, "max_abs_diff_flax_mha": 0.0,
           "max_abs_diff_jax_attention": 0.0}
    bound = (64 + 128) * eps * 2.0
    ok, largest = attention_within_rounding([{**row, "max_abs_diff_update_vs_attention": 0.9 * bound}])
    assert ok and largest == pytest.approx(bound)
    ok, _ = attention_within_rounding([{**row, "max_abs_diff_update_vs_attention": 1.1 * bound}])
    assert not ok


def test_gap_fit_uses_t_when_the_scatter_sets_the_variance():
    """Points scattered well beyond their errors: the covariance is scaled by chi2/dof and the
    interval uses Student's t with dof degrees of freedom (a closed-form check of the width)."""
    from scipy import stats

    ns = np.array([100.0, 200.0, 400.0, 800.0])
    gap = 0.01 + 2.0 / ns + np.array([3e-3, -3e-3, 3e-3, -3e-3])
    se = np.full(4, 1e-4)
    out = gap_fit(ns, gap, se)
    assert out["quantile"] == "t" and out["chi2"] > out["dof"] == 2
    a = np.stack([np.ones(4), 1 / ns], 1) / se[:, None]
    sd = np.sqrt(np.linalg.inv(a.T @ a)[0, 0] * out["chi2"] / 2)
    half = (out["a_ci"][1] - out["a_ci"][0]) / 2
    assert half == pytest.approx(stats.t.ppf(0.975, 2) * sd, rel=1e-9)
    tight = gap_fit(ns, 0.01 + 2.0 / ns, se)
    assert tight["quantile"] == "normal"
