"""The long-range figures mark the cells whose failures do not count yet, as the verdicts do."""

import matplotlib
import pytest

from experiments.longrange import plots, protocol, training_plots
from experiments.longrange.config import log_grid
from tests.tasks.test_longrange_report import _grid, _runs

matplotlib.use("Agg")


@pytest.fixture
def saved(monkeypatch):
    import matplotlib.pyplot as plt

    figs = []
    for module in (plots, training_plots):
        monkeypatch.setattr(module, "save_figure", lambda fig, path: figs.append(fig))
    yield figs
    for fig in figs:
        plt.close(fig)


def _cells():
    """Elman fails with a short budget (does not count), the GRU fails under the full protocol
    (counts), the LSTM succeeds (nothing to count), the IRNN half succeeds at an untuned rate
    (its failures do not count), an ablation that fails short is not a main-sweep cell, and the
    chrono LSTM learns (9/10) with one failure at a short budget: not marked."""
    rows = (_runs("elman", 100, 0, budget=600) + _runs("gru", 100, 0) + _runs("lstm_fb1", 100, 5)
            + _runs("irnn", 100, 2) + _runs("lstm_fb1", 100, 0, ablation="no_clip", budget=600)
            + _runs("lstm_chrono", 100, 9, n=10, budget=600))  # learns: its one failure is moot
    grids = [_grid("adding", 100, m) for m in ("elman", "gru", "lstm_fb1")]
    return rows, grids


def test_uncounted_failures_are_the_main_cells_the_verdicts_call_not_tested():
    rows, grids = _cells()
    assert protocol.uncounted_failures(rows, grids) == {("adding", "elman", 100),
                                                        ("adding", "irnn", 100)}
    # a grid short of the default protocol's makes the GRU's failure uncounted as well
    narrow = [g for g in grids if g["model"] != "gru"] + [
        _grid("adding", 100, "gru", rates=log_grid(1e-3, 1e-1))]
    assert ("adding", "gru", 100) in protocol.uncounted_failures(rows, narrow)


def test_success_figures_draw_uncounted_cells_hollow_and_dashed(saved):
    rows, grids = _cells()
    plots.success_vs_t(rows, grids, None)
    hollow = {(ax.get_title(), line.get_markeredgecolor())
              for ax in saved[-1].axes for line in ax.lines if line.get_markerfacecolor() == "white"}
    from experiments.longrange.style import COLORS

    assert {c for _, c in hollow} == {COLORS["elman"], COLORS["irnn"]}
    legend = [t.get_text() for ax in saved[-1].axes if ax.get_legend()
              for t in ax.get_legend().get_texts()]
    assert "not learning, its failures not counting yet (not tested)" in legend

    assert training_plots.success_vs_sequences(rows, grids, None)
    (ax,) = [a for a in saved[-1].axes if a.get_title()]
    styles = {line.get_label(): line.get_linestyle() for line in ax.lines}
    assert styles["Elman (tanh)"] == "--" and styles["IRNN (ReLU, identity), Adam"] == "--"
    assert styles["GRU"] == "-" and styles["LSTM, b_f = 1"] == "-"
    # with every failure counted, nothing is marked and the legend has no such entry
    counted = [r for r in rows if r["model"] in ("gru", "lstm_fb1")]
    plots.success_vs_t(counted, grids, None)
    assert not [line for ax in saved[-1].axes for line in ax.lines
                if line.get_markerfacecolor() == "white"]
