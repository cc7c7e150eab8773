"""The long-range study's README statements and table legends, on small synthetic rows."""

import json
import math

import numpy as np
import pytest

from experiments.longrange import report


def _rows(model, T, losses, steps=None, jac=0.0, lr=0.01, ablation=None, budget=100, const=1.0):
    """One row per seed: final loss / baseline (None: non-finite) and updates to success."""
    steps = steps or [None] * len(losses)
    return [{"task": "adding", "ablation": ablation, "T": T, "model": model, "seed": s, "lr": lr,
             "loss_over_baseline": x, "constant_loss_over_baseline": const,
             "steps_to_success": t, "success": t is not None,
             "diverged": x is None or x > 100.0, "init_log_jacobian": jac - s, "steps": budget}
            for s, (x, t) in enumerate(zip(losses, steps, strict=True))]


def _hs97_rows(lstm_at_40):
    return (_rows("lstm_fb1", 10, [0.01] * 3, [10, 20, 30], jac=-1.0)
            + _rows("lstm_fb1", 20, [0.02] * 3, [30, 50, 70], jac=-5.0)
            + _rows("lstm_fb1", 40, lstm_at_40, [90, None, None], jac=-20.0)
            + _rows("elman", 10, [0.05] * 3, [50] * 3)
            + _rows("elman", 20, [0.95] * 3) + _rows("elman", 40, [0.97] * 3))


def test_hochreiter_reports_the_longest_t_and_the_learning_time_beyond():
    line = report.hochreiter(_hs97_rows([0.05, 0.9, 0.95]), [10, 20, 40])
    # T = 10: Elman learns too (0.05 < 0.5); T = 20: LSTM 0.02 vs Elman 0.95; T = 40: LSTM 0.9
    assert "reproduced up to T = 20 (LSTM b_f = 1 0.02 vs Elman 0.95)" in line
    assert "at T = 40 not within 100 updates (median 0.9)" in line
    # medians over the seeds that succeed: (10, 20, 30) -> 20, (30, 50, 70) -> 50, (90) -> 90
    assert "grow with T: 20, 50, 90 at T = 10, 20, 40" in line
    assert "3/3, 3/3, 1/3 at T = 10, 20, 40" in line
    # initial log-Jacobian medians over seeds jac - (0, 1, 2): jac - 1
    assert "log ||dh_T/dh_0|| is -2, -6, -21." in line


def test_hochreiter_without_a_longer_failure_and_when_never_reproduced():
    assert report.hochreiter(_hs97_rows([0.05] * 3), [10, 20, 40]).endswith(
        "reproduced up to T = 40 (LSTM b_f = 1 0.05 vs Elman 0.97).")
    rows = [r for r in _hs97_rows([0.05] * 3) if r["model"] == "lstm_fb1"] + _rows(
        "elman", 10, [0.05] * 3) + _rows("elman", 20, [0.2] * 3) + _rows("elman", 40, [0.3] * 3)
    assert report.hochreiter(rows, [10, 20, 40]).endswith("not reproduced at any T.")


def test_le_lists_every_t_and_names_diverged_runs_and_the_tuned_rate():
    rows = (_rows("irnn", 10, [0.01, 0.02, None], [20, 30, None], lr=0.003)
            + _rows("irnn", 20, [None] * 3, lr=0.003)
            + _rows("irnn", 40, [None, 1e22, 1e25], lr=0.003)
            + _rows("irnn", 10, [0.01, 0.5, 0.01], ablation="tune", lr=0.003)
            + _rows("irnn", 10, [None, 0.5, 0.01], ablation="tune", lr=0.01))
    line = report.le(rows, [10, 20, 40], {"irnn": {"lr": 0.003, "init": "default"}})
    assert "T = 10: 0.015 (67% of seeds succeed; 1/3 diverged)" in line
    assert "T = 20: diverged (3/3 non-finite)" in line
    assert "T = 40: diverged (1/3 non-finite, 2/3 > 100 x baseline)" in line
    # the non-finite tuning run is at lr 0.01, not at the chosen 0.003
    assert line.endswith("learns up to T = 10; diverges at T = 20, 40 at the tuned Adam learning "
                         "rate 0.003 (chosen at T = 10, where none of its 3 runs at that rate "
                         "diverged).")


def test_where_elman_fails_its_loss_is_compared_with_the_constant_on_the_same_test_set():
    rows = (_rows("elman", 10, [0.05] * 3, const=1.2)  # learns: left out
            + _rows("elman", 20, [0.9, 0.92, 0.94], const=0.91, jac=-10.0)
            + _rows("elman", 40, [1.004, 1.002, 1.012], const=1.005, jac=-30.0))
    line = report.at_constant(rows, [10, 20, 40], n_test=100)
    assert line.startswith("Where the tanh RNN fails (T = 20, 40), it learns only the constant")
    # medians 0.92 and 1.004 against 0.91 and 1.005: the larger relative gap is 0.01 / 0.91
    assert "(0.920, 1.004) equals the constant prediction's on the same test set (0.910, 1.005) " \
        f"within {0.01 / 0.91:.1%}; the constant's is inside the median's 95 % bootstrap " \
        "interval at every T." in line
    assert "log ||dh_T/dh_0|| is -11, -31:" in line and "e^-31 at T = 40" in line
    sd = math.sqrt((2.4 - 1) / 100)  # Var((y-1)^2) / Var(y)^2 = E(y-1)^4 / (1/6)^2 - 1 = 1.4
    assert line.endswith(f"differs from 1 by up to 9.0%: the sampling error of one test set of "
                         f"100 sequences per T, whose standard deviation is sqrt(1.4 / 100) = "
                         f"{sd:.1%}.")
    assert report.at_constant(rows, [10, 20, 40], None).endswith("steps back).")
    assert report.at_constant(rows[:3], [10], 100) == ""  # it fails nowhere
    # above every seed's loss at T = 20 (0.9 .. 0.94): outside the interval there
    above = [{**r, "constant_loss_over_baseline": 0.95} if r["T"] == 20 else r for r in rows]
    line = report.at_constant(above, [10, 20, 40], 100)
    assert line.startswith("Where the tanh RNN fails (T = 20, 40), it ends near the constant")
    assert f"(0.950, 1.005) by at most {0.03 / 0.95:.1%}; the constant's is outside the median's 95 % bootstrap " \
        "interval at T = 20." in line
    old = [{k: v for k, v in r.items() if k != "constant_loss_over_baseline"} for r in rows]
    assert report.at_constant(old, [10, 20, 40], 100) == ""  # a summary without the field


def test_the_kurtosis_of_the_adding_target_is_2_4():
    y = np.random.default_rng(0).uniform(size=(2, 400_000)).sum(0) - 1.0
    assert np.mean(y**4) / np.var(y) ** 2 == pytest.approx(report.ADDING_KURTOSIS, rel=0.01)


def test_loss_table_counts_non_finite_runs_and_the_readme_says_what_they_mean(tmp_path):
    rows = _rows("gru", 5, [0.1, None, 0.3]) + _rows("gru", 10, [None, None, None])
    table = report.loss_table(rows, "adding", {"gru": "GRU"})
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
    assert plots.ablations(abl + copy, None)
    (ax,) = _panels(figures[-1])
    assert ax.get_title().startswith("adding problem")
