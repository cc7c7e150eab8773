"""A failure whose rate was chosen by final loss: its search repeated at the reported budget.

When no setting of a rate search succeeds within the tuning budget, the rate is chosen by final
loss, and a rate that would succeed with the reported budget could be missed; a failure a verdict
rests on then counts only after the search, repeated at that budget, saw no success either.
"""

import json

from experiments import longrange
from experiments.longrange import config as lc
from experiments.longrange import plan, protocol, tables
from experiments.longrange.plan import TUNE_SEED, Member, cannot_be_chosen
from tests.tasks.test_longrange import TINY, _rows

FULL = lc.PRESETS["full"]
B = plan.budget(FULL, 400)
HALF = plan.tune_budget(FULL, 400)


def _runs(model, won, n=5, task="adding", ablation=None, budget=B, lr=1e-3):
    return [{"task": task, "T": 400, "model": model, "ablation": ablation, "seed": s,
             "success": s < won, "budget": budget, "lr": lr, "recurrent_init": "default"}
            for s in range(n)]


def _search(model, won_at=None, task="adding", budget=HALF, ablation="tune"):
    """Three rates x 3 tuning seeds; ``won_at``: the one rate whose first seed succeeded."""
    return [{"task": task, "T": 400, "model": model, "ablation": ablation,
             "seed": TUNE_SEED + s, "lr": lr, "recurrent_init": "default", "budget": budget,
             "success": lr == won_at and s == 0, "pruned": False}
            for lr in (1e-3, 1e-2, 1e-1) for s in range(3)]


def test_only_a_claimed_failure_whose_search_never_succeeded_is_searched_again():
    tune = _search("elman") + _search("gru") + _search("lstm_fb1", won_at=1e-2)
    reported = _runs("elman", 0) + _runs("gru", 0) + _runs("lstm_fb1", 0)
    (group,) = plan.full_search_groups(FULL, 400, tune, reported)
    assert (group.name, group.budget) == ("adding_T400_elman_tunefull", B)
    assert sorted(group.members) == sorted(
        Member("elman", TUNE_SEED + s, lr, "default", True, "tune_full")
        for lr in (1e-3, 1e-2, 1e-1) for s in range(FULL.tune.seeds))
    # the GRU's failure is no verdict's; the LSTM's search succeeded: its rate was chosen by it
    assert plan.full_search_groups(FULL, 400, tune, _runs("elman", 2)) == []     # open: no failure
    assert plan.full_search_groups(FULL, 400, tune, _runs("elman", 5)) == []     # it learns
    at_full = _search("elman", budget=B)
    assert plan.full_search_groups(FULL, 400, at_full, reported) == []  # searched at the budget
    copy = _search("lstm_fb1", task="copy")
    (group,) = plan.full_search_groups(FULL, 400, copy, _runs("lstm_fb1", 0, task="copy"))
    assert group.name == "copy_T400_lstm_tunefull" and group.task == "copy"


def test_a_repeated_search_stops_a_model_once_one_of_its_runs_succeeded():
    full = [Member("elman", TUNE_SEED + s, lr, "default", True, "tune_full")
            for lr in (1e-3, 1e-2) for s in range(2)]
    other = [Member("lstm_fb1", TUNE_SEED, 1e-3, "default", True, "tune_full"),
             Member("elman", 0, 1e-3, "default", True, None)]
    first = [None, 300, None, None, None, None]
    assert cannot_be_chosen(full + other, first, 400) == [True, False, True, True, False, False]
    assert not any(cannot_be_chosen(full + other, [None] * 6, 400))


def _grid(full=None):
    grid = {"grid": [{"lr": lr, "recurrent_init": "default", "successes": 0, "seeds": 3}
                     for lr in lc.log_grid(1e-5, 1e-1)], "recurrent_init": "default",
            "budget": HALF, "at_edge": False}
    return grid | ({"full_budget": full} if full else {})


def test_the_failure_counts_only_once_the_repeated_search_saw_no_success():
    rows = [dict(r, last_quarter_fall=0.0) for r in _runs("elman", 0)]
    assert protocol.shortfall(rows, _grid(), 400) == [
        f"a rate chosen by final loss (no setting succeeded within the search's {HALF} "
        f"updates), and the search at {B} updates not yet run"]
    none = {"budget": B, "grid": [{"lr": 1e-3, "recurrent_init": "default", "successes": 0,
                                   "seeds": 3, "pruned": 0}]}
    assert protocol.shortfall(rows, _grid(none), 400) == []
    assert tables.grid_text(_grid(none)) == (
        f"rates 1e-05 … 0.1 (9), none succeeding within the search's {HALF} updates nor, every "
        f"setting repeated, within {B} (its rate chosen by final loss)")
    won = {"budget": B, "grid": [{"lr": 0.01, "recurrent_init": "gaussian", "successes": 1,
                                  "seeds": 3, "pruned": 2}]}
    assert protocol.shortfall(rows, _grid(won), 400) == [
        f"a rate chosen by final loss (no setting succeeded within the search's {HALF} "
        f"updates), while at {B} updates rate 0.01 (gaussian init) succeeded: its reported "
        "runs at that rate would decide"]
    searched = _grid() | {"budget": B}                     # searched at the reported budget
    assert protocol.shortfall(rows, searched, 400) == []


def test_a_sweep_repeats_the_search_of_a_failing_tanh_rnn_and_lists_it_until_it_has(tmp_path):
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--steps", "8",
                   "--sweep.adding.seeds", "5", "--sweep.adding.open-seeds", "0",
                   "--tune.models", "elman", "--tune.learning-rates", "1e-4", "1e-3",
                   "--tune.seeds", "2", "--tune.elman-inits", "default",
                   "--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    rows = _rows(tmp_path)
    full = [r for r in rows if r["ablation"] == "tune_full"]
    assert not any(r["success"] for r in rows)          # 8 updates: every run fails
    searched = sorted((r["lr"], r["seed"]) for r in rows if r["ablation"] == "tune")
    assert len(searched) > 4                            # the grid, extended beyond its edge
    assert sorted((r["lr"], r["seed"]) for r in full) == searched  # every setting it tried
    assert {r["budget"] for r in full} == {8}
    saved = json.loads((tmp_path / "summary.json").read_text())
    (grid,) = saved["grids"]
    assert grid["budget"] == 4 and grid["full_budget"]["budget"] == 8
    assert {g["seeds"] for g in grid["full_budget"]["grid"]} == {2}
    assert longrange.main(args) == 0                    # rerun: reused, nothing retrained
    assert json.loads((tmp_path / "summary.json").read_text()) == saved
    (tmp_path / "parts" / "adding_T8_elman_tunefull.json").unlink()
    assert longrange.main(args + ["--execution.no-compute"]) == 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["not_yet_run"] == [{"task": "adding", "T": 8, "model": "elman",
                                     "ablation": "tune_full"}]
    assert "full_budget" not in saved["grids"][0]
