"""The long-range study's README statements and table legends, on small synthetic rows."""

import json
import math
from functools import partial

import numpy as np
import pytest

from experiments.longrange import errors, floors, jacobian_fit, protocol, report, summary, tables
from experiments.longrange.config import log_grid
from experiments.longrange.style import LABELS


def _rows(model, T, losses, steps=None, jac=0.0, lr=0.01, ablation=None, budget=None, const=1.0,
          task="adding"):
    """One row per seed: final loss / baseline (None: non-finite) and updates to success; the
    budget is the default protocol's at T unless given."""
    steps = steps or [None] * len(losses)
    budget = budget or protocol.required_budget(T)
    return [{"task": task, "ablation": ablation, "T": T, "model": model, "seed": s, "lr": lr,
             "recurrent_init": "default", "loss_over_baseline": x, "constant_loss_over_baseline": const,
             "steps_to_success": t, "success": t is not None,
             "diverged": x is None or x > 100.0, "init_log_jacobian": jac - s,
             "steps": budget if t is None else t, "budget": budget, "batch_size": 4,
             "success_ratio": 0.1}
            for s, (x, t) in enumerate(zip(losses, steps, strict=True))]


DEFAULT_RATES = log_grid(1e-5, 1e-1)


def _grid(task, T, model, lr=0.01, rates=DEFAULT_RATES, at_edge=False):
    """A rate search as summary.json records it (by default over the default protocol's grid),
    no setting succeeding, nor in the search repeated at the reported budget, which chose
    the same rate."""
    return {"task": task, "T": T, "model": model, "lr": lr, "recurrent_init": "default",
            "optimizer": "adam", "budget": 50, "at_edge": at_edge,
            "grid": [{"lr": a, "recurrent_init": "default", "successes": 0, "seeds": 2}
                     for a in rates],
            "full_budget": {"budget": 100, "lr": lr, "recurrent_init": "default", "grid": [
                # repeated at the reported budget, choosing the same rate by final loss
                {"lr": a, "recurrent_init": "default", "successes": 0, "seeds": 2, "pruned": 0}
                for a in rates]}}


def _searched(rows, *models):
    """Grids over the default protocol's rates for the main-sweep cells of ``models``."""
    return [_grid(r["task"], r["T"], r["model"]) for r in rows
            if r["model"] in models and r["ablation"] is None and r["seed"] == 0]


GRID = [_grid("adding", 400, "lstm_fb1", rates=log_grid(1e-5, 1.0), at_edge=True)]
WON_5 = "5/5 succeed (Wilson 95 % interval [0.566, 1])"


def _runs(model, T, won, n=5, loss=0.9, **kw):
    """``n`` seeds of which the first ``won`` succeed (at update 100, loss / baseline 0.05)."""
    return _rows(model, T, [0.05] * won + [loss] * (n - won), [100] * won + [None] * (n - won),
                 **kw)


def _elman_falling(T, falls, won=0):
    """Elman runs at T: ``won`` successes, then one failure (loss 0.5) per last-quarter fall."""
    rows = _runs("elman", T, won, n=len(falls) + won, loss=0.5)
    for r, f in zip(rows[won:], falls, strict=True):
        r["last_quarter_fall"] = f
    return rows


def test_an_exhausted_cell_counts_its_diverged_runs():
    """A failure's text names how many runs diverged: their losses are left out of its median."""
    rows = _rows("lstm_fb1", 400, [None, 500.0, 0.9, 0.9, 0.8])
    assert report.Context(rows, GRID).exhausted("adding", 400, "lstm_fb1").startswith(
        "LSTM, b_f = 1: 0/5 succeed within 20000 updates, median 0.9 (2 of 5 diverged: "
        "non-finite or > 100 x baseline), rates")
    assert "diverged" not in report.Context(_runs("lstm_fb1", 400, 0), GRID).exhausted(
        "adding", 400, "lstm_fb1")


def test_a_failure_counts_once_rerun_at_the_rate_its_repeated_search_found():
    """The repeated search found 0.01; the reported runs at the loss-chosen rate leave the claim
    not tested; rerun at 0.01 and failing, their failure counts and names the rate's origin."""
    grid = _grid("adding", 400, "elman", lr=0.01)
    grid["full_budget"]["grid"][6]["successes"] = 1                 # 1e-5 … 0.1: 0.01 is 7th
    assert grid["full_budget"]["grid"][6]["lr"] == 0.01
    rows = _runs("lstm_fb1", 400, 5) + _runs("elman", 400, 0, loss=0.97, lr=1e-3)
    assert report.hochreiter(report.Context(rows, [grid]), 400).endswith(
        "T = 400: not tested (Elman (tanh) failed with less than a failure needs to count: a rate "
        "chosen by final loss (no setting succeeded within the search's 50 updates), while at 100 "
        "updates rate 0.01 (default init) succeeded: the reported runs at that rate are not yet "
        "run).")
    rerun = _runs("lstm_fb1", 400, 5) + _runs("elman", 400, 0, loss=0.97, lr=0.01)
    assert report.hochreiter(report.Context(rerun, [grid]), 400).endswith(
        f"T = 400: reproduced (LSTM b_f = 1 {WON_5}; Elman (tanh): 0/5 succeed within 20000 "
        "updates, median 0.97, rates 1e-05 … 0.1 (9), none succeeding within the search's 50 "
        "updates; repeated at 100, 0.01 (default init) succeeded and was chosen).")


def test_verdicts_say_reproduced_not_reproduced_with_what_was_exhausted_or_not_tested():
    """A model learns when its success fraction's Wilson interval lies above ½ and fails when it
    lies below; in between the verdict is not resolved, naming the open model."""
    rows = (_runs("lstm_fb1", 100, 5) + _runs("elman", 100, 5)
            + _runs("lstm_fb1", 400, 0, loss=0.9) + _runs("elman", 400, 0, loss=0.97)
            + _runs("lstm_fb1", 200, 5) + _runs("elman", 200, 2, loss=0.2))
    ctx = report.Context(rows, GRID,
                         [{"task": "adding", "T": 800, "model": "lstm_fb1", "ablation": None}])
    assert report.hochreiter(ctx, 100).endswith(  # Elman learns too
        f"T = 100: not reproduced (Elman (tanh) learns: {WON_5}).")
    # T = 400: the LSTM fails: its budget and its rate grid, chosen at the edge
    assert report.hochreiter(ctx, 400).endswith(
        "T = 400: not reproduced (LSTM, b_f = 1: 0/5 succeed within 20000 updates, median 0.9, "
        "rates 1e-05 … 1 (11) (chosen rate at the edge: the grid's limit), none succeeding within the search's 50 updates nor, every setting repeated, within 100 (its rate chosen by final loss at 100)).")
    assert report.hochreiter(ctx, 800).endswith(
        "T = 800: not tested (LSTM, b_f = 1 at T = 800 not yet run; Elman (tanh) at T = 800 not "
        "in this sweep).")
    assert report.hochreiter(ctx, 200).endswith(
        "T = 200: not resolved (Elman (tanh): 2/5 succeed (Wilson 95 % interval [0.118, 0.769]), "
        "which holds ½ (more seeds would decide)).")
    # what decides an open cell: its planned runs, else more seeds, else nothing the protocol gives
    planned = [{"task": "adding", "T": 200, "model": "elman", "ablation": a}
               for a in ("longer_budget",)]
    assert report.hochreiter(report.Context(rows, GRID, planned), 200).endswith(
        "which holds ½ (its runs with twice the budget are not yet run)).")
    added = [{"task": "adding", "T": 200, "model": "elman", "ablation": "more_seeds"}]
    assert report.hochreiter(report.Context(rows, GRID, added), 200).endswith(
        "which holds ½ (its added seeds are not yet run)).")
    spent = report.Context(rows, GRID, sweep={"adding": {"open_seeds": 5}})
    assert report.hochreiter(spent, 200).endswith(
        "which holds ½ (the protocol's 5 seeds and 10000 updates are spent: open under it)).")
    rerun = [{"task": "adding", "T": 200, "model": "elman", "ablation": "rechosen_rate"}]
    assert report.hochreiter(report.Context(rows, GRID, rerun), 200).endswith(
        "which holds ½ (its runs at the rate its repeated search found are not yet run)).")
    grids = _searched(rows, "elman")           # chosen by loss again in the repeated search
    by_loss = report.Context(rows, grids, sweep={"adding": {"open_seeds": 5}})
    assert report.hochreiter(by_loss, 200).endswith(
        "(the protocol's 5 seeds and 10000 updates are spent: open under it, at a rate chosen by "
        "final loss (no setting of its search succeeded within 100 updates))).")
    for g in grids:
        del g["full_budget"]                   # not repeated: chosen at the search's budget
    assert report.hochreiter(by_loss, 200).endswith(
        "final loss (no setting of its search succeeded within 50 updates))).")
    few = report.Context([r for r in rows if r["T"] == 200 and r["seed"] < 3], GRID,
                         sweep={"adding": {"open_seeds": 0}})      # 3 seeds: no count decides
    assert report.hochreiter(few, 200).endswith("which holds ½ (more seeds would decide)).")
    assert "more seeds would decide" in report.hochreiter(
        report.Context(rows, GRID, sweep={"adding": {"open_seeds": 10}}), 200)
    good = [r for r in rows if not (r["T"] == 400 and r["model"] == "lstm_fb1")] + _runs(
        "lstm_fb1", 400, 5)
    assert report.hochreiter(report.Context(good, _searched(good, "elman")), 400).endswith(
        f"T = 400: reproduced (LSTM b_f = 1 {WON_5}; Elman (tanh): 0/5 succeed within 20000 "
        "updates, median 0.97, rates 1e-05 … 0.1 (9), none succeeding within the search's 50 updates nor, every setting repeated, within 100 (its rate chosen by final loss at 100)).")
    # with 10 seeds, 9 successes resolve "learns" and 1 "fails"; 8 and 2 stay open
    assert [report.outcome(_runs("gru", 10, k, n=10)) for k in (10, 9, 8, 2, 1, 0)] == [
        "learns", "learns", "open", "open", "fails", "fails"]
    assert report.outcome(_runs("gru", 10, 3, n=3)) == "open"  # 3 seeds never resolve


def test_the_1997_claim_is_not_tested_below_the_lags_it_is_about():
    """Hochreiter & Schmidhuber's tanh RNN fails at long lags (T >= 100); at T = 50 both learn
    and the verdict says why it is not a test, with what was measured."""
    ctx = report.Context(_runs("lstm_fb1", 50, 5) + _runs("elman", 50, 4))
    assert report.hochreiter(ctx, 50).endswith(
        f"T = 50: not tested (the claim is about lags T >= 100; measured: LSTM b_f = 1 {WON_5}, "
        "Elman 4/5 succeed (Wilson 95 % interval [0.376, 0.964])).")


def test_copy_verdict_needs_the_positive_control_to_solve_that_t():
    lstm = _runs("lstm_fb1", 100, 0, loss=0.95, task="copy")
    searched = _searched(lstm, "lstm_fb1")
    solved = report.Context(lstm + _runs("urnn", 100, 5, task="copy"), searched)
    assert report.arjovsky(solved, 100).endswith(
        f"T = 100: reproduced (uRNN {WON_5}; LSTM, b_f = 1: 0/5 succeed within 5000 updates, "
        "median 0.95, rates 1e-05 … 0.1 (9), none succeeding within the search's 50 updates nor, every setting repeated, within 100 (its rate chosen by final loss at 100)).")
    for urnn in (0, 4):  # the control fails, or is open: the LSTM's failure says nothing
        failed = report.Context(lstm + _runs("urnn", 100, urnn, task="copy"), searched)
        assert f"T = 100: not tested (the positive control did not solve T = 100: uRNN " \
               f"(unitary): {urnn}/5 succeed within 5000 updates" in report.arjovsky(failed, 100)
    learned = report.Context(_runs("lstm_fb1", 100, 5, task="copy")
                             + _runs("urnn", 100, 5, task="copy"))
    assert "T = 100: not reproduced (LSTM, b_f = 1: 5/5 succeed" in report.arjovsky(learned, 100)


def test_truncation_verdict_on_adding_late_and_the_plain_ablation_as_measured():
    rows = (_runs("lstm_fb1", 100, 0, ablation="tbptt_late_k20", task="adding_late")
            + _runs("lstm_fb1", 100, 5, ablation="late_full", task="adding_late")
            + _rows("lstm_fb1", 100, [0.05] * 3, [50] * 3, ablation="tbptt_k20")
            + _rows("lstm_fb1", 100, [0.02] * 3, [50] * 3))
    grid = _grid("adding_late", 100, "lstm_fb1", lr=1e-3)
    late, plain = report.truncation(report.Context(rows, [grid]), 100, 20)
    assert late.endswith(f"T = 100: reproduced (full BPTT {WON_5}; truncated: LSTM, b_f = 1: 0/5 "
                         "succeed within 5000 updates, median 0.9, rates 1e-05 … 0.1 (9), none succeeding within the search's 50 updates nor, every setting repeated, within 100 (its rate chosen by final loss at 100); "
                         "the rates were searched for the full-BPTT control).")
    # the control does not learn: the claim is not tested; truncation learning refutes it anyway
    no_control = [r for r in rows if r["ablation"] != "late_full"] + _runs(
        "lstm_fb1", 100, 0, loss=0.95, ablation="late_full", task="adding_late")
    late = report.truncation(report.Context(no_control), 100, 20)[0]
    assert "T = 100: not tested (the full-BPTT control did not learn adding_late: " \
           "LSTM, b_f = 1: 0/5 succeed within 5000 updates, median 0.95" in late
    learns = [r for r in no_control if r["ablation"] != "tbptt_late_k20"] + _runs(
        "lstm_fb1", 100, 5, ablation="tbptt_late_k20", task="adding_late")
    assert report.truncation(report.Context(learns), 100, 20)[0].endswith(
        f"T = 100: not reproduced (truncated BPTT learns: {WON_5}).")
    assert "falls in the last 20 steps in 40% of sequences" in plain
    assert "k = 20 0.05 vs full BPTT 0.02" in plain
    # seeds added to the main cell (stage more) are not the ablation's: the comparison is paired
    more = [{**r, "seed": r["seed"] + 5} for r in _rows("lstm_fb1", 100, [0.9] * 4)]
    plain = report.truncation(report.Context(rows + more, [grid]), 100, 20)[1]
    assert "k = 20 0.05 vs full BPTT 0.02" in plain
    assert "| LSTM, b_f = 1, as in the sweep | 0.02 [0.02, 0.02] |" in tables.ablation_table(
        rows + more, {"lstm_fb1": "LSTM, b_f = 1"})
    # the cell rerun with twice the budget (stage longer): the ablation is compared with the runs
    # at its own budget, which the longer ones replaced in the rows
    plain_rows = [r for r in rows if r["ablation"] is None]
    longer = [{**r, "budget": 2 * r["budget"], "loss_over_baseline": 0.01} for r in plain_rows]
    ctx = report.Context([r for r in rows if r["ablation"] is not None] + longer, [grid],
                         replaced=plain_rows)
    assert "k = 20 0.05 vs full BPTT 0.02" in report.truncation(ctx, 100, 20)[1]


def test_logistic_fit_solves_the_score_equations_and_refuses_separated_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = (rng.uniform(size=200) < 1 / (1 + np.exp(-(0.5 + 2 * x)))).astype(float)
    slope, lo, hi = jacobian_fit.logistic_fit(x, y)
    assert lo < slope < hi and lo < 2 < hi
    # the maximum-likelihood fit has sum(y - p) = 0 = sum((y - p) x) at its (a, b)
    xs = (x - x.mean()) / x.std()
    b = slope * x.std()
    a = math.log(y.mean() / (1 - y.mean()))
    for _ in range(100):  # solve sum(y - p) = 0 for a at the returned slope (bisection-free)
        p = 1 / (1 + np.exp(-(a + b * xs)))
        a += np.sum(y - p) / np.sum(p * (1 - p))
    p = 1 / (1 + np.exp(-(a + b * xs)))
    assert abs(np.sum((y - p) * xs)) < 1e-6 * len(x)
    assert jacobian_fit.logistic_fit([0, 1, 2, 3], [0, 0, 1, 1]) is None  # separated
    assert jacobian_fit.logistic_fit([0, 1, 2], [1, 1, 1]) is None  # all alike
    line = jacobian_fit.jacobian_relation(_rows("gru", 10, [0.01, 0.9, 0.02, 0.9], [10, None, 10, None]))
    assert line.startswith("Success against the initial log ||dh_T/dh_0||")
    assert "gru (2/4 succeed, log-Jacobian -3 … 0): slope" in line


def test_where_elman_fails_its_loss_is_compared_with_the_constant_on_the_same_test_set():
    rows = (_runs("elman", 10, 5, const=1.2)  # learns: left out
            + _rows("elman", 20, [0.9, 0.92, 0.94, 0.96, 0.91], const=0.91, jac=-10.0)
            + _rows("elman", 40, [1.004, 1.002, 1.012, 1.0, 1.02], const=1.005, jac=-30.0))
    # only failures that count (under the default protocol's budget and rate search)
    assert not any(x.startswith("Where") for x in report.statements(rows, n_test=100))
    grids = _searched(rows, "elman")
    (line,) = [x for x in report.statements(rows, grids, n_test=100) if x.startswith("Where")]
    assert line.startswith("Where the tanh RNN fails (T = 20, 40), its median final loss / "
                           "baseline (0.920, 1.004) against the constant prediction's on the "
                           "same test set (0.910, 1.005): the constant's is inside the median's "
                           "interval at every such T (intervals of coverage 93.75 %, 93.75 %).")
    sd = math.sqrt((2.4 - 1) / 100)  # Var((y-1)^2) / Var(y)^2 = E(y-1)^4 / (1/6)^2 - 1 = 1.4
    assert line.endswith(f"standard deviation sqrt(1.4 / 100) = {sd:.1%}.")
    assert not any(x.startswith("Where") for x in report.statements(rows[:5]))  # fails nowhere
    assert floors.at_constant(rows, [], 100) == ""
    above = [{**r, "constant_loss_over_baseline": 0.97} if r["T"] == 20 else r for r in rows]
    assert "outside the median's interval at T = 20" in floors.at_constant(above, [20, 40], 100)


def test_the_kurtosis_of_the_adding_target_is_2_4():
    y = np.random.default_rng(0).uniform(size=(2, 400_000)).sum(0) - 1.0
    assert np.mean(y**4) / np.var(y) ** 2 == pytest.approx(floors.ADDING_KURTOSIS, rel=0.01)


def test_loss_table_counts_non_finite_runs_and_the_readme_says_what_they_mean(tmp_path):
    rows = _rows("gru", 5, [0.1, None, 0.3]) + _rows("gru", 10, [None, None, None])
    table = tables.loss_table(rows, "adding", {"gru": "GRU"})
    assert "| 5 | 0.2 [0.1, 0.3] (1/3 non-finite) |" in table
    assert "| 10 | – (3/3 non-finite) |" in table
    (tmp_path / "summary.json").write_text(json.dumps({"complete": True, "rows": rows}))
    text = report.readme_table(tmp_path)
    assert "– (k/n non-finite): every run's final loss was non-finite" in text
    assert "a number followed by (k/n non-finite)" in text and "not run" not in text
    finite = _rows("gru", 5, [0.1, 0.2, 0.3])
    (tmp_path / "summary.json").write_text(json.dumps({"complete": True, "rows": finite}))
    assert "non-finite" not in report.readme_table(tmp_path)


@pytest.fixture
def figures(monkeypatch):
    """The figures the plotting functions would save, kept open for inspection."""
    import matplotlib

    from experiments.longrange import plots

    matplotlib.use("Agg")
    saved = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: saved.append(fig))
    yield saved
    import matplotlib.pyplot as plt

    for fig in saved:
        plt.close(fig)


def _panels(fig):
    return [ax for ax in fig.axes if ax.axison]


def test_diverged_medians_sit_on_the_capped_top_edge_and_copy_is_linear(figures):
    from experiments.longrange import plots

    copy = [{**r, "task": "copy"} for r in _rows("gru", 10, [0.9, 0.95, 1.0])]
    rows = (_rows("irnn", 10, [0.01, 0.02, 0.03]) + _rows("irnn", 20, [None, 1e22, 1e25])
            + _rows("gru", 10, [0.01] * 3) + _rows("gru", 20, [0.02] * 3) + copy)
    plots.loss_vs_t(rows, None)
    adding, copy_ax = _panels(figures[-1])
    assert adding.get_yscale() == "log" and adding.get_ylim()[1] == 100.0
    tops = [o for c in adding.collections if len(o := c.get_offsets())]
    # one triangle: the IRNN at T = 20 (x offset by its model's factor), y on the top edge
    assert [(round(x / 20, 2), y) for o in tops for x, y in o if y == 100.0] == [(0.99, 100.0)]
    assert copy_ax.get_yscale() == "linear" and copy_ax.get_ylim()[1] < 1.1
    labels = figures[-1].axes[-1].get_legend().get_texts()
    assert "diverged (non-finite or > 100 x baseline)" in [t.get_text() for t in labels]


def test_learning_time_and_ablations_draw_only_panels_with_data(figures):
    from experiments.longrange import plots

    copy = [{**r, "task": "copy"} for r in _rows("gru", 10, [0.9] * 3)]
    rows = _rows("gru", 10, [0.01] * 3, [20, 30, 40]) + copy
    assert plots.learning_time_vs_t(rows, None)
    assert len(_panels(figures[-1])) == 1 and "copy task: no seed succeeds" in \
        figures[-1]._suptitle.get_text()
    assert not plots.learning_time_vs_t(copy, None)
    abl = _rows("lstm_fb1", 10, [0.1] * 3, ablation="no_clip") + _rows("lstm_fb1", 10, [0.01] * 3)
    # seeds 3..6 added to the plain cell (stage more) are not the ablation's: not drawn
    more = [{**r, "seed": r["seed"] + 3} for r in _rows("lstm_fb1", 10, [0.9] * 4)]
    assert plots.ablations(abl + more + copy, None)
    (ax,) = _panels(figures[-1])
    assert ax.get_title().startswith("adding problem")
    drawn = sorted({float(y) for line in ax.lines for y in np.atleast_1d(line.get_ydata())})
    assert drawn == pytest.approx([0.01, 0.1, 1.0])  # the model on the ablation's seeds, the ablation, baseline


def test_an_ablation_is_paired_with_its_model_on_its_own_seeds():
    plain = _rows("elman", 100, [0.5] * 10) + _rows("elman", 200, [0.5] * 10)
    abl = _rows("elman", 100, [0.9] * 5, ablation="no_clip")
    kept = summary.paired_with_ablations(plain + abl)
    assert sorted((r["T"], r["seed"]) for r in kept if r["ablation"] is None) == \
        [(100, s) for s in range(5)] + [(200, s) for s in range(10)]
    assert [r for r in kept if r["ablation"]] == abl


def test_the_ablation_table_states_the_coverage_of_its_own_lines():
    """Each line of the ablation table is one (model, variant) on the ablation's seeds: a cell
    with 10 seeds next to a 5-seed ablation is drawn over those 5, so only 5 seeds' coverage is
    stated; a 3-seed ablation elsewhere adds its own level."""
    plain = _rows("elman", 100, [0.5] * 10) + _rows("lstm_fb1", 100, [0.1] * 3)
    abl = (_rows("elman", 100, [0.9] * 5, ablation="no_clip")
           + _rows("lstm_fb1", 100, [0.2] * 3, ablation="no_clip"))
    assert tables.ablation_coverage(plain + abl) == "75 % with 3 seeds, 93.75 % with 5 seeds"
    assert tables.ablation_coverage(plain) == ""
    table = tables.ablation_table(plain + abl, LABELS).splitlines()
    assert len(table) == 2 + 4 and table[2].startswith("| Elman (tanh), as in the sweep | 0.5 [0.5, 0.5]")


def test_the_linear_lru_is_compared_with_the_linear_floor_of_its_test_set():
    rows = [{**r, "linear_loss_over_baseline": 0.9}
            for r in _rows("lru", 50, [0.89, 0.9, 0.91]) + _rows("lru", 100, [0.95, 0.96, 0.97])]
    line = floors.at_linear_floor(rows)
    assert "T = 50: 0.9 [0.89, 0.91] vs 0.9; T = 100: 0.96 [0.95, 0.97] vs 0.9" in line
    assert line.endswith("the floor is inside the median's interval at T = 50, outside at "
                         "T = 100 (intervals of coverage 75 %, 75 %).")
    assert floors.at_linear_floor(_rows("lru", 50, [0.9] * 3)) == ""  # no floor recorded


def test_a_failure_counts_only_under_the_default_protocol():
    """A verdict resting on a model failing is "not tested" when that model had less than the
    default protocol: a shorter budget, an untuned rate, or a grid short of 1e-5 … 1e-1 in √10
    steps; it counts under that protocol, or a finer or wider one."""
    short = protocol.shortfall
    rows = _rows("lstm_fb1", 100, [0.9] * 3)
    assert short(rows, _grid("adding", 100, "lstm_fb1"), 100) == []
    assert short(rows, _grid("adding", 100, "lstm_fb1", rates=log_grid(1e-6, 1.0, 4)), 100) == []
    assert short(rows, None, 100) == ["an untuned rate"]
    gap = [r for r in log_grid(1e-5, 1e-1) if r != 1e-3]  # a factor 10 between two rates
    narrow = log_grid(1e-4, 1e-1)
    for rates in (gap, narrow):
        (why,) = short(rows, _grid("adding", 100, "lstm_fb1", rates=rates), 100)
        assert why.endswith("not spanning 1e-05 … 0.1 in steps of 3.16x or finer")
    few = _rows("lstm_fb1", 100, [0.9] * 3, budget=4999)
    assert short(few, _grid("adding", 100, "lstm_fb1"), 100) == [
        "a budget of 4999 updates (the default protocol's at T = 100: 5000)"]

    # each kind of verdict that rests on a failure: the LSTM failing (1997), Elman failing
    # (1997), a model not learning (Le et al.), the LSTM at the copy baseline, truncation failing
    hs97 = (_runs("lstm_fb1", 100, 0, budget=600) + _runs("elman", 100, 0, loss=0.97))
    ctx = report.Context(hs97, _searched(hs97, "lstm_fb1", "elman"))
    assert report.hochreiter(ctx, 100).endswith(
        "T = 100: not tested (LSTM, b_f = 1 failed with less than a failure needs to count: a "
        "budget of 600 updates (the default protocol's at T = 100: 5000)).")
    learned = _runs("lstm_fb1", 100, 5) + _runs("elman", 100, 0, loss=0.97)
    assert report.hochreiter(report.Context(learned), 100).endswith(
        "T = 100: not tested (Elman (tanh) failed with less than a failure needs to count: an "
        "untuned rate).")
    irnn = _runs("irnn", 100, 0, loss=0.5)
    assert "not tested (IRNN (ReLU, identity), Adam failed with less than a failure needs to " \
           "count: rates 0.001 … 0.01 (2)" in report.learns(
               report.Context(irnn, [_grid("adding", 100, "irnn", rates=(1e-3, 1e-2))]),
               "Le", "adding", "irnn", 100)
    copy = (_runs("lstm_fb1", 100, 0, loss=0.95, task="copy") + _runs("urnn", 100, 5, task="copy"))
    assert "not tested (LSTM, b_f = 1 failed" in report.arjovsky(report.Context(copy), 100)
    late = (_runs("lstm_fb1", 100, 0, ablation="tbptt_late_k20", task="adding_late")
            + _runs("lstm_fb1", 100, 5, ablation="late_full", task="adding_late"))
    assert "not tested (LSTM, b_f = 1, adding_late, truncated BPTT (k = 20) failed" in \
        report.truncation(report.Context(late), 100, 20)[0]


def test_a_failure_still_learning_at_its_budget_is_not_tested():
    """A failing cell counts only when its runs had stopped learning: the median over its runs
    without success of ``last_quarter_fall`` at most 10 %. Runs that succeeded, and runs whose
    final loss is not finite (no fall recorded), do not enter the median."""
    short = protocol.shortfall
    grid = _grid("adding", 200, "elman")
    elman = partial(_elman_falling, 200)

    plateau = elman([0.04, -0.01, 0.0, 0.02, 0.05])      # median 2 %
    assert short(plateau, grid, 200) == []
    assert short(elman([0.41, 0.4, 0.19, -0.01, 0.01]), grid, 200) == [
        "runs still learning when the budget ended (their test loss fell by a median 19% over "
        "the last quarter of their updates)"]
    assert short(elman([0.5, 0.5, None, None, 0.0], won=1), grid, 200)  # median of 3: 50 %
    assert short(elman([None] * 5), grid, 200) == []                    # diverged: no fall
    learning = _runs("lstm_fb1", 200, 5) + elman([0.41, 0.4, 0.19, -0.01, 0.01])
    ctx = report.Context(learning, _searched(learning, "lstm_fb1", "elman"))
    assert report.hochreiter(ctx, 200).endswith(
        "T = 200: not tested (Elman (tanh) failed with less than a failure needs to count: runs "
        "still learning when the budget ended (their test loss fell by a median 19% over the "
        "last quarter of their updates)).")
    ctx = report.Context(_runs("lstm_fb1", 200, 5) + plateau,
                         _searched(learning, "lstm_fb1", "elman"))
    assert "T = 200: reproduced" in report.hochreiter(ctx, 200)


def test_a_counted_failure_names_its_runs_still_learning_that_the_median_outvoted():
    """A failure that counts (median fall at most 10 %, and its runs still falling could not turn
    it) still names those runs (a success never is one)."""
    rows = _runs("lstm_fb1", 400, 10, n=10) + _runs("elman", 400, 0, n=10, loss=0.5)
    for r, f in zip(rows[10:], [0.59] + [0.0] * 9, strict=True):
        r["last_quarter_fall"] = f
    rows[0]["last_quarter_fall"] = 0.9  # a success: not a failing run
    assert [r["last_quarter_fall"] for r in protocol.still_falling(rows)] == [0.59]
    ctx = report.Context(rows, _searched(rows, "lstm_fb1", "elman"))
    assert protocol.shortfall(ctx.cell("adding", 400, "elman"), ctx.grids[("adding", 400, "elman")],
                              400) == []  # 1/10 would still fail: the failure counts
    assert "Elman (tanh): 0/10 succeed within 20000 updates, median 0.5 (1 of its 10 failing " \
           "runs still falling by more than 10% over their last quarter), rates" in \
        ctx.exhausted("adding", 400, "elman")
    assert "T = 400: reproduced" in report.hochreiter(ctx, 400)
    assert "still falling" not in ctx.exhausted("adding", 400, "lstm_fb1")


def test_a_failure_that_its_runs_still_falling_could_turn_is_not_tested():
    """Besides the median rule: a cell that fails (Wilson interval below ½) but would not with
    its failing runs still falling faster than 10 % counted as successes is still learning;
    where they could not turn it (or the cell does not fail), the median alone decides."""
    grid = _grid("adding", 400, "elman")
    elman = partial(_elman_falling, 400)

    two_of_five = elman([0.59, 0.21, 0.05, 0.0, 0.02])      # median 5 %; 2/5 holds ½
    assert protocol.still_learning(two_of_five)
    assert protocol.shortfall(two_of_five, grid, 400) == [
        "2 of its 5 failing runs still learning when the budget ended (each falling by more "
        "than 10% over its last quarter): counted as successes, the cell would not fail"]
    one_of_five = elman([0.3, 0.0, 0.0, 0.01, -0.02])        # 1/5: Wilson [0.036, 0.624]
    assert protocol.still_learning(one_of_five)
    one_of_ten = elman([0.3] + [0.0] * 9)                    # 1/10: Wilson [0.018, 0.404]
    assert not protocol.still_learning(one_of_ten)
    assert protocol.shortfall(one_of_ten, grid, 400) == []
    assert not protocol.still_learning(elman([0.0] * 5))
    opened = elman([0.3, 0.0, 0.0], won=2)                   # 2/5 is open, not a failure
    assert not protocol.still_learning(opened)
    ctx = report.Context(_runs("lstm_fb1", 400, 10, n=10) + two_of_five,
                         _searched(_runs("lstm_fb1", 400, 1) + two_of_five, "lstm_fb1", "elman"))
    assert "T = 400: not tested (Elman (tanh) failed with less than a failure needs to count: 2 " \
           "of its 5 failing runs still learning" in report.hochreiter(ctx, 400)


def test_chrono_against_b_f_1_is_a_paired_comparison_of_updates_to_success():
    """Tallec & Ollivier's claim is judged on updates to success, paired by seed (b_f = 1 minus
    chrono): reproduced when the median difference's interval lies above 0, not reproduced below
    it, not resolved when it holds 0. A run without success
    counts as its budget + 1, so its difference keeps its sign; two failures are a tie."""
    from experiments.longrange.summary import paired_difference

    fb1 = _rows("lstm_fb1", 100, [0.05] * 4 + [0.9], [500, 400, 1900, 300, None])
    chrono = _rows("lstm_chrono", 100, [0.05] * 5, [100, 300, 100, 100, 100])
    # seeds in another order: pairs are by seed, not by position
    med, lo, hi, level, n, censored = paired_difference(fb1, chrono[::-1])
    diffs = sorted([400, 100, 1800, 200, 5000 + 1 - 100])
    assert (med, lo, hi, n, censored) == (diffs[2], diffs[0], diffs[-1], 5, 1)
    assert level == pytest.approx(1 - 2 / 2**5)
    both_fail = _rows("lstm_fb1", 100, [0.9], [None]), _rows("lstm_chrono", 100, [0.9], [None])
    assert paired_difference(*both_fail)[:3] == (0.0, 0.0, 0.0)

    ctx = report.Context(fb1 + chrono)
    assert report.tallec(ctx, 100).endswith(
        "T = 100: reproduced (updates to success, b_f = 1 − chrono, median over 5 paired seeds "
        "400 [100, 4901] (coverage 93.75 %); pairs holding a run without success: 1, each counted as "
        "budget + 1).")
    mixed = _rows("lstm_chrono", 100, [0.05] * 5, [100, 300, 100, 400, 100])
    open_ = report.tallec(report.Context(fb1 + mixed), 100)
    assert ": not resolved (updates to success" in open_ and open_.endswith(
        "[-100, 4901] (coverage 93.75 %); pairs holding a run without success: 1, each counted as "
        "budget + 1: the interval holds 0; more seeds would decide).")
    spent = report.tallec(report.Context(fb1 + mixed, sweep={"adding": {"open_seeds": 5}}), 100)
    assert spent.endswith("the interval holds 0; the protocol's 5 paired seeds are spent).")
    planned = [{"task": "adding", "T": 100, "model": "lstm_chrono", "ablation": "more_seeds"}]
    assert report.tallec(report.Context(fb1 + mixed, (), planned), 100).endswith(
        "the interval holds 0; LSTM, chrono init: its added seeds are not yet run).")
    slower = _rows("lstm_chrono", 100, [0.05] * 4 + [0.9], [600, 500, 2000, 400, None])
    assert report.tallec(report.Context(fb1[:4] + slower[:4]), 100).endswith(
        "median over 4 paired seeds -100 [-100, -100] (coverage 87.5 %): b_f = 1 is faster).")
    assert ": not reproduced (" in report.tallec(report.Context(fb1[:4] + slower[:4]), 100)
    # the verdict hinges on both cells exactly when it is not resolved
    cells = {("adding", 100, "lstm_fb1"), ("adding", 100, "lstm_chrono")}
    assert report.paired_open(fb1 + mixed, 100) == cells
    assert report.paired_open(fb1 + chrono, 100) == set()
    assert report.paired_open(fb1[:4] + slower[:4], 100) == set()
    assert report.paired_open(fb1, 100) == set()  # no pairs
    neither = _rows("lstm_fb1", 100, [0.9] * 3) + _rows("lstm_chrono", 100, [0.9] * 3)
    assert report.paired_open(neither, 100) == set()
    assert ": not tested (neither succeeds: LSTM, chrono init: 0/3" in report.tallec(
        report.Context(neither), 100)


def test_the_headline_counts_successes_and_updates_to_success_not_final_losses():
    from experiments.longrange import plots

    rows = [{**r, "success_ratio": 0.1} for r in
            _rows("lstm_fb1", 50, [0.05, 0.06, 0.07], [200, 100, 300])
            + _rows("elman", 50, [0.09, 0.9, 0.95], [1700, None, None])
            + _rows("elman", 100, [0.9] * 3) + _rows("gru", 50, [0.01] * 3, [100] * 3)]
    assert plots.headline(rows, False) == (
        "adding: seeds that reach test loss <= 0.1 x baseline within the budget, in a median of "
        "so many updates (partial sweep) — LSTM, b_f = 1: T=50: 3/3 in 200; Elman (tanh): "
        "T=50: 1/3 in 1700, T=100: 0/3")
    assert plots.headline(_rows("gru", 50, [0.01] * 3, [100] * 3), True).endswith(
        "updates — GRU: T=50: 3/3 in 100")  # neither LSTM nor Elman run: every model shown


def test_curves_of_one_cell_from_two_programs_share_one_axis_of_evaluations():
    """A cell's added seeds (stage more) are another program, which may stop earlier: its
    curves hold their last (frozen) value to the end of the longest; other steps are refused."""
    from experiments.longrange import plots

    long = {"steps": [50, 100, 150], "loss_over_baseline": [1.0, 0.5, 0.05]}
    short = {"steps": [50], "loss_over_baseline": [0.08]}
    diverged = {"steps": [50, 100], "loss_over_baseline": [2.0, None]}
    steps, y = plots._aligned([long, short, diverged])
    assert steps == [50, 100, 150]
    np.testing.assert_array_equal(y, [[1.0, 0.5, 0.05], [0.08] * 3, [2.0, np.nan, np.nan]])
    with pytest.raises(ValueError, match="different updates"):
        plots._aligned([long, {"steps": [40], "loss_over_baseline": [1.0]}])


def test_the_error_rate_of_the_seed_design_is_stated_per_design():
    task = {"models": ["elman"], "seeds": 5, "open_seeds": 10, "headline_models": ["irnn"],
            "headline_lengths": [400], "headline_seeds": 10}
    text = errors.error_rates({"adding": task, "copy": {**task, "headline_models": []},
                               "adding_hs97": {**task, "models": []}})
    # 1/32 + (5/32)(1/32) and 11/1024, written out
    assert text.endswith("5 seeds, then 10 where open (adding cells, copy cells): 3.6 %; "
                         "10 seeds (adding headline cells): 1.1 %.")
    three = errors.error_rates({"adding": {**task, "seeds": 3, "open_seeds": 0,
                                           "headline_models": []}})
    assert "3 seeds (adding cells): 0 % (no count out of 3 excludes ½" in three
    assert errors.error_rates({}) == ""
    # one doubling of the budget: two looks at the cell, at most twice the worst design's rate
    doubled = errors.error_rates({"adding": {**task, "longer": 1}})
    assert doubled.endswith("judged at up to 2 budgets, the rerun decided by the first look: "
                            "its error rate is at most the sum over the looks (a union bound), "
                            "≤ 7.2 %.")
    assert "union bound" not in text and "union bound" not in errors.error_rates(
        {"adding": {**task, "longer": 0}})
    lstms = {**task, "models": ["lstm_fb1", "lstm_chrono"],
             "headline_models": ["lstm_fb1", "lstm_chrono"]}
    # the sign test of the paired chrono comparison: 5/5 positive, or 4/5 then 5/5; 9/10 or more
    assert errors.error_rates({"adding": lstms}, report.PAIRED).endswith(
        "Error rate of the paired chrono comparison (a sign test, ties counted against the claim, at "
        "a median difference of 0): 5 pairs, then 10 where it holds 0: ≤ 3.6 %; "
        "10 pairs (T = 400): ≤ 1.1 %.")
    assert "paired" not in errors.error_rates({"adding": {**lstms, "models": ["lstm_fb1"]}},
                                              report.PAIRED)
    assert "paired" not in errors.error_rates({"adding": lstms})


def test_a_rate_search_text_names_its_inits_edge_and_a_search_without_success():
    grid = _grid("adding", 400, "elman", lr=1e-3, rates=log_grid(1e-5, 1e-1))
    del grid["full_budget"]
    grid["grid"] += [dict(g, recurrent_init="gaussian") for g in grid["grid"]]
    assert tables.grid_text(grid) == ("rates 1e-05 … 0.1 (9) × 2 inits, none succeeding within "
                                      "the search's 50 updates (its rate chosen by final loss)")
    grid["grid"][3]["successes"] = 1                          # one success: chosen by success
    assert tables.grid_text(grid) == "rates 1e-05 … 0.1 (9) × 2 inits"
    edge = _grid("adding", 800, "gru", rates=log_grid(1e-5, 1e-1), at_edge=True)
    edge["grid"][-1]["successes"] = 3
    assert tables.grid_text(edge) == ("rates 1e-05 … 0.1 (9) (chosen rate at the edge: the "
                                      "grid's limit)")
    assert tables.grid_text(None) == "an untuned rate"


def test_a_failure_whose_rate_was_chosen_by_loss_counts_only_after_the_repeated_search():
    rows = _runs("lstm_fb1", 400, 5) + _runs("elman", 400, 0, loss=0.97)
    grid = _searched(rows, "elman")
    assert report.hochreiter(report.Context(rows, grid), 400).startswith(
        "Hochreiter & Schmidhuber 1997 (LSTM learns, tanh RNN fails), T = 400: reproduced")
    del grid[0]["full_budget"]
    assert report.hochreiter(report.Context(rows, grid), 400).endswith(
        "T = 400: not tested (Elman (tanh) failed with less than a failure needs to count: a "
        "rate chosen by final loss (no setting succeeded within the search's 50 updates), and "
        "the search at 20000 updates not yet run).")


def test_the_rates_table_marks_a_rate_chosen_by_loss_and_the_repeated_search():
    searched = _grid("adding", 400, "elman", lr=1e-3)
    won = _grid("adding", 400, "gru", lr=0.1)
    del won["full_budget"]
    won["grid"][-1]["successes"] = 2
    table = tables.rates_table([searched, won], LABELS)
    assert "| adding | Elman (tanh) | 0.001 (0/2) by loss at 100, repeated at 100: 0/18 |" in table
    del searched["full_budget"]
    assert "| adding | Elman (tanh) | 0.001 (0/2) by loss |" in tables.rates_table([searched], LABELS)
    assert "| adding | GRU | 0.1 (2/2) |" in table


def test_no_verdict_rests_on_a_failure_whose_rate_was_chosen_by_loss_alone():
    """Each claim, decided by one model failing whose search saw no success and was not repeated
    at the reported budget, is not tested: every such model is in ``CLAIMED_FAILURES``, so the
    sweep repeats its search."""
    def ctx(rows):
        grids = _searched(rows, *{r["model"] for r in rows})
        for g in grids:
            del g["full_budget"]
        return report.Context(rows, grids)

    adding = {m: _runs(m, 400, 5) for m in ("lstm_fb1", "elman")}
    verdicts = [
        report.hochreiter(ctx(adding["lstm_fb1"] + _runs("elman", 400, 0)), 400),
        report.hochreiter(ctx(_runs("lstm_fb1", 400, 0) + _runs("elman", 400, 0)), 400),
        report.arjovsky(ctx(_runs("urnn", 400, 5, task="copy")
                            + _runs("lstm_fb1", 400, 0, task="copy")), 400),
        report.learns(ctx(_runs("urnn", 400, 0, task="copy")), "control", "copy", "urnn", 400),
        *(report.learns(ctx(_runs(m, 400, 0)), "claim", "adding", m, 400)
          for m in ("irnn", "irnn_sgd", "lru_block"))]
    for v in verdicts:
        assert ": not tested (" in v and "a rate chosen by final loss" in v, v
    assert {m for _, m in protocol.CLAIMED_FAILURES} == {
        "elman", "lstm_fb1", "urnn", "irnn", "irnn_sgd", "lru_block"}
