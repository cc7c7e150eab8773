"""The README's verdicts, computed from ``summary.json``, and its block (the tables of
:mod:`experiments.longrange.tables`, then the verdicts).

Every claim gets one verdict per T from a fixed rule, so the README cannot claim more than the
data show:

- a model *learns* at T when its median final test loss / baseline over seeds is <= 0.1 (the
  success threshold: more than half of its seeds succeeded); it *fails* when the median is
  >= 0.5; a run *diverged* when its final loss is non-finite or > ``DIVERGED`` x baseline.
- **reproduced**: the claim's rule holds; where the claim is that a model fails, the verdict
  names what that model exhausted (budget, rates). **not reproduced**: it does not, and the verdict names
  what was exhausted for the model that did not do what the claim says: its budget in updates
  and the rates searched (with a note when the chosen rate is still at an edge of the grid).
  **not tested**: a cell the claim needs has no runs (``not yet run`` when it is planned but
  missing from the results; ``not in this sweep`` when the config does not run it; a claim
  none of whose models this sweep runs is left out), or the
  copy task's positive control (the uRNN) did not solve that T, so a failure of the other
  models there would say nothing about them (likewise when full BPTT, the control of the
  truncation ablation, does not learn ``adding_late``), or T is below the lags the claim is
  about, or the outcome rests on a model failing under less than the default protocol (its
  budget and rate search, :mod:`experiments.longrange.protocol`): then the protocol decided it.

Claims: Hochreiter & Schmidhuber (1997): the LSTM (b_f = 1) learns where the tanh RNN fails,
at lags T >= ``LONG_LAG`` = 100 (their long-lag experiments; below it the medians are reported as
measured, untested); Le
et al. (2015): the IRNN learns the adding problem (with SGD and clipping as they trained it,
and with Adam); Tallec & Ollivier (2018): chrono initialisation learns faster than b_f = 1
(fewer updates to success, paired over seeds); Orvieto et al. (2023): the LRU in its block
learns; Arjovsky et al. (2016): on the copy task the LSTM stays near the memoryless baseline
while the uRNN solves it; truncated BPTT of k steps cannot learn a lag beyond k
(``adding_late``: no marker in the last k steps).

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
from experiments.longrange.floors import at_constant, at_linear_floor
from experiments.longrange.floors import fmt as _fmt
from experiments.longrange.jacobian_fit import jacobian_relation
from experiments.longrange.protocol import shortfall
from experiments.longrange.style import LABELS, ablation_label
from experiments.longrange.summary import level_text, loss_ratio, paired_difference, select
from experiments.longrange.tables import (
    ablation_table,
    budget,
    coverage,
    grid_text,
    learning_time_table,
    legend,
    loss_table,
    rates_table,
)

LEARNS, FAILS = 0.1, 0.5
LONG_LAG = 100  # the 1997 claim: the tanh RNN fails once the lag reaches about 100 steps
def _median(rows, task, model, T, ablation=None) -> float:
    rs = select(rows, task=task, ablation=ablation, model=model, T=T)
    return loss_ratio(rs)[0] if rs else math.nan


class Context:
    """What a verdict needs besides the rows: the rate grids and the cells not yet run."""

    def __init__(self, rows, grids=(), pending=()):
        self.rows = rows
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

    def exhausted(self, task, T, model, ablation=None) -> str:
        """``LSTM, b_f = 1: 2/5 succeed within 20000 updates, rates 1e-05 … 0.1 (9)``."""
        rs = select(self.rows, task=task, ablation=ablation, model=model, T=T)
        won = sum(bool(r["success"]) for r in rs)
        grid = self.grids.get((task, T, model))
        return (f"{LABELS[model]}: {won}/{len(rs)} succeed within {budget(rs)} updates, "
                f"median {_fmt(loss_ratio(rs)[0])}, {grid_text(grid)}")


def _verdict(claim: str, T: int, why_not_tested: list[str], holds: bool, detail: str,
             failed: list[str]) -> str:
    if why_not_tested and all(w.endswith("not in this sweep") for w in why_not_tested):
        return ""  # a claim about models this sweep does not run
    if why_not_tested:
        return f"{claim}, T = {T}: not tested ({'; '.join(why_not_tested)})."
    if holds:
        return f"{claim}, T = {T}: reproduced ({detail})."
    return f"{claim}, T = {T}: not reproduced ({'; '.join(failed) or detail})."


def _missing(ctx: Context, task, T, *models, ablation=None) -> list[str]:
    return [w for m in models if (w := ctx.missing(task, T, m, ablation))]


def hochreiter(ctx: Context, T: int) -> str:
    """LSTM (b_f = 1) learns, the tanh RNN fails (adding, T); a claim about lags T >=
    ``LONG_LAG`` (below them it is not tested, and the medians are given as measured)."""
    lstm, elman = (_median(ctx.rows, "adding", m, T) for m in ("lstm_fb1", "elman"))
    learns = "learns" if elman <= LEARNS else f"does not fail (median < {FAILS:g})"
    failed = ([ctx.exhausted("adding", T, "lstm_fb1")] if not lstm <= LEARNS else []) + (
        [f"{LABELS['elman']} {learns}: median {_fmt(elman)}"] if not elman >= FAILS else [])
    why = _missing(ctx, "adding", T, "lstm_fb1", "elman")
    if T < LONG_LAG and not why:
        why = [f"the claim is about lags T >= {LONG_LAG}; measured: LSTM b_f = 1 {_fmt(lstm)} vs "
               f"Elman {_fmt(elman)}"]
    if not why and elman >= FAILS:  # the outcome rests on a failure: Elman's, or the LSTM's too
        why = ctx.untested_failure("adding", T, "elman" if lstm <= LEARNS else "lstm_fb1")
    return _verdict("Hochreiter & Schmidhuber 1997 (LSTM learns, tanh RNN fails)", T, why,
                    lstm <= LEARNS and elman >= FAILS,
                    f"LSTM b_f = 1 {_fmt(lstm)} vs Elman {_fmt(elman)}; "
                    + ctx.exhausted("adding", T, "elman"), failed)


def learns(ctx: Context, claim: str, task: str, model: str, T: int) -> str:
    """One model learns (median <= 0.1) at T."""
    med = _median(ctx.rows, task, model, T)
    why = _missing(ctx, task, T, model)
    if not why and not med <= LEARNS:
        why = ctx.untested_failure(task, T, model)
    return _verdict(claim, T, why, med <= LEARNS,
                    f"{LABELS[model]} {_fmt(med)}, "
                    f"{sum(bool(r['success']) for r in select(ctx.rows, task=task, model=model, T=T))}"
                    f"/{len(select(ctx.rows, task=task, model=model, T=T))} succeed",
                    [ctx.exhausted(task, T, model)])


def tallec(ctx: Context, T: int) -> str:
    """Chrono initialisation learns faster than b_f = 1: the paired difference of updates to
    success (b_f = 1 − chrono, :func:`~experiments.longrange.summary.paired_difference`) has an
    interval above 0. The final losses cannot decide it: a run stops at its first evaluation
    under the success threshold, so a successful run's loss is wherever that evaluation fell."""
    chrono, fb1 = (select(ctx.rows, task="adding", model=m, T=T)
                   for m in ("lstm_chrono", "lstm_fb1"))
    why = _missing(ctx, "adding", T, "lstm_chrono", "lstm_fb1")
    if not why and not any(r["success"] for r in chrono + fb1):
        why = ["neither succeeds: " + ctx.exhausted("adding", T, "lstm_chrono") + "; "
               + ctx.exhausted("adding", T, "lstm_fb1")]
    d, lo, hi, level, n, censored = paired_difference(fb1, chrono) if not why else (0,) * 6
    detail = (f"updates to success, b_f = 1 − chrono, median over {n} paired seeds {d:g} "
              f"[{lo:g}, {hi:g}] (coverage {level_text(level)})"
              + (f"; {censored} pairs hold a run without success, counted as its budget + 1"
                 if censored else ""))
    return _verdict("Tallec & Ollivier 2018 (chrono learns faster than b_f = 1)", T, why,
                    lo > 0, detail,
                    [detail + (": b_f = 1 is faster" if hi < 0 else ": the interval holds 0")])


def arjovsky(ctx: Context, T: int) -> str:
    """Copy task: the LSTM stays near the baseline while the uRNN (positive control) solves it."""
    why = _missing(ctx, "copy", T, "urnn", "lstm_fb1")
    urnn, lstm = (_median(ctx.rows, "copy", m, T) for m in ("urnn", "lstm_fb1"))
    if not why and not urnn <= LEARNS:
        why = [f"the positive control did not solve T = {T}: "
               + ctx.exhausted("copy", T, "urnn")]
    if not why and lstm >= FAILS:
        why = ctx.untested_failure("copy", T, "lstm_fb1")
    return _verdict("Arjovsky et al. 2016 (copy: LSTM near the baseline, uRNN solves it)", T, why,
                    lstm >= FAILS, f"uRNN {_fmt(urnn)}, LSTM b_f = 1 {_fmt(lstm)}; "
                    + ctx.exhausted("copy", T, "lstm_fb1"),
                    [ctx.exhausted("copy", T, "lstm_fb1") + " (it learns)"])


def truncation(ctx: Context, T: int, k: int) -> list[str]:
    """Truncated BPTT of k steps cannot learn when no marker lies in the last k steps, while
    full BPTT on the same task learns (the control: when it does not learn either, the claim is
    not tested); and, as measured, k on the plain adding problem."""
    out = []
    for m in sorted({r["model"] for r in ctx.rows if r["ablation"] == f"tbptt_late_k{k}"}
                    | {c[2] for c in ctx.pending if c[3] == f"tbptt_late_k{k}" and c[1] == T}):
        cut = _median(ctx.rows, "adding_late", m, T, f"tbptt_late_k{k}")
        full = _median(ctx.rows, "adding_late", m, T, "late_full")
        why = [w for a in ("late_full", f"tbptt_late_k{k}")
               if (w := ctx.missing("adding_late", T, m, a))]
        if not why and not full <= LEARNS and cut >= FAILS:  # the control failed as well
            why = ["the full-BPTT control did not learn adding_late either: "
                   + ctx.exhausted("adding_late", T, m, "late_full")]
        if not why and cut >= FAILS:
            why = ctx.untested_failure("adding_late", T, m, f"tbptt_late_k{k}")
        failed = [f"truncated BPTT learns: median {_fmt(cut)}"]
        out.append(_verdict(f"Truncated BPTT (k = {k}) cannot bridge a lag > k, {LABELS[m]} on "
                            "adding_late", T, why, cut >= FAILS and full <= LEARNS,
                            f"k = {k} {_fmt(cut)} vs full BPTT {_fmt(full)}; truncated: "
                            + ctx.exhausted("adding_late", T, m, f"tbptt_late_k{k}")
                            + (" searched for the full-BPTT control"
                               if ("adding_late", T, m) in ctx.grids else ""), failed))
    for m in sorted({r["model"] for r in ctx.rows if r["ablation"] == f"tbptt_k{k}"}):
        cut = _median(ctx.rows, "adding", m, T, f"tbptt_k{k}")
        full = _median(ctx.rows, "adding", m, T)
        if math.isfinite(cut) and math.isfinite(full):
            out.append(f"As measured on the plain adding problem (its second marker falls in the "
                       f"last {k} steps in {2 * k / T:.0%} of sequences), {LABELS[m]}, T = {T}: "
                       f"k = {k} {_fmt(cut)} vs full BPTT {_fmt(full)}. This does not test "
                       "the lag: the weights that store a marked value are learned from those "
                       "sequences, inside the window, and the same weights (shared over time) "
                       "store the first marker's value as well; adding_late removes them.")
    return out


def statements(rows, grids=(), pending=(), n_test: int | None = None, k: int | None = None):
    """One verdict per claim and T (see the module docstring)."""
    ctx = Context(rows, grids, pending)
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
                                  if _median(rows, "adding", "elman", T) >= FAILS
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
    train = read_json(config)["config"]["train"] if config.exists() else {}
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
    ablations = ablation_table(rows, LABELS)
    if ablations:
        parts.append(f"Ablations (median [order-statistic interval]):\n\n{ablations}"
                     + legend(ablations))
    rates = rates_table(summary.get("grids", []), LABELS)
    if rates:
        parts.append("Chosen peak learning rate per T (tuning successes / seeds at it; edge: at "
                     f"the grid's limit):\n\n{rates}")
    lines = statements(rows, summary.get("grids", []), pending, train.get("n_test"),
                       train.get("tbptt_truncation"))
    if lines:
        parts.append("\n".join(f"- {s}" for s in lines))
    return "\n\n".join(parts)
