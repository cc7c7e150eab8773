"""A reported run that diverged in float32 is rerun in float64 before its failure counts.

A gradient whose 2-norm overflows float32 freezes a run (the non-finite guard skips every update
from then on); the float64 rerun is the same run (same draws, same sequences) in a format where
it does not, and it replaces the float32 run in the tables.
"""

import json
from functools import partial

import jax
import numpy as np
import pytest

from experiments import longrange
from experiments.longrange import precision, protocol, summary, tables
from experiments.longrange.config import PRESETS
from experiments.longrange.plan import Group, Member
from experiments.longrange.sweep import train_group
from experiments.longrange.tasks import make_task
from tests.tasks.test_longrange import TINY

IRNN = TINY + ["--sweep.adding.models", "irnn", "--ablations.kinds", "--steps", "8",
               "--sweep.adding.seeds", "2", "--sweep.adding.open-seeds", "0"]
"""A tiny untuned IRNN sweep: 2 seeds, 8 updates."""


@pytest.mark.parametrize("name,T", [("adding", 12), ("adding_hs97", 12), ("adding_late", 50),
                                    ("copy", 6)])
def test_the_tasks_draw_the_same_sequences_whatever_the_x64_flag(name, T):
    narrow = make_task(name, T).sample(jax.random.key(5), 3)
    with jax.enable_x64(True):
        wide = make_task(name, T).sample(jax.random.key(5), 3)
    for a, b in zip(narrow, wide, strict=True):
        assert a.dtype == b.dtype and a.dtype.itemsize == 4
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_float64_run_starts_from_the_float32_runs_draws_and_follows_it():
    """Same initial parameters (the initial log-Jacobian agrees to float32 rounding, an
    independent draw would not), same sequences: over 8 updates of a well-behaved run the test
    losses agree to float32 precision, and the x64 flag is off again afterwards."""
    config = PRESETS["quick"]
    members = (Member("irnn", 0, 1e-3, "default", True, None),
               Member("irnn", 1, 1e-3, "default", True, None))
    runs = {stage: train_group(config, Group("adding", 12, "irnn", None, members, stage, 8), None)
            for stage in ("main", "float64_8")}
    assert not jax.config.jax_enable_x64
    narrow, wide = runs["main"], runs["float64_8"]
    np.testing.assert_allclose(wide["init_log_jacobian"], narrow["init_log_jacobian"], rtol=1e-5)
    np.testing.assert_allclose(wide["test_loss"], narrow["test_loss"], rtol=1e-4)
    assert wide["test_loss"] != narrow["test_loss"]          # computed in another format


def _row(seed, *, diverged=True, dtype="float32", ablation=None, T=400, budget=20000,
         model="irnn", tbptt=None, clip_norm=1.0):
    return {"task": "adding", "T": T, "model": model, "seed": seed, "ablation": ablation,
            "lr": 1e-3, "recurrent_init": "default", "budget": budget, "diverged": diverged,
            "dtype": dtype, "clip_norm": clip_norm, "success": False, "last_quarter_fall": None,
            "tbptt": tbptt}


def test_only_the_runs_that_diverged_in_float32_are_rerun_with_their_ablation():
    rows = [_row(0), _row(1, diverged=False), _row(2, dtype="float64"),
            _row(3, ablation="no_clip", clip_norm=None), _row(4, T=800), _row(5, budget=40000),
            _row(6, model="irnn_sgd"), _row(7, ablation="tune"),
            _row(9, ablation="tbptt_k20", tbptt=20)]
    groups = precision.float64_groups(rows, "main")
    assert [(g.name, g.budget, [m.seed for m in g.members]) for g in groups] == [
        ("adding_T400_irnn_float64_main_b20000", 20000, [0, 3]),
        ("adding_T400_irnn_sgd_float64_main", 20000, [6]),
        ("adding_T400_irnn_float64_main_b40000", 40000, [5]),
        ("adding_T400_irnn_tbptt20_float64_main", 20000, [9]),
        ("adding_T800_irnn_float64_main", 20000, [4])]
    assert groups[0].members == (Member("irnn", 0, 1e-3, "default", True, None),
                                 Member("irnn", 3, 1e-3, "default", False, "no_clip"))
    assert groups[3].members == (Member("irnn", 9, 1e-3, "default", True, "tbptt_k20"),)


def test_the_repeated_search_reruns_its_diverged_runs_of_models_without_a_success():
    """The search repeated at the reported budget decides a claimed failure: its runs that
    diverged in float32 are rerun, unless one of the model's runs succeeded (that decides its
    rate, and stopped the others); the first search's runs never are."""
    full = partial(_row, ablation="tune_full")
    rows = [full(100), full(101, diverged=False), full(102, dtype="float64"),
            full(103, model="irnn_sgd"), dict(full(104, model="irnn_sgd", diverged=False),
                                              success=True), _row(105, ablation="tune")]
    (group,) = precision.float64_groups(rows, "tunefull")
    assert group.name == "adding_T400_irnn_float64_tunefull" and group.stage == "float64_tunefull"
    assert group.members == (Member("irnn", 100, 1e-3, "default", True, "tune_full"),)


def test_the_float64_rerun_replaces_its_float32_run_and_not_a_longer_one():
    rows = [_row(0), _row(0, dtype="float64", diverged=False), _row(1),
            _row(2), _row(2, dtype="float64"), _row(2, budget=40000, diverged=False)]
    kept, _, extended, replaced = summary.supersede(rows)
    assert [(r["seed"], r["dtype"], r["budget"]) for r in kept] == [
        (0, "float64", 20000), (1, "float32", 20000), (2, "float32", 40000)]
    assert [(r["seed"], r["dtype"], r["budget"]) for r in replaced] == [
        (0, "float32", 20000), (2, "float32", 20000), (2, "float64", 20000)]
    assert [(e["budget"], e["seeds"]) for e in extended] == [(20000, 1)]  # seed 2's float64 run


def test_a_failure_with_float32_divergences_does_not_count_until_they_are_rerun():
    grid = None
    before = protocol.shortfall([_row(0), _row(1), _row(2, diverged=False)], grid, 400)
    assert "2 of 3 runs diverged in float32, their float64 reruns not yet run" in before
    after = protocol.shortfall([_row(0, dtype="float64"), _row(1, dtype="float64"),
                                _row(2, diverged=False)], grid, 400)
    assert not any("float32" in w for w in after)
    assert protocol.float32_divergences([_row(0, ablation="no_clip")]) == 1  # rerun too
    assert protocol.float32_divergences([_row(0, ablation="tune")]) == 0     # a search's: not


def test_a_sweep_reruns_its_diverged_runs_in_float64_and_lists_them_until_it_has(
        tmp_path, monkeypatch):
    """Every run counts as diverged here (the threshold set below any loss): each is rerun."""
    monkeypatch.setattr(summary, "DIVERGED", -1.0)
    args = IRNN + ["--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    reported = summary.select(saved["rows"])
    assert sorted((r["seed"], r["dtype"]) for r in reported) == [(0, "float64"), (1, "float64")]
    assert sorted((r["seed"], r["dtype"]) for r in saved["replaced"]) == [(0, "float32"),
                                                                          (1, "float32")]
    for old in saved["replaced"]:  # the same runs, to float32 precision
        new = next(r for r in reported if r["seed"] == old["seed"])
        assert new["loss"] == pytest.approx(old["loss"], rel=1e-4)
    assert (tmp_path / "parts" / "adding_T8_irnn_float64_main.json").exists()
    assert longrange.main(args) == 0                          # rerun: reused, nothing retrained
    assert json.loads((tmp_path / "summary.json").read_text()) == saved
    (tmp_path / "parts" / "adding_T8_irnn_float64_main.json").unlink()
    assert longrange.main(args + ["--execution.no-compute"]) == 0
    pending = json.loads((tmp_path / "summary.json").read_text())["not_yet_run"]
    assert pending == [{"task": "adding", "T": 8, "model": "irnn", "ablation": "float64_rerun"}]


def test_a_run_is_frozen_from_the_piece_after_which_its_diverged_loss_never_moved():
    steps = [100, 200, 300, 400, 500, 600]
    frozen = partial(precision.frozen_at, baseline=1.0, every=200, diverged=100.0)
    assert frozen(steps, [1, 2, None, None, None, None]) == 400         # non-finite from 300 on
    assert frozen(steps, [1, 2, 5e3, 5e3, 5e3, 5e3]) == 400             # huge, finite, unmoved
    assert frozen(steps, [1, 2, 3, None, None, None]) == 600            # its piece's first eval
    assert frozen(steps, [1, 2, 5e3, 6e3, 5e3, 5e3]) == 600
    assert frozen(steps, [1, 2, 50, 50, 50, 50]) is None                # unmoved, not diverged
    assert frozen(steps, [1, 2, 5e3, 5e3, 0.5, 0.4]) is None            # moved again: recovered
    one = partial(precision.frozen_at, baseline=1.0, every=100, diverged=100.0)
    assert one([100], [None]) is None                                   # one evaluation: unknown
    assert one([100, 200], [None, None]) == 100


def test_runs_frozen_in_float32_are_stopped_and_rerun_in_float64(tmp_path):
    """An IRNN at Adam rate 1, T = 100: every float32 run overflows within 4 updates. Both are
    stopped there, so the program ends at update 4 of its 16; in float64 they train on."""
    args = TINY + ["--sweep.adding.lengths", "100", "--train.hidden-size", "16",
                   "--train.eval-every", "2", "--sweep.adding.models", "irnn", "--ablations.kinds",
                   "--steps", "16", "--sweep.adding.seeds", "2", "--sweep.adding.open-seeds", "0",
                   "--train.learning-rate", "1", "--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    narrow = sorted(saved["replaced"], key=lambda r: r["seed"])
    assert [(r["dtype"], r["frozen_at"], r["steps"], r["pruned"], r["diverged"]) for r in narrow] == [
        ("float32", 4, 4, False, True)] * 2
    wide = summary.select(saved["rows"])
    assert sorted(r["dtype"] for r in wide) == ["float64"] * 2
    assert any(r["frozen_at"] is None and r["steps"] == 16 for r in wide)
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert {len(c["steps"]) for c in curves} == {8}  # the float64 runs' (float32's ended at 4)
    part = json.loads((tmp_path / "parts" / "adding_T100_irnn.json").read_text())
    assert part["steps"] == [2, 4]


def test_a_claimed_failure_whose_float32_search_froze_runs_does_not_count():
    """The searches stay in float32, where a frozen run counts against its setting: a failure
    a verdict rests on is then not tested, and says why; a search without frozen runs is
    silent, and so is an ablation or a cell no verdict rests on."""
    def grid(frozen):
        return {"lr": 1e-3, "recurrent_init": "default", "budget": 20000,
                "grid": [{"lr": lr, "recurrent_init": "default", "successes": 0, "seeds": 3,
                          "frozen": frozen if lr >= 1e-2 else 0}
                         for lr in (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)]}
    rows = [dict(_row(s, diverged=False), model="irnn_sgd") for s in range(5)]

    def words(g, rs=rows):
        return [w for w in protocol.shortfall(rs, g, 400) if "frozen" in w]

    assert words(grid(2)) == ["4 runs of its rate search frozen by float32 overflow (at rates "
                              "0.01, 0.1), each counted against its setting"]
    assert words(grid(0)) == []
    assert words(grid(2), [dict(r, model="gru") for r in rows]) == []          # no verdict's
    assert words(grid(2), [dict(r, ablation="no_clip") for r in rows]) == []


def test_the_rates_table_counts_the_search_runs_float32_froze():
    grid = {"task": "adding", "T": 400, "model": "irnn", "lr": 1e-3, "recurrent_init": "default",
            "at_edge": False, "budget": 10000,
            "grid": [{"lr": lr, "recurrent_init": "default", "successes": int(lr == 1e-3),
                      "seeds": 3, "frozen": 3 if lr > 1e-3 else 0} for lr in (1e-4, 1e-3, 1e-2)]}
    table = tables.rates_table([grid], {"irnn": "IRNN"})
    assert table.splitlines()[-1] == "| adding | IRNN | 0.001 (1/3), 3/9 frozen in float32 |"
    calm = dict(grid, grid=[dict(g, frozen=0) for g in grid["grid"]])
    assert tables.rates_table([calm], {"irnn": "IRNN"}).splitlines()[-1] == (
        "| adding | IRNN | 0.001 (1/3) |")


def test_a_repeated_search_decides_the_failure_by_its_own_frozen_runs_alone():
    """Where the search was repeated at the reported budget (its diverged runs rerun in float64,
    which replace them in its grid), the first search's frozen runs no longer count."""
    setting = {"lr": 1e-2, "recurrent_init": "default", "successes": 0, "seeds": 3}
    grid = {"lr": 1e-3, "recurrent_init": "default", "budget": 10000,
            "grid": [dict(setting, frozen=3)]}
    rows = [dict(_row(s, diverged=False), model="irnn_sgd") for s in range(5)]

    def words(g):
        return [w for w in protocol.shortfall(rows, g, 400) if "frozen" in w]

    assert words(grid) == ["3 runs of its rate search frozen by float32 overflow (at rates "
                           "0.01), each counted against its setting"]
    full = {"budget": 20000, "lr": 1e-3, "recurrent_init": "default"}
    assert words(dict(grid, full_budget=dict(full, grid=[dict(setting, frozen=0)]))) == []
    assert words(dict(grid, full_budget=dict(full, grid=[dict(setting, frozen=1)]))) == [
        "1 runs of its rate search frozen by float32 overflow (at rates 0.01), each counted "
        "against its setting"]


def test_the_repeated_search_chooses_among_the_float64_reruns_not_the_runs_they_replace():
    """No setting succeeds, so the lowest median final loss chooses: setting 0.01's float32 run
    diverged (loss infinite), its float64 rerun has the lowest loss; counting both would have
    chosen 0.001."""
    def full(lr, seed, loss, dtype="float32"):
        return dict(_row(seed, diverged=loss > 1, dtype=dtype, ablation="tune_full"), lr=lr,
                    loss_over_baseline=loss, steps_to_success=None, pruned=False)

    rows = [full(1e-3, 100, 0.5), full(1e-2, 100, float("inf")), full(1e-2, 100, 0.3, "float64")]
    reported = [dict(_row(0, diverged=False), lr=lr) for lr in (1e-3, 1e-2)]  # before, rechosen
    kept, _, _, replaced = summary.supersede(rows + reported)
    assert summary.rechosen(kept) == {("adding", 400, "irnn"): (1e-2, "default")}
    assert [(r["lr"], r["dtype"], r["ablation"]) for r in replaced] == [
        (1e-2, "float32", "tune_full"), (1e-3, "float32", None)]
    assert [r["lr"] for r in summary.select(kept)] == [1e-2]


def test_a_sweep_reruns_its_repeated_searchs_diverged_runs_in_float64(tmp_path, monkeypatch):
    """Every run counts as diverged here, so the tanh RNN's repeated search (none succeeding
    within 8 updates) is rerun in float64, run by run, and its grid counts those runs."""
    from tests.tasks.test_longrange_full_search import ELMAN
    monkeypatch.setattr(summary, "DIVERGED", -1.0)
    args = ELMAN + ["--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    full = [r for r in saved["rows"] if r["ablation"] == "tune_full"]
    narrow = [r for r in saved["replaced"] if r["ablation"] == "tune_full"]
    assert full and {r["dtype"] for r in full} == {"float64"}
    assert sorted((r["lr"], r["seed"]) for r in narrow) == sorted((r["lr"], r["seed"]) for r in full)
    assert {r["dtype"] for r in narrow} == {"float32"}
    (grid,) = saved["grids"]
    assert sum(g["seeds"] for g in grid["full_budget"]["grid"]) == len(full)
    part = tmp_path / "parts" / "adding_T8_elman_float64_tunefull.json"
    assert part.exists()
    assert longrange.main(args) == 0                          # rerun: reused, nothing retrained
    assert json.loads((tmp_path / "summary.json").read_text()) == saved
    part.unlink()
    assert longrange.main(args + ["--execution.no-compute"]) == 0
    pending = json.loads((tmp_path / "summary.json").read_text())["not_yet_run"]
    assert {"task": "adding", "T": 8, "model": "elman", "ablation": "float64_rerun"} in pending
