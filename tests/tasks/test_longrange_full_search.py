"""A failure whose rate was chosen by final loss: its search repeated at the reported budget.

When no setting of a rate search succeeds within the tuning budget, the rate is chosen by final
loss, and a rate that would succeed with the reported budget could be missed; a failure a verdict
rests on then counts only after the search, repeated at that budget, saw no success either, or
after the reported runs, rerun at a setting that succeeded there, failed too.
"""

import importlib
import json

from experiments import longrange
from experiments.longrange import config as lc
from experiments.longrange import full_search, plan, protocol, summary, tables
from experiments.longrange.plan import TUNE_SEED, Member, cannot_be_chosen
from tests.tasks.test_longrange import TINY, _rows

FULL = lc.PRESETS["full"]
B = plan.budget(FULL, 400)
HALF = plan.tune_budget(FULL, 400)
ELMAN = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--steps", "8",
                "--sweep.adding.seeds", "5", "--sweep.adding.open-seeds", "0",
                "--tune.models", "elman", "--tune.learning-rates", "1e-4", "1e-3",
                "--tune.seeds", "2", "--tune.elman-inits", "default"]
"""A tiny sweep of the tanh RNN whose every run fails (8 updates), its search at 4."""


def _runs(model, won, n=5, task="adding", ablation=None, budget=B, lr=1e-3):
    return [{"task": task, "T": 400, "model": model, "ablation": ablation, "seed": s,
             "success": s < won, "budget": budget, "lr": lr, "recurrent_init": "default",
             "diverged": False} for s in range(n)]


def _search(model, won_at=None, task="adding", budget=HALF, ablation="tune"):
    """Three rates x 3 tuning seeds; ``won_at``: the one rate whose first seed succeeded."""
    return [{"task": task, "T": 400, "model": model, "ablation": ablation,
             "seed": TUNE_SEED + s, "lr": lr, "recurrent_init": "default", "budget": budget,
             "success": lr == won_at and s == 0, "pruned": False}
            for lr in (1e-3, 1e-2, 1e-1) for s in range(3)]


def test_only_a_claimed_failure_whose_search_never_succeeded_is_searched_again():
    tune = _search("elman") + _search("gru") + _search("lstm_fb1", won_at=1e-2)
    reported = _runs("elman", 0) + _runs("gru", 0) + _runs("lstm_fb1", 0)
    (group,) = full_search.full_search_groups(FULL, 400, tune, reported)
    assert (group.name, group.budget) == ("adding_T400_elman_tunefull", B)
    assert sorted(group.members) == sorted(
        Member("elman", TUNE_SEED + s, lr, "default", True, "tune_full")
        for lr in (1e-3, 1e-2, 1e-1) for s in range(FULL.tune.seeds))
    # the GRU's failure is no verdict's; the LSTM's search succeeded: its rate was chosen by it
    assert full_search.full_search_groups(FULL, 400, tune, _runs("elman", 2)) == []     # open: no failure
    assert full_search.full_search_groups(FULL, 400, tune, _runs("elman", 5)) == []     # it learns
    at_full = _search("elman", budget=B)
    assert full_search.full_search_groups(FULL, 400, at_full, reported) == []  # searched at the budget
    copy = _search("lstm_fb1", task="copy")
    (group,) = full_search.full_search_groups(FULL, 400, copy, _runs("lstm_fb1", 0, task="copy"))
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
                     for lr in lc.log_grid(1e-5, 1e-1)], "lr": 1e-3, "recurrent_init": "default",
            "budget": HALF, "at_edge": False}
    return grid | ({"full_budget": full} if full else {})


def test_the_failure_counts_only_once_run_at_the_setting_the_repeated_search_chose():
    rows = [dict(r, last_quarter_fall=0.0) for r in _runs("elman", 0)]
    assert protocol.shortfall(rows, _grid(), 400) == [
        f"a rate chosen by final loss (no setting succeeded within the search's {HALF} "
        f"updates), and the search at {B} updates not yet run"]
    none = {"budget": B, "lr": 1e-3, "recurrent_init": "default", "grid": [
        {"lr": a, "recurrent_init": "default", "successes": 0, "seeds": 3, "pruned": 0}
        for a in (1e-3, 0.01)]}                   # no success: 1e-3 had the lowest final loss
    assert protocol.shortfall(rows, _grid(none), 400) == []     # the reported runs ran there
    assert tables.grid_text(_grid(none)) == (
        f"rates 1e-05 … 0.1 (9), none succeeding within the search's {HALF} updates nor, every "
        f"setting repeated, within {B} (its rate chosen by final loss at {B})")
    other = _grid(none | {"lr": 0.01}) | {"lr": 0.01}      # the lowest loss at B: another rate
    assert protocol.shortfall(rows, other, 400) == [
        f"a rate chosen by final loss (no setting succeeded within the search's {HALF} "
        f"updates), while at {B} updates rate 0.01 (default init) had the lowest final loss, "
        "none succeeding: the reported runs at that rate are not yet run"]
    assert protocol.shortfall([dict(r, lr=0.01) for r in rows], other, 400) == []
    won = {"budget": B, "lr": 0.01, "recurrent_init": "gaussian", "grid": [
        {"lr": 0.01, "recurrent_init": "gaussian", "successes": 1, "seeds": 3, "pruned": 2}]}
    assert protocol.shortfall(rows, _grid(won), 400) == [
        f"a rate chosen by final loss (no setting succeeded within the search's {HALF} "
        f"updates), while at {B} updates rate 0.01 (gaussian init) succeeded: the reported "
        "runs at that rate are not yet run"]
    rerun = [dict(r, lr=0.01, recurrent_init="gaussian") for r in rows]
    both = _grid(won) | {"lr": 0.01, "recurrent_init": "gaussian"}
    both["grid"] += [dict(g, recurrent_init="gaussian") for g in both["grid"]]
    assert protocol.shortfall(rerun, both, 400) == []      # rerun there: their failure counts
    searched = _grid() | {"budget": B}                     # searched at the reported budget
    assert protocol.shortfall(rows, searched, 400) == []


def test_a_sweep_repeats_the_search_of_a_failing_tanh_rnn_and_lists_it_until_it_has(tmp_path):
    args = ELMAN + ["--workdir", str(tmp_path)]
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
    # the repeated search chose by final loss at 8 updates; the reported runs are at its choice
    chosen = (grid["full_budget"]["lr"], grid["full_budget"]["recurrent_init"])
    assert (grid["lr"], grid["recurrent_init"]) == chosen
    assert {(r["lr"], r["recurrent_init"]) for r in summary.select(rows)} == {chosen}
    assert longrange.main(args) == 0                    # rerun: reused, nothing retrained
    assert json.loads((tmp_path / "summary.json").read_text()) == saved
    (tmp_path / "parts" / "adding_T8_elman_tunefull.json").unlink()
    assert longrange.main(args + ["--execution.no-compute"]) == 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["not_yet_run"] == [{"task": "adding", "T": 8, "model": "elman",
                                     "ablation": "tune_full"}]
    assert "full_budget" not in saved["grids"][0]


def _full(model="elman", won=(0.01, "gaussian"), lowest=(1e-3, "default")):
    """A repeated search: two settings x 3 seeds, the first seed of ``won`` (None: none) the
    one success, the other runs of the model stopped then; ``lowest``, the setting with the
    lower final loss."""
    return [{"task": "adding", "T": 400, "model": model, "ablation": "tune_full",
             "seed": TUNE_SEED + s, "lr": lr, "recurrent_init": init, "budget": B,
             "success": (lr, init) == won and s == 0, "steps_to_success": 900,
             "loss_over_baseline": 0.4 if (lr, init) == lowest else 0.5,
             "pruned": won is not None and ((lr, init) != won or s > 0)}
            for lr, init in ((1e-3, "default"), (0.01, "gaussian")) for s in range(3)]


def test_a_setting_that_succeeded_at_the_budget_reruns_the_reported_seeds_there():
    chosen = full_search.rechosen(_full() + _full("lstm_fb1", won=None))
    assert chosen == {("adding", 400, "elman"): (0.01, "gaussian"),   # a success: not by loss
                      ("adding", 400, "lstm_fb1"): (1e-3, "default")}  # none: the lowest loss
    # the LSTM's reported runs (at 1e-3) ran at its choice: no rerun
    reported = _runs("elman", 0) + _runs("lstm_fb1", 0)
    (group,) = full_search.rerun_groups(400, chosen, reported)
    assert (group.name, group.budget, group.stage) == ("adding_T400_elman_rechosen", B, "rechosen")
    assert group.members == tuple(Member("elman", s, 0.01, "gaussian", True, None)
                                  for s in range(5))
    assert full_search.rerun_groups(800, chosen, reported) == []        # another T
    at = [dict(r, lr=0.01, recurrent_init="gaussian") for r in _runs("elman", 0)]
    assert full_search.rerun_groups(400, chosen, at) == []              # already there
    longer = [dict(r, budget=2 * B) for r in _runs("elman", 0)]               # a doubled cell
    assert full_search.rerun_groups(400, chosen, longer)[0].budget == 2 * B
    # the reruns' verdict open (2/5): seeds up to the task's open_seeds, at the same setting
    (more,) = full_search.more_groups(FULL, 400, chosen, [dict(r, success=r["seed"] < 2)
                                                            for r in at])
    assert more.name == "adding_T400_elman_rechosen_more"
    assert [m.seed for m in more.members] == list(range(5, FULL.sweep.adding.open_seeds))
    assert {(m.lr, m.init) for m in more.members} == {(0.01, "gaussian")}
    assert full_search.more_groups(FULL, 400, chosen, at) == []             # 0/5: decided
    assert full_search.more_groups(FULL, 400, chosen, _runs("elman", 2)) == []  # other rate


def _row(seed, lr, ablation=None, budget=B, init="default"):
    return {"task": "adding", "T": 400, "model": "elman", "ablation": ablation, "seed": seed,
            "lr": lr, "recurrent_init": init, "budget": budget, "success": False,
            "last_quarter_fall": 0.0}


def test_the_reruns_replace_the_runs_at_the_loss_chosen_rate_seed_by_seed():
    old = [_row(s, 1e-3) for s in range(5)]
    no_clip = [_row(s, 1e-3, "no_clip") for s in range(5)]
    new = [_row(s, 0.01, init="gaussian") for s in range(3)]       # seeds 3, 4 not rerun yet
    rows, curves, extended, replaced = summary.supersede(
        _full() + old + no_clip + new, list(range(19)))
    reported = summary.select(rows)
    assert sorted((r["seed"], r["lr"]) for r in reported) == [
        (0, 0.01), (1, 0.01), (2, 0.01), (3, 1e-3), (4, 1e-3)]
    assert replaced == old[:3] and extended == []
    assert curves == [i for i in range(19) if i not in (6, 7, 8)]  # parallel to the rows
    assert summary.select(rows, ablation="no_clip") == no_clip      # an ablation keeps its rate
    # the ablation is paired with its control at its own rate, from the replaced runs
    paired = summary.paired_with_ablations(rows + replaced)
    assert sorted((r["seed"], r["lr"]) for r in summary.select(paired)) == [
        (s, 1e-3) for s in range(5)]
    # without a success, the setting with the lowest final loss at the budget decides
    assert summary.supersede(_full(won=None) + old + new)[3] == new
    assert summary.supersede(_full(won=None, lowest=(0.01, "gaussian")) + old + new)[3] == old[:3]


def test_the_tables_say_the_rate_was_chosen_at_the_budget():
    won = {"budget": B, "lr": 0.01, "recurrent_init": "gaussian", "grid": [
        {"lr": 0.01, "recurrent_init": "gaussian", "successes": 1, "seeds": 1, "pruned": 0}]}
    grid = _grid(won) | {"lr": 0.01, "recurrent_init": "gaussian", "task": "adding", "T": 400,
                         "model": "elman"}
    grid["grid"].append({"lr": 0.01, "recurrent_init": "gaussian", "successes": 0, "seeds": 3})
    assert tables.rechosen(grid) and not tables.rechosen(_grid(won))
    assert tables.grid_text(grid).endswith(
        f"none succeeding within the search's {HALF} updates; repeated at {B}, 0.01 (gaussian "
        "init) succeeded and was chosen")
    assert f"0.01 (0/3) chosen at {B}, repeated at {B}: 1/1, Gaussian W_h" in tables.rates_table(
        [grid], {"elman": "Elman"})
    grid["full_budget"]["grid"][0]["successes"] = 0                 # chosen by loss there too
    assert f"0.01 (0/3) by loss at {B}, repeated at {B}: 0/1" in tables.rates_table(
        [grid], {"elman": "Elman"})


def test_a_sweep_whose_repeated_search_succeeded_reruns_its_reported_runs(tmp_path, monkeypatch):
    """The stages' wiring: the repeated search's runs all fail at 8 updates, so one of them (its
    smallest rate's first seed; the loss at 4 updates chose a larger one) counts as a success."""
    def won(rows):
        full = [r for r in rows if r["ablation"] == "tune_full"]
        low = min((r["lr"] for r in full), default=None)
        return rechosen([dict(r, success=True, steps_to_success=8)
                         if r in full and r["lr"] == low and r["seed"] == TUNE_SEED else r
                         for r in rows])

    rechosen = full_search.rechosen
    monkeypatch.setattr(importlib.import_module("experiments.longrange.run"), "rechosen", won)
    monkeypatch.setattr(summary, "rechosen", won)
    args = ELMAN + ["--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    (grid,) = saved["grids"]
    old = {r["lr"] for r in saved["replaced"]}
    reported = summary.select(saved["rows"])
    assert len(old) == 1 and len(reported) == 5 and len(saved["replaced"]) == 5
    assert {r["lr"] for r in reported} == {grid["lr"]} != old  # the grid records the new rate
    assert sorted(r["seed"] for r in reported) == list(range(5))
    assert (tmp_path / "parts" / "adding_T8_elman_rechosen.json").exists()
    assert longrange.main(args) == 0                          # rerun: reused, nothing retrained
    assert json.loads((tmp_path / "summary.json").read_text()) == saved
    (tmp_path / "parts" / "adding_T8_elman_rechosen.json").unlink()
    assert longrange.main(args + ["--execution.no-compute"]) == 0
    pending = json.loads((tmp_path / "summary.json").read_text())["not_yet_run"]
    assert pending == [{"task": "adding", "T": 8, "model": "elman", "ablation": "rechosen_rate"}]


def test_reruns_at_the_rechosen_rate_still_learning_get_the_doubled_budget(tmp_path, monkeypatch):
    """As every reported cell does: the reruns at the setting the repeated search chose (here
    forced, as above), failing while still learning (forced for runs at that rate only, so the
    reported runs at the loss-chosen rate are not doubled first), are rerun with twice their
    budget (stage ``rechosen_longer1``), and those runs are the cell's."""
    seen = {}

    def won(rows):
        full = [r for r in rows if r["ablation"] == "tune_full"]
        low = min((r["lr"] for r in full), default=None)
        seen.setdefault("low", low) if full else None
        return rechosen([dict(r, success=True, steps_to_success=8)
                         if r in full and r["lr"] == low and r["seed"] == TUNE_SEED else r
                         for r in rows])

    rechosen = full_search.rechosen
    run_module = importlib.import_module("experiments.longrange.run")
    monkeypatch.setattr(run_module, "rechosen", won)
    monkeypatch.setattr(summary, "rechosen", won)
    monkeypatch.setattr(plan, "still_learning", lambda runs: runs[0]["lr"] == seen.get("low"))
    args = ELMAN + ["--sweep.adding.longer", "1", "--workdir", str(tmp_path)]
    assert longrange.main(args) == 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    reported = summary.select(saved["rows"])
    assert {(r["lr"], r["budget"]) for r in reported} == {(seen["low"], 16)}
    assert sorted(r["seed"] for r in reported) == list(range(5))
    # replaced: the runs at the loss-chosen rate, and the reruns at the budget they doubled
    assert sorted((r["lr"] == seen["low"], r["budget"]) for r in saved["replaced"]) == (
        [(False, 8)] * 5 + [(True, 8)] * 5)
    assert [e["budget"] for e in saved["extended"]] == [8]
    assert (tmp_path / "parts" / "adding_T8_elman_rechosen_longer1.json").exists()
    (tmp_path / "parts" / "adding_T8_elman_rechosen_longer1.json").unlink()
    assert longrange.main(args + ["--execution.no-compute"]) == 0
    pending = json.loads((tmp_path / "summary.json").read_text())["not_yet_run"]
    assert pending == [{"task": "adding", "T": 8, "model": "elman", "ablation": "rechosen_rate"}]
