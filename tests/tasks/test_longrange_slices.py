"""A program trained in slices (experiments.longrange.slices) at tiny size.

- the cut: consecutive runs, a rate-search setting never split; a rate search's slices trained
  nearest the rate chosen at a shorter T first;
- the join: per-run lists in run order, a slice that ended early extended by its last
  evaluation, slices evaluated at other updates refused;
- end to end: a sliced sweep's tables equal the unsliced sweep's (to float32 rounding), its
  slices' files removed once the program's result is saved; a sweep stopped after one slice
  keeps that slice and trains only the others when rerun; a tabulation joins finished slices;
- a sliced rate search stops settings given the earlier slices' results and chooses the same
  rate as the unsliced search; two processes sharing each slice give one process's tables.
"""

import importlib
import json

import numpy as np
import pytest

from experiments import longrange
from experiments.longrange.plan import Group, Member
from experiments.longrange.slices import join, slices, training_order
from tests.tasks.test_longrange import TINY

lr_run = importlib.import_module("experiments.longrange.run")


def _summary(workdir):
    return json.loads((workdir / "summary.json").read_text())


def _members(stage_tag, rates, seeds):
    return tuple(Member("gru", s, lr, "default", True, stage_tag) for lr in rates
                 for s in range(seeds))


def test_a_program_is_cut_into_consecutive_slices_and_a_setting_is_never_split():
    main = Group("adding", 400, "gru", None, _members(None, (1e-3,), 5), "main", 10)
    assert slices(main, 0) == [main] and slices(main, 5) == [main]
    cut = slices(main, 2)
    assert [len(g.members) for g in cut] == [2, 2, 1]
    assert sum((g.members for g in cut), ()) == main.members
    assert [g.name for g in cut] == [f"adding_T400_gru_slice{i}of3" for i in range(3)]
    tune = Group("adding", 400, "gru", None, _members("tune", (1e-3, 1e-2, 1e-1), 3), "tune0", 5)
    assert [len(g.members) for g in slices(tune, 4)] == [3, 3, 3]  # 3 + 3 > 4: a setting each
    assert [len(g.members) for g in slices(tune, 6)] == [6, 3]
    assert [len(g.members) for g in slices(tune, 2)] == [3, 3, 3]  # a setting is not split


def test_a_rate_search_trains_first_the_slices_nearest_the_rate_chosen_at_a_shorter_t():
    tune = Group("adding", 400, "gru", None, _members("tune", (1e-3, 1e-2, 1e-1), 3), "tune0", 5)
    pieces = slices(tune, 3)
    assert training_order(pieces, {"gru": 1e-2}) == [1, 0, 2]  # then the nearer, ties in turn
    assert training_order(pieces, {"gru": 0.2}) == [2, 1, 0]
    assert training_order(pieces, {}) == [2, 1, 0]              # no prior: highest rate first
    main = Group("adding", 400, "gru", None, _members(None, (1e-3,), 5), "main", 10)
    assert training_order(slices(main, 2), {"gru": 1e-2}) == [0, 1, 2]


def test_the_repeated_search_is_ordered_by_its_own_t_so_no_shorter_length_changes_it():
    """Its first success decides the rate: the order must not depend on which shorter lengths
    a command runs. The search at T follows the longest shorter T's rate."""
    best = {("adding", 100, "gru"): (0.1, "default"), ("adding", 200, "gru"): (0.01, "default"),
            ("adding", 400, "gru"): (0.001, "default"), ("copy", 200, "gru"): (1.0, "default")}
    tune = Group("adding", 400, "gru", None, _members("tune", (1e-3,), 3), "tune0", 5)
    assert lr_run._prior(best, tune) == {"gru": 0.01}
    full = tune._replace(stage="tunefull")
    assert lr_run._prior(best, full) == {"gru": 0.001}
    shorter = {c: s for c, s in best.items() if c[1] == 400}  # a command with T = 400 alone
    assert lr_run._prior(shorter, full) == {"gru": 0.001} and lr_run._prior(shorter, tune) == {}


def _result(losses, steps, base=1.0):
    """A program result: ``losses[j][i]`` the test loss of run i at evaluation j."""
    runs = len(losses[0])
    return {"settings": {"slice": runs}, "baseline": base, "n_params": {"gru": 7},
            "steps": steps, "test_loss": losses,
            "init_log_jacobian": [float(i) for i in range(runs)],
            "final_log_jacobian": [None] * runs, "init_lambda_max": [0.5] * runs,
            "stopped_at": [None] * runs}


def test_joined_slices_are_the_program_result_with_early_slices_held_at_their_last_value():
    a = _result([[0.9, 0.8], [0.05, 0.04]], [4, 8])          # both succeeded at 8: ended
    b = _result([[0.95], [0.7], [0.6]], [4, 8, 12])
    joined = join([a, b])
    assert joined["steps"] == [4, 8, 12]
    assert joined["test_loss"] == [[0.9, 0.8, 0.95], [0.05, 0.04, 0.7], [0.05, 0.04, 0.6]]
    assert joined["init_log_jacobian"] == [0.0, 1.0, 0.0]
    assert joined["stopped_at"] == [None] * 3 and "settings" not in joined
    with pytest.raises(ValueError, match="different updates"):
        join([a, _result([[0.9]], [5])])


def test_a_shorter_schedule_holds_its_last_evaluation_for_lists_and_arrays():
    from experiments.longrange import held

    assert held.longest([[4, 8], [4, 8, 12], []], "x") == [4, 8, 12]
    with pytest.raises(ValueError, match="x evaluated at different updates"):
        held.longest([[4, 8], [4, 9, 12]], "x")
    assert held.hold_last([1, 2], 4) == [1, 2, 2, 2] and held.hold_last([], 3) == []
    assert held.hold_last([1, 2, 3], 2) == [1, 2]
    rows = np.arange(6.0).reshape(2, 3)                     # 2 evaluations × 3 runs
    np.testing.assert_array_equal(np.stack(held.hold_last(rows, 3)), [[0, 1, 2], [3, 4, 5], [3, 4, 5]])


ARGS = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--sweep.adding.seeds",
               "3", "--steps", "8"]


def test_a_sliced_sweep_gives_the_unsliced_tables_and_resumes_slice_by_slice(tmp_path,
                                                                             monkeypatch):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert longrange.main(ARGS + ["--workdir", str(whole)]) == 0
    real, calls, ended = lr_run.train_group, [], []

    def stop_after_one_slice(config, group, *args, **kw):
        calls.append(group.name)
        if len(calls) == 2 and not ended:
            ended.append(True)
            raise RuntimeError("sitting ended")
        return real(config, group, *args, **kw)

    monkeypatch.setattr(lr_run, "train_group", stop_after_one_slice)
    sliced = ARGS + ["--execution.slice-runs", "1", "--workdir", str(cut)]
    with pytest.raises(RuntimeError, match="sitting ended"):
        longrange.main(sliced)
    parts = {p.name for p in (cut / "parts").glob("adding*.json")}
    assert parts == {"adding_T8_elman_slice0of3.json"}  # the finished slice is kept
    # a tabulation of a program whose slices are not all finished lists its cell as not run
    assert longrange.main(sliced + ["--execution.no-compute"]) == 0
    assert _summary(cut)["rows"] == [] and _summary(cut)["not_yet_run"]
    calls.clear()
    assert longrange.main(sliced) == 0
    assert calls == ["adding_T8_elman_slice1of3", "adding_T8_elman_slice2of3"]
    assert {p.name for p in (cut / "parts").glob("adding*.json")} == {"adding_T8_elman.json"}
    timing = json.loads((cut / "parts" / "timing.json").read_text())  # both sittings' slices
    assert timing["adding_T8_elman"] == pytest.approx(
        sum(timing[f"adding_T8_elman_slice{i}of3"] for i in range(3)), abs=0.2)
    one, two = _summary(whole), _summary(cut)
    assert len(one["rows"]) == 3 and _close(two["rows"], one["rows"])
    # the program's result is the unsliced one (to float32 rounding of what is batched)
    saved = {d: json.loads((tmp_path / d / "parts" / "adding_T8_elman.json").read_text())
             for d in ("whole", "cut")}
    assert _close(saved["cut"], saved["whole"])


def _close(a, b) -> bool:
    """Equal JSON trees, numbers to a few float32 units."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_close, a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-6, abs=1e-7)
    return a == b


@pytest.mark.slow
def test_a_tabulation_joins_slices_whose_program_result_is_missing(tmp_path):
    sliced = ARGS + ["--execution.slice-runs", "2", "--workdir", str(tmp_path)]
    assert longrange.main(sliced) == 0
    rows = _summary(tmp_path)["rows"]
    # as a commit of the slices alone would leave it: the slices, not the program's result
    program = tmp_path / "parts" / "adding_T8_elman.json"
    saved = json.loads(program.read_text())
    program.unlink()
    for i, runs in enumerate(((0, 1), (2,))):
        piece = {k: ([[row[j] for j in runs] for row in v] if k.startswith("test_") else
                     [v[j] for j in runs] if k in ("init_log_jacobian", "final_log_jacobian",
                                                   "init_lambda_max", "stopped_at") else v)
                 for k, v in saved.items()}
        group = Group("adding", 8, "elman", None, (), "main", 8, (i, 2))
        settings = dict(saved["settings"], group=group.name,
                        members=[saved["settings"]["members"][j] for j in runs])
        piece["settings"] = settings
        (tmp_path / "parts" / f"{group.name}.json").write_text(json.dumps(piece))
    assert longrange.main(sliced + ["--execution.no-compute"]) == 0
    assert _summary(tmp_path)["complete"] and _summary(tmp_path)["rows"] == rows


@pytest.mark.slow
def test_a_sliced_rate_search_stops_settings_by_earlier_slices_and_chooses_the_same_rate(
        tmp_path):
    """The fast rate (its own slice, first) succeeds in both seeds; the slow rate's slice,
    trained after it, is stopped as soon as it can no longer be chosen, not at its budget."""
    args = TINY + ["--sweep.adding.models", "elman", "--ablations.kinds", "--sweep.adding.seeds",
                   "1", "--tune.models", "elman", "--tune.learning-rates", "0.03", "1e-8",
                   "--tune.rate-floor", "1e-9", "--tune.elman-inits", "default", "--steps", "400",
                   "--tune.budget-fraction", "0.5", "--train.success-ratio", "0.95",
                   "--train.lr-schedule", "constant"]
    assert longrange.main(args + ["--workdir", str(tmp_path / "whole")]) == 0
    assert longrange.main(args + ["--execution.slice-runs", "3",
                                  "--workdir", str(tmp_path / "cut")]) == 0
    one, two = _summary(tmp_path / "whole"), _summary(tmp_path / "cut")
    assert [g["lr"] for g in two["grids"]] == [g["lr"] for g in one["grids"]] == [0.03]
    tune = {d: {(r["lr"], r["seed"]): r for r in s["rows"] if r["ablation"] == "tune"}
            for d, s in (("whole", one), ("cut", two))}
    for key, r in tune["whole"].items():
        if r["lr"] == 0.03:  # the chosen setting: the same runs
            assert tune["cut"][key] == r
    # stopped at the first piece end after which even a success at the next evaluation (4
    # updates on) could not beat the fast setting's median: before the unsliced search, whose
    # bar appeared only once the fast setting's last seed had succeeded
    fast = sorted(r["steps_to_success"] for r in tune["cut"].values() if r["lr"] == 0.03)
    bar = (fast[0] + fast[1]) / 2
    for key, r in tune["cut"].items():
        if r["lr"] == 1e-8:
            assert r["pruned"] and r["steps"] <= bar < r["steps"] + 4
            assert r["steps"] < tune["whole"][key]["steps"]
    reported = {d: [r for r in s["rows"] if r["ablation"] is None] for d, s in
                (("whole", one), ("cut", two))}
    assert reported["cut"] == reported["whole"]


@pytest.mark.slow
def test_two_processes_train_the_slices_in_process_0s_order_and_give_its_tables(tmp_path):
    from tests.tasks.test_longrange import _one_and_two_processes

    one, two = _one_and_two_processes(ARGS + ["--execution.slice-runs", "2"], tmp_path)
    assert len(one["rows"]) == 3 and _close(two["rows"], one["rows"])
    assert {p.name for p in (tmp_path / "two" / "parts").glob("adding*.json")} == {
        "adding_T8_elman.json"}
