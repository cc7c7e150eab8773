"""The sweep's plan, stage by stage, at tiny size and on hand-made rows.

- the rate search: the choice by successes, the grid extended beyond an edge, the settings that
  can no longer be chosen stopped without changing the choice, resumed exactly;
- a sweep interrupted or tabulated without computing lists every cell it has not finished, and
  the computing command continues it;
- the seeds added where a verdict hinges, twice the budget where a failure was still learning,
  each a program of its own whose runs replace or join the reported ones;
- a task run alone makes the programs the full preset reuses; the truncation control's own rate
  search; a model limited to short lengths.
"""

import dataclasses
import json
import shutil

import pytest

from experiments import longrange
from experiments.longrange import config as lc
from experiments.longrange import summary
from tests.tasks.test_longrange import TINY, _rows


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
    assert full.sweep.adding.longer == 2
    assert [g.budget for g in plan.longer_groups(full, 200, best, twice, 2)] == [4 * B]
    one = dataclasses.replace(full, sweep=dataclasses.replace(
        full.sweep, adding=dataclasses.replace(full.sweep.adding, longer=1)))
    assert plan.longer_groups(one, 200, best, twice, 2) == []  # longer=1: one round
    assert plan.longer_groups(lc.PRESETS["quick"], 200, best, rows, 1) == []
    # a failure at a median plateau whose runs still falling could turn it is rerun too
    turnable = runs("irnn", 0, 0.0)
    turnable[0]["last_quarter_fall"] = turnable[1]["last_quarter_fall"] = 0.3
    assert [g.name for g in plan.longer_groups(full, 200, best, turnable, 1)] == [
        "adding_T200_irnn_longer1"]


def test_the_longer_runs_replace_the_shorter_ones_in_the_tables(tmp_path, monkeypatch):
    """End to end: a cell still learning (forced here) reruns as ``<name>_longer1`` with twice
    the budget; the summary reports those runs once each, lists the budget they replace under
    ``extended``, and a rerun reuses every program."""
    from experiments.longrange import plan

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
