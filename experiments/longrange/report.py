"""The README's verdicts, computed from ``summary.json``, and its block (the tables of
:mod:`experiments.longrange.tables`, then the verdicts).

Every claim gets one verdict per T from a fixed rule, so the README cannot claim more than the
data show:

- a model *learns* at T when the Wilson 95 % interval of its success fraction (seeds reaching
  test loss <= 0.1 x baseline within the budget) lies above ½, *fails* when it lies below ½, and
  is *open* when it holds ½ (with 5 seeds: learns at 5/5, fails at 0/5; with 10: 9/10, 1/10).
- **reproduced**: the claim's rule holds (a model claimed to fail: with the budget and rates it
  exhausted). **not reproduced**: it does not, with the budget and rates searched (an edge noted)
  of the model that did not do what the claim says. **not resolved**: a model the verdict rests on
  is open: its successes, interval and what would decide it (its planned runs not yet run, more
  seeds than the protocol gives, or nothing: its seeds and doublings are spent). **not tested**: a
  cell the claim needs has no runs (``not yet run`` when it is planned but missing from the
  results; ``not in this sweep`` when the config does not run it; a claim none of whose models
  this sweep runs is left out), or the copy task's positive control (the uRNN) did not learn at
  that T, so a failure of the other models there would say nothing about them (likewise when full
  BPTT, the control of the truncation ablation, does not learn ``adding_late``), or T is below the
  lags the claim is about, or the outcome rests on a model failing under less than the default
  protocol (its budget and rate search, :mod:`experiments.longrange.protocol`): then the protocol
  decided it.

Claims: Hochreiter & Schmidhuber (1997): the LSTM (b_f = 1) learns where the tanh RNN fails,
at lags T >= ``LONG_LAG`` = 100 (their long-lag experiments; below it the successes are reported
as measured, untested); Le et al. (2015): the IRNN learns the adding problem (with SGD and
clipping as they trained it, and with Adam); Tallec & Ollivier (2018): chrono initialisation
learns faster than b_f = 1 (fewer updates to success, paired over seeds); Orvieto et al.
(2023): the LRU in its block learns; Arjovsky et al. (2016): on the copy task the LSTM stays
near the memoryless baseline while the uRNN solves it; truncated BPTT of k steps cannot learn a
lag beyond k (``adding_late``: no marker in the last k steps).

The gradient path at initialisation is a fitted relation, not an anecdote: per model family, a
logistic regression of success on ``init_log_jacobian``
(:mod:`experiments.longrange.jacobian_fit`), its slope with a Wald 95 % interval, over every
reported run of the adding problem (T varies along the fit, so the slope describes, it does not
explain).
"""

from __future__ import annotations

import math
from pathlib import Path

from experiments.common import read_json
from experiments.common.stats import side_of_half
from experiments.longrange.errors import error_rates
from experiments.longrange.floors import at_constant, at_linear_floor
from experiments.longrange.floors import fmt as _fmt
from experiments.longrange.jacobian_fit import jacobian_relation
from experiments.longrange.protocol import STILL_LEARNING, shortfall, still_falling
from experiments.longrange.style import LABELS, ablation_label
from experiments.longrange.summary import (
    DIVERGED,
    level_text,
    loss_ratio,
    paired_difference,
    paired_run,
    select,
    success_ci,
)
from experiments.longrange.tables import (
    ablation_coverage,
    ablation_table,
    budget,
    coverage,
    grid_text,
    learning_time_table,
    legend,
    loss_chosen_at,
    loss_table,
    rates_table,
    rechosen,
)

LONG_LAG = 100  # the 1997 claim: the tanh RNN fails once the lag reaches about 100 steps


def outcome(rows) -> str:
    """``learns`` when the Wilson 95 % interval of the rows' success fraction lies above ½,
    ``fails`` when it lies below, ``open`` when it holds ½ (more seeds would decide) or there
    are no rows."""
    if not rows:
        return "open"
    return ("open", "learns", "fails")[side_of_half(sum(bool(r["success"]) for r in rows),
                                                   len(rows))]


def successes(rows) -> str:
    """``3/5 succeed (Wilson 95 % interval [0.231, 0.882])``."""
    if not rows:
        return "no runs"
    _, lo, hi = success_ci(rows)
    won = sum(bool(r["success"]) for r in rows)
    return f"{won}/{len(rows)} succeed (Wilson 95 % interval [{lo:.3g}, {hi:.3g}])"


def _median(rows, task, model, T, ablation=None) -> float:
    rs = select(rows, task=task, ablation=ablation, model=model, T=T)
    return loss_ratio(rs)[0] if rs else math.nan


class Context:
    """What a verdict needs besides the rows: the rate grids, the cells not yet run, the runs a
    longer budget replaced (``summary.json``'s ``replaced``) and the config's ``sweep`` section
    (each task's ``open_seeds``: the most seeds the protocol gives a cell)."""

    def __init__(self, rows, grids=(), pending=(), replaced=(), sweep=None):
        self.rows, self.replaced, self.sweep = rows, list(replaced), dict(sweep or {})
        self.grids = {(g["task"], g["T"], g["model"]): g for g in grids}
        self.pending = {(p["task"], p["T"], p["model"], p["ablation"]) for p in pending}

    def missing(self, task, T, model, ablation=None) -> str | None:
        """Why a cell has no runs (None when it has)."""
        if select(self.rows, task=task, ablation=ablation, model=model, T=T):
            return None
        name = ablation_label(model, ablation)
        if (task, T, model, ablation) in self.pending:
            return f"{name} at T = {T} not yet run"
        return f"{name} at T = {T} not in this sweep"

    def untested_failure(self, task, T, model, ablation=None) -> list[str]:
        """Why a failure of this cell would not count (its protocol short of the default one,
        :mod:`experiments.longrange.protocol`); empty when it counts."""
        rs = select(self.rows, task=task, ablation=ablation, model=model, T=T)
        short = shortfall(rs, self.grids.get((task, T, model)), T)
        return [f"{ablation_label(model, ablation)} failed with less than a failure needs to "
                f"count: {'; '.join(short)}"] if short else []

    def cell(self, task, T, model, ablation=None) -> list[dict]:
        return select(self.rows, task=task, ablation=ablation, model=model, T=T)

    def open(self, task, T, model, ablation=None) -> str:
        """``Elman (tanh): 2/5 succeed (Wilson 95 % interval [...]), which holds ½ (more seeds
        would decide)``."""
        return (f"{ablation_label(model, ablation)}: "
                f"{successes(self.cell(task, T, model, ablation))}, which holds ½ "
                f"({self.decides(task, T, model, ablation)})")

    def decides(self, task, T, model, ablation=None) -> str:
        """What would decide an open main-sweep cell: its planned runs; more seeds, when it has
        fewer than the protocol's most (``open_seeds``) or too few for any count to exclude ½,
        and for an ablation; else nothing the protocol gives (saying so when its rate was chosen
        by final loss: the repeated search is run for failures only)."""
        if ablation is None:
            planned = {a for t, T_, m, a in self.pending if (t, T_, m) == (task, T, model)}
            for stage, runs in (("longer_budget", "its runs with twice the budget"),
                                ("more_seeds", "its added seeds"),
                                ("rechosen_rate", "its runs at the rate its repeated search found"),
                                ("float64_rerun", "the float64 reruns of its float32 divergences")):
                if stage in planned:
                    return f"{runs} are not yet run"
        n, most = len(rs := self.cell(task, T, model, ablation)), self.sweep.get(task, {}).get("open_seeds")
        if ablation is not None or most is None or n < most or not n or not side_of_half(n, n):
            return "more seeds would decide"  # (no count of n seeds excludes ½: n < 5)
        at = (grid := self.grids.get((task, T, model))) and loss_chosen_at(grid)
        return (f"the protocol's {n} seeds and {budget(rs)} updates are spent: open under it"
                + (f", at a rate chosen by final loss (no setting of its search succeeded within "
                   f"{at} updates)" if at else ""))

    def exhausted(self, task, T, model, ablation=None) -> str:
        """``LSTM, b_f = 1: 2/5 succeed within 20000 updates, median 0.5, rates 1e-05 … 0.1
        (9)``, with the runs that diverged (non-finite, or above ``DIVERGED`` x baseline; the
        median leaves the non-finite out) and those failing still learning (:func:`still_falling`)."""
        rs = select(self.rows, task=task, ablation=ablation, model=model, T=T)
        won = sum(bool(r["success"]) for r in rs)
        lost = sum(bool(r["diverged"]) for r in rs)
        grid = self.grids.get((task, T, model))
        return (f"{LABELS[model]}: {won}/{len(rs)} succeed within {budget(rs)} updates, "
                f"median {_fmt(loss_ratio(rs)[0])}"
                + (f" ({lost} of {len(rs)} diverged: non-finite or > {DIVERGED:g} x baseline)"
                   if lost else "")
                + (f" ({falling} of its {len(rs) - won} failing runs still falling by more "
                   f"than {STILL_LEARNING:.0%} over their last quarter)"
                   if (falling := len(still_falling(rs))) else "") + f", {grid_text(grid)}")


def _verdict(claim: str, T: int, why_not_tested: list[str], holds: bool | None, detail: str,
             failed: list[str], unresolved: list[str] = ()) -> str:
    """``holds``: True (reproduced), False (not reproduced), None (not resolved: the
    ``unresolved`` intervals hold ½)."""
    if why_not_tested and all(w.endswith("not in this sweep") for w in why_not_tested):
        return ""  # a claim about models this sweep does not run
    if why_not_tested:
        return f"{claim}, T = {T}: not tested ({'; '.join(why_not_tested)})."
    if holds is None:
        return f"{claim}, T = {T}: not resolved ({'; '.join(unresolved)})."
    if holds:
        return f"{claim}, T = {T}: reproduced ({detail})."
    return f"{claim}, T = {T}: not reproduced ({'; '.join(failed) or detail})."


def _missing(ctx: Context, task, T, *models, ablation=None) -> list[str]:
    return [w for m in models if (w := ctx.missing(task, T, m, ablation))]


def hochreiter(ctx: Context, T: int) -> str:
    """LSTM (b_f = 1) learns, the tanh RNN fails (adding, T); a claim about lags T >=
    ``LONG_LAG`` (below them it is not tested, and the successes are given as measured)."""
    lstm, elman = (outcome(ctx.cell("adding", T, m)) for m in ("lstm_fb1", "elman"))
    why = _missing(ctx, "adding", T, "lstm_fb1", "elman")
    if T < LONG_LAG and not why:
        why = [f"the claim is about lags T >= {LONG_LAG}; measured: LSTM b_f = 1 "
               f"{successes(ctx.cell('adding', T, 'lstm_fb1'))}, Elman "
               f"{successes(ctx.cell('adding', T, 'elman'))}"]
    holds = (False if elman == "learns" or lstm == "fails"
             else True if (lstm, elman) == ("learns", "fails") else None)
    if not why and elman != "learns" and lstm == "fails":  # refuted by the LSTM's failure
        why = ctx.untested_failure("adding", T, "lstm_fb1")
    if not why and holds:  # reproduced on the tanh RNN's failure
        why = ctx.untested_failure("adding", T, "elman")
    return _verdict("Hochreiter & Schmidhuber 1997 (LSTM learns, tanh RNN fails)", T, why, holds,
                    f"LSTM b_f = 1 {successes(ctx.cell('adding', T, 'lstm_fb1'))}; "
                    + ctx.exhausted("adding", T, "elman"),
                    [f"{LABELS['elman']} learns: {successes(ctx.cell('adding', T, 'elman'))}"]
                    if elman == "learns" else [ctx.exhausted("adding", T, "lstm_fb1")],
                    [ctx.open("adding", T, m) for m, o in (("lstm_fb1", lstm), ("elman", elman))
                     if o == "open"])


def learns(ctx: Context, claim: str, task: str, model: str, T: int) -> str:
    """One model learns at T (its success fraction's interval above ½)."""
    rs = ctx.cell(task, T, model)
    result = outcome(rs)
    why = _missing(ctx, task, T, model)
    if not why and result == "fails":
        why = ctx.untested_failure(task, T, model)
    return _verdict(claim, T, why, {"learns": True, "fails": False}.get(result),
                    f"{LABELS[model]} {successes(rs)}" if rs else "",
                    [ctx.exhausted(task, T, model)], [ctx.open(task, T, model)])


PAIRED = ("adding", "lstm_fb1", "lstm_chrono")  # (task, slower, faster) of Tallec & Ollivier


def paired_open(rows, T: int) -> set[tuple[str, int, str]]:
    """The main-sweep cells ``(task, T, model)`` on which :func:`tallec` hinges at T: both of its
    models when some of their paired runs succeed and the interval of the paired difference holds
    0 (more seeds, for both models, would decide)."""
    task, slow, fast = PAIRED
    ctx = Context(rows)
    a, b = ctx.cell(task, T, slow), ctx.cell(task, T, fast)
    if not any(r["success"] for r in a + b):
        return set()
    _, lo, hi, *_ = paired_difference(a, b)
    return {(task, T, slow), (task, T, fast)} if lo <= 0 <= hi else set()


def tallec(ctx: Context, T: int) -> str:
    """Chrono initialisation learns faster than b_f = 1: the paired difference of updates to
    success (b_f = 1 − chrono, :func:`~experiments.longrange.summary.paired_difference`) has an
    interval above 0 (reproduced), below 0 (not reproduced: b_f = 1 is faster) or holding 0 (not
    resolved). The final losses cannot decide it: a run stops at its first evaluation
    under the success threshold, so a successful run's loss is wherever that evaluation fell."""
    task, slow, fast = PAIRED
    fb1, chrono = ctx.cell(task, T, slow), ctx.cell(task, T, fast)
    why = _missing(ctx, task, T, fast, slow)
    if not why and not any(r["success"] for r in chrono + fb1):
        why = ["neither succeeds: " + ctx.exhausted(task, T, fast) + "; "
               + ctx.exhausted(task, T, slow)]
    d, lo, hi, level, n, censored = paired_difference(fb1, chrono) if not why else (0,) * 6
    detail = (f"updates to success, b_f = 1 − chrono, median over {n} paired seeds {d:g} "
              f"[{lo:g}, {hi:g}] (coverage {level_text(level)})"
              + (f"; pairs holding a run without success: {censored}, each counted as budget + 1"
                 if censored else ""))
    ways = {m: ctx.decides(task, T, m) for m in (slow, fast)}
    decides = ([f"{LABELS[m]}: {w}" for m, w in ways.items() if w.endswith("not yet run")]
               or ["more seeds would decide" if "more seeds would decide" in ways.values()
                   else f"the protocol's {n} paired seeds are spent"])
    return _verdict("Tallec & Ollivier 2018 (chrono learns faster than b_f = 1)", T, why,
                    True if lo > 0 else False if hi < 0 else None, detail,
                    [detail + ": b_f = 1 is faster"],
                    [detail + ": the interval holds 0", *decides])


def arjovsky(ctx: Context, T: int) -> str:
    """Copy task: the LSTM stays near the baseline (fails) while the uRNN (positive control)
    solves it (learns)."""
    why = _missing(ctx, "copy", T, "urnn", "lstm_fb1")
    lstm = outcome(ctx.cell("copy", T, "lstm_fb1"))
    if not why and outcome(ctx.cell("copy", T, "urnn")) != "learns":
        why = [f"the positive control did not solve T = {T}: "
               + ctx.exhausted("copy", T, "urnn")]
    if not why and lstm == "fails":
        why = ctx.untested_failure("copy", T, "lstm_fb1")
    return _verdict("Arjovsky et al. 2016 (copy: LSTM near the baseline, uRNN solves it)", T, why,
                    {"fails": True, "learns": False}.get(lstm),
                    f"uRNN {successes(ctx.cell('copy', T, 'urnn'))}; "
                    + ctx.exhausted("copy", T, "lstm_fb1"),
                    [ctx.exhausted("copy", T, "lstm_fb1") + " (it learns)"],
                    [ctx.open("copy", T, "lstm_fb1")])


def truncation(ctx: Context, T: int, k: int) -> list[str]:
    """Truncated BPTT of k steps cannot learn when no marker lies in the last k steps, while
    full BPTT on the same task learns (the control: when it does not learn, the claim is not
    tested); and, as measured, k on the plain adding problem."""
    out = []
    cut_tag = f"tbptt_late_k{k}"
    for m in sorted({r["model"] for r in ctx.rows if r["ablation"] == cut_tag}
                    | {c[2] for c in ctx.pending if c[3] == cut_tag and c[1] == T}):
        cut = outcome(ctx.cell("adding_late", T, m, cut_tag))
        why = [w for a in ("late_full", cut_tag) if (w := ctx.missing("adding_late", T, m, a))]
        if not why and cut != "learns" and \
                outcome(ctx.cell("adding_late", T, m, "late_full")) != "learns":
            why = ["the full-BPTT control did not learn adding_late: "
                   + ctx.exhausted("adding_late", T, m, "late_full")]
        if not why and cut == "fails":
            why = ctx.untested_failure("adding_late", T, m, cut_tag)
        out.append(_verdict(
            f"Truncated BPTT (k = {k}) cannot bridge a lag > k, {LABELS[m]} on adding_late", T,
            why, {"fails": True, "learns": False}.get(cut),
            f"full BPTT {successes(ctx.cell('adding_late', T, m, 'late_full'))}; truncated: "
            + ctx.exhausted("adding_late", T, m, cut_tag)
            + ("; the rates were searched for the full-BPTT control"
               if ("adding_late", T, m) in ctx.grids else ""),
            [f"truncated BPTT learns: {successes(ctx.cell('adding_late', T, m, cut_tag))}"],
            [ctx.open("adding_late", T, m, cut_tag)]))
    for m in sorted({r["model"] for r in ctx.rows if r["ablation"] == f"tbptt_k{k}"}):
        cut = _median(ctx.rows, "adding", m, T, f"tbptt_k{k}")
        runs = {paired_run(r) for r in ctx.cell("adding", T, m, f"tbptt_k{k}")}
        full = loss_ratio([r for r in select(ctx.rows + ctx.replaced, task="adding", model=m, T=T)
                           if paired_run(r) in runs])[0] if runs else math.nan
        if math.isfinite(cut) and math.isfinite(full):
            out.append(f"As measured on the plain adding problem (its second marker falls in the "
                       f"last {k} steps in {2 * k / T:.0%} of sequences), {LABELS[m]}, T = {T}: "
                       f"k = {k} {_fmt(cut)} vs full BPTT {_fmt(full)}. This does not test "
                       "the lag: the weights that store a marked value are learned from those "
                       "sequences, inside the window, and the same weights (shared over time) "
                       "store the first marker's value as well; adding_late removes them.")
    return out


def statements(rows, grids=(), pending=(), n_test: int | None = None, k: int | None = None,
               replaced=(), sweep=None):
    """One verdict per claim and T (see the module docstring); ``sweep``: the config's."""
    ctx = Context(rows, grids, pending, replaced, sweep)
    adding = sorted({r["T"] for r in select(rows, task="adding")}
                    | {p["T"] for p in pending if p["task"] == "adding"})
    copy = sorted({r["T"] for r in select(rows, task="copy")}
                  | {p["T"] for p in pending if p["task"] == "copy"})
    out = _merged([(T, hochreiter(ctx, T)) for T in adding])
    out += _merged([(T, learns(ctx, "Le et al. 2015 (IRNN learns, SGD + clipping)", "adding",
                               "irnn_sgd", T)) for T in adding])
    out += _merged([(T, learns(ctx, "Le et al. 2015 (IRNN learns, Adam)", "adding", "irnn", T))
                    for T in adding])
    out += _merged([(T, tallec(ctx, T)) for T in adding])
    out += _merged([(T, learns(ctx, "Orvieto et al. 2023 (LRU block learns)", "adding",
                               "lru_block", T)) for T in adding])
    out += _merged([(T, learns(ctx, "Arjovsky et al. 2016 (the uRNN solves the copy task: the "
                               "positive control)", "copy", "urnn", T)) for T in copy])
    out += _merged([(T, arjovsky(ctx, T)) for T in copy])
    if k is not None:
        late = sorted({r["T"] for r in rows if r["task"] == "adding_late"}
                      | {p["T"] for p in pending if p["task"] == "adding_late"})
        for T in late:
            out += truncation(ctx, T, k)
    out.append(at_constant(rows, [T for T in adding  # failures that count (protocol.py)
                                  if outcome(ctx.cell("adding", T, "elman")) == "fails"
                                  and not ctx.untested_failure("adding", T, "elman")], n_test))
    out.append(at_linear_floor(rows))
    out.append(jacobian_relation(rows))
    return [s for s in out if s]


def _merged(verdicts: list[tuple[int, str]]) -> list[str]:
    """One claim's verdicts, those that differ only in T joined: ``T = 50, 100: not tested
    (… at T = 50, 100 not yet run …)``."""
    groups: dict[str, list[int]] = {}
    for T, line in verdicts:
        if not line:
            continue
        groups.setdefault(line.replace(f"T = {T}", "T = {T}"), []).append(T)
    return [line.replace("T = {T}", "T = " + ", ".join(map(str, ts)))
            for line, ts in groups.items()]


def readme_table(folder: Path) -> str:
    """The README block's tables and verdicts for one results folder."""
    summary = read_json(Path(folder) / "summary.json")
    rows, pending = summary["rows"], summary.get("not_yet_run", [])
    config = Path(folder) / "config.json"
    recorded = read_json(config)["config"] if config.exists() else {}
    train = recorded.get("train", {})
    parts = []
    if not summary.get("complete"):
        parts.append(f"**Partial sweep**: {len(pending)} (task, T, model, variant) cells not yet "
                     "run; rerun the command to continue.")
    for task in ("adding", "copy", "adding_hs97"):
        table = loss_table(rows, task, LABELS)
        if table:
            parts.append(f"Final test loss / baseline, {task} (median [order-statistic interval: "
                         f"coverage {coverage(rows, task)}]):\n\n{table}" + legend(table))
        times = learning_time_table(rows, task, LABELS)
        if times:
            parts.append(f"Updates to success, {task}: median over the seeds that succeed "
                         f"(successes / seeds in the budget):\n\n{times}")
    shorter = summary.get("replaced", [])  # runs a longer budget replaced: ablations pair with them
    ablations = ablation_table(rows + shorter, LABELS)
    if ablations:
        parts.append("Ablations (median [order-statistic interval: coverage "
                     f"{ablation_coverage(rows + shorter)}]):\n\n{ablations}"
                     + legend(ablations))
    rates = rates_table(summary.get("grids", []), LABELS)
    if rates:
        parts.append("Chosen peak learning rate per T (tuning successes / seeds at it; edge: at "
                     "the grid's limit; by loss: no setting succeeded, and the lowest median "
                     "final loss chose it; repeated at B: successes / runs of the search repeated "
                     "at the reported budget B" + ("; chosen / by loss at B: the choice of that "
                                                   "search, by a success or by final loss"
                                                   if any(map(rechosen, summary["grids"])) else "")
                     + f"):\n\n{rates}")
    lines = statements(rows, summary.get("grids", []), pending, train.get("n_test"),
                       train.get("tbptt_truncation"), shorter, recorded.get("sweep"))
    if lines:
        parts.append("\n".join(f"- {s}" for s in lines))
    errors = error_rates(recorded.get("sweep", {}), PAIRED)
    if errors:
        parts.append(errors)
    return "\n\n".join(parts)
