"""The README's tables and its reproduced-or-not statements, computed from ``summary.json``.

Each statement names the paper, the claim, the measured numbers (the median final test loss /
baseline over seeds, the tables' statistic) and a verdict from a fixed rule, so the README cannot
claim more than the data show:

- *learns*: median loss / baseline <= 0.1 (the success threshold); *fails*: >= 0.5; a run
  *diverged* when its final loss is non-finite or > ``DIVERGED`` x baseline (its row's flag).
- Hochreiter & Schmidhuber (1997): the LSTM (b_f = 1) learns where the tanh RNN fails. Reported:
  the longest T at which it does, and at the longer T the LSTM's median updates to success (over
  the seeds that succeed) against the update budget, with its initial log ||dh_T/dh_0||.
- Le et al. (2015): the IRNN learns the adding problem at long T (they report T up to 400) while
  the tanh RNN does not. Every T is listed; one where the IRNN's runs diverged says so, with the
  tuned learning rate and the tuning lengths.
- Where the tanh RNN fails: its median final loss / baseline against the constant prediction's
  loss / baseline on the same test set (the summary's ``constant_loss_over_baseline``), within
  the largest relative difference over those T; "learns only the constant prediction" when the
  constant's ratio lies inside the median's 95 % bootstrap interval at every such T, "ends near"
  otherwise (naming the T where it does not); next to its initial log ||dh_T/dh_0||. The
  constant's own ratio differs from 1 by the test set's sampling error: for the adding problem
  ``y - 1`` is triangular on [-1, 1], so ``E(y-1)^4 / Var(y)^2 = 2.4`` and it has standard
  deviation ``sqrt(1.4 / n_test)``.
- Arjovsky et al. (2016): on the copy task the LSTM stays near the memoryless baseline at long
  delays (they report it for T = 500 at their budget).
- Tallec & Ollivier (2018): chrono initialisation reaches a lower loss than b_f = 1 at long T.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from experiments.common import read_json
from experiments.longrange.config import MODELS
from experiments.longrange.style import LABELS
from experiments.longrange.summary import (
    DIVERGED,
    by,
    learning_time,
    loss_ratio,
    select,
    success_ci,
)

LEARNS, FAILS = 0.1, 0.5
ADDING_KURTOSIS = 2.4  # E(y-1)^4 / Var(y)^2 of the adding problem's target (triangular on [0, 2])
NONFINITE_LEGEND = {  # what a loss-table cell means, for the line under the table
    "all": "– (k/n non-finite): every run's final loss was non-finite, so there is no median",
    "some": "a number followed by (k/n non-finite): the median and interval of the other runs",
    "none": "– alone: not run"}


def _fmt(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.3g}"


def _nonfinite(rows) -> int:
    return sum(r["loss_over_baseline"] is None for r in rows)


def _cell(rows) -> str:
    """``median [low, high]``, with ``(k/n non-finite)`` when k of the n runs have no final loss."""
    med, lo, hi = loss_ratio(rows)
    k = _nonfinite(rows)
    note = f" ({k}/{len(rows)} non-finite)" if k else ""
    return ("–" if not math.isfinite(med) else f"{_fmt(med)} [{_fmt(lo)}, {_fmt(hi)}]") + note


def loss_table(rows, task: str, labels: dict[str, str]) -> str:
    """Median final loss / baseline [95 % bootstrap interval] per T (rows) and model (columns)."""
    main = select(rows, task=task)
    if not main:
        return ""
    models = [m for m in MODELS if any(r["model"] == m for r in main)]
    g = by(main, "T", "model")
    lengths = sorted({r["T"] for r in main})
    lines = ["| T | " + " | ".join(labels[m] for m in models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for T in lengths:
        lines.append(f"| {T} | " + " | ".join(_cell(g[(T, m)]) if (T, m) in g else "–"
                                               for m in models) + " |")
    return "\n".join(lines)


def learning_time_table(rows, task: str, labels: dict[str, str]) -> str:
    """Median updates to success over the seeds that succeed, with their count, per T and model:
    ``400 (2/3)``; ``never (0/3)`` when no seed succeeds."""
    main = select(rows, task=task)
    if not main:
        return ""
    models = [m for m in MODELS if any(r["model"] == m for r in main)]
    g = by(main, "T", "model")
    lines = ["| T | " + " | ".join(labels[m] for m in models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for T in sorted({r["T"] for r in main}):
        cells = []
        for m in models:
            rs = g.get((T, m), [])
            won = sum(r["steps_to_success"] is not None for r in rs)
            med = f"{learning_time(rs)[0]:.0f}" if won else "never"
            cells.append(f"{med} ({won}/{len(rs)})" if rs else "–")
        lines.append(f"| {T} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ablation_table(rows, labels: dict[str, str]) -> str:
    """Median final loss / baseline [interval] of each ablation next to its unablated model."""
    abl = [r for r in rows if r["ablation"] not in (None, "tune")]
    if not abl:
        return ""
    variants = list(dict.fromkeys((r["model"], r["ablation"]) for r in abl))
    lengths = sorted({r["T"] for r in abl})
    lines = ["| model | variant | " + " | ".join(f"T = {T}" for T in lengths) + " |",
             "|---" * (len(lengths) + 2) + "|"]
    for m, a in sorted(variants) + sorted({(m, None) for m, _ in variants}):
        rs = [r for r in rows if r["model"] == m and r["ablation"] == a and r["task"] == "adding"]
        cells = [_cell([r for r in rs if r["T"] == T]) if any(r["T"] == T for r in rs) else "–"
                 for T in lengths]
        lines.append(f"| {labels[m]} | {a or 'as in the sweep'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tuned_table(summary: dict, labels: dict[str, str]) -> str:
    """Each tuned model's chosen learning rate and recurrent init."""
    tuned = summary.get("tuned") or {}
    if not tuned:
        return ""
    return "Tuned settings (lowest mean over the tuning T of the median loss / baseline): " + (
        "; ".join(f"{labels[m]}: lr {s['lr']:g}" + (", Gaussian W_h" if s["init"] == "gaussian"
                                                    else "") for m, s in tuned.items())) + "."


def _median(rows, task, model, T) -> float:
    rs = select(rows, task=task, model=model, T=T)
    return loss_ratio(rs)[0] if rs else math.nan


def _median_key(rows, task, model, T, key) -> float:
    vals = [r[key] for r in select(rows, task=task, model=model, T=T) if r.get(key) is not None]
    return float(np.median(vals)) if vals else math.nan


def _longest(rows, lengths, *models) -> int | None:
    """The longest adding-problem T at which every one of ``models`` has a finite median."""
    both = [t for t in lengths
            if all(math.isfinite(_median(rows, "adding", m, t)) for m in models)]
    return both[-1] if both else None


def _joined(values) -> str:
    return ", ".join(map(str, values))


def hochreiter(rows, lengths) -> str:
    """The longest T where LSTM b_f = 1 learns and Elman fails; why it stops learning beyond."""
    lstm = {t: _median(rows, "adding", "lstm_fb1", t) for t in lengths}
    elman = {t: _median(rows, "adding", "elman", t) for t in lengths}
    if not any(math.isfinite(lstm[t]) and math.isfinite(elman[t]) for t in lengths):
        return ""
    head = "Hochreiter & Schmidhuber 1997 (LSTM bridges long lags, the tanh RNN does not): adding"
    ok = [t for t in lengths if lstm[t] <= LEARNS and elman[t] >= FAILS]
    if not ok:
        return (f"{head}, T = {_joined(lengths)}: LSTM b_f = 1 "
                f"{', '.join(_fmt(lstm[t]) for t in lengths)} vs Elman "
                f"{', '.join(_fmt(elman[t]) for t in lengths)} — not reproduced at any T.")
    T = ok[-1]
    text = (f"{head} — reproduced up to T = {T} (LSTM b_f = 1 {_fmt(lstm[T])} vs Elman "
            f"{_fmt(elman[T])})")
    beyond = [t for t in lengths if t > T and not lstm[t] <= LEARNS]
    if not beyond:
        return text + "."
    rs = {t: select(rows, task="adding", model="lstm_fb1", T=t) for t in lengths}
    budget = max(r["steps"] for t in lengths for r in rs[t])
    won = {t: sum(r["steps_to_success"] is not None for r in rs[t]) for t in lengths}
    times = [(t, learning_time(rs[t])[0]) for t in lengths if won[t]]
    grows = all(a <= b for (_, a), (_, b) in zip(times, times[1:], strict=False))
    jac = [_fmt(_median_key(rows, "adding", "lstm_fb1", t, "init_log_jacobian")) for t in lengths]
    return (text + f"; at T = {_joined(beyond)} not within {budget} updates (median "
            f"{', '.join(_fmt(lstm[t]) for t in beyond)}): its median updates to success"
            f"{' grow with T' if grows else ''}: "
            + ", ".join(f"{v:.0f}" for _, v in times) + f" at T = {_joined(t for t, _ in times)}"
            + " (seeds that succeed: " + ", ".join(f"{won[t]}/{len(rs[t])}" for t in lengths)
            + f" at T = {_joined(lengths)}), while its initial median log ||dh_T/dh_0|| is "
            + ", ".join(jac) + ".")


def le(rows, lengths, tuned: dict) -> str:
    """The IRNN's median at every T; a T where its runs diverged says how many and at which lr."""
    parts, bad = [], []
    for t in lengths:
        rs = select(rows, task="adding", model="irnn", T=t)
        if not rs:
            continue
        n, nf, div = len(rs), _nonfinite(rs), sum(bool(r["diverged"]) for r in rs)
        med = loss_ratio(rs)[0]
        if div == n or not math.isfinite(med):
            bad.append(t)
            why = ([f"{nf}/{n} non-finite"] if nf else []) + (
                [f"{n - nf}/{n} > {DIVERGED:g} x baseline"] if n > nf else [])
            parts.append(f"T = {t}: diverged ({', '.join(why)})")
        else:
            parts.append(f"T = {t}: {_fmt(med)} ({success_ci(rs)[0]:.0%} of seeds succeed"
                         + (f"; {div}/{n} diverged" if div else "") + ")")
    if not parts:
        return ""
    learned = [t for t in lengths if t not in bad and _median(rows, "adding", "irnn", t) <= LEARNS]
    verdict = f"learns up to T = {max(learned)}" if learned else "not reproduced at any T"
    if bad:
        lr = (tuned or {}).get("irnn", {}).get("lr")
        tune = [r for r in select(rows, ablation="tune", model="irnn") if r["lr"] == lr]
        at = sorted({r["T"] for r in tune})
        setting = "" if lr is None else f" at the tuned Adam learning rate {lr:g}" + (
            f" (chosen at T = {_joined(at)}, where {sum(bool(r['diverged']) for r in tune) or 'none'}"
            f" of its {len(tune)} runs at that rate diverged)" if at else "")
        verdict += f"; diverges at T = {_joined(bad)}{setting}"
    return ("Le et al. 2015 (IRNN learns the adding problem at long T): median "
            + ", ".join(parts) + f" — {verdict}.")


def at_constant(rows, lengths, n_test: int | None) -> str:
    """Where the tanh RNN fails: its median loss / baseline next to the constant prediction's on
    the same test set, and its initial log-Jacobian (why only the constant is learnable)."""
    fails = [t for t in lengths if _median(rows, "adding", "elman", t) >= FAILS]
    constant = {t: _median_key(rows, "adding", "elman", t, "constant_loss_over_baseline")
                for t in fails}
    if not fails or not all(math.isfinite(c) for c in constant.values()):
        return ""
    ci = {t: loss_ratio(select(rows, task="adding", model="elman", T=t)) for t in fails}
    med = {t: ci[t][0] for t in fails}
    within = max(abs(med[t] / constant[t] - 1) for t in fails)
    outside = [t for t in fails if not ci[t][1] <= constant[t] <= ci[t][2]]
    jac = {t: _median_key(rows, "adding", "elman", t, "init_log_jacobian") for t in fails}
    text = (f"Where the tanh RNN fails (T = {_joined(fails)}), it "
            + ("ends near" if outside else "learns only") + " the constant prediction: its median "
            "final loss / baseline (" + ", ".join(f"{med[t]:.3f}" for t in fails)
            + (") differs from" if outside else ") equals") + " the constant prediction's on the "
            "same test set (" + ", ".join(f"{constant[t]:.3f}" for t in fails)
            + f") {'by at most' if outside else 'within'} {within:.1%}; the "
            "constant's is " + (f"outside the median's 95 % bootstrap interval at T = "
                                f"{_joined(outside)}" if outside else
                                "inside the median's 95 % bootstrap interval at every T")
            + ". Its initial median log ||dh_T/dh_0|| is "
            + ", ".join(_fmt(jac[t]) for t in fails) + ": a change of the initial state reaches "
            f"h_T scaled by about e^{jac[fails[-1]]:.0f} at T = {fails[-1]} (the first marked "
            "input is >= T/2 steps back).")
    if not n_test:
        return text
    sd = math.sqrt((ADDING_KURTOSIS - 1) / n_test)
    off = max(abs(constant[t] - 1) for t in fails)
    return text + (f" The constant's own loss / baseline differs from 1 by up to {off:.1%}: the "
                   f"sampling error of one test set of {n_test} sequences per T, whose standard "
                   f"deviation is sqrt(1.4 / {n_test}) = {sd:.1%}.")


def statements(rows, tuned: dict | None = None, n_test: int | None = None) -> list[str]:
    """One line per classic result: the claim, the measured medians, the verdict. ``tuned``: the
    summary's tuned settings; ``n_test``: test-set size (for the spread of the baseline)."""
    out = []
    adding = sorted({r["T"] for r in select(rows, task="adding")})
    if adding:
        out.append(hochreiter(rows, adding))
        fails = [t for t in adding if _median(rows, "adding", "elman", t) >= FAILS]
        if fails:
            out.append(f"The tanh RNN stays at the baseline (median >= {FAILS}) from T = "
                       f"{fails[0]} on (T = {', '.join(map(str, fails))}).")
        out.append(at_constant(rows, adding, n_test))
        out.append(le(rows, adding, tuned or {}))
        jac = [(m, [_median_key(rows, "adding", m, t, "init_log_jacobian") for t in adding])
               for m in ("elman", "lstm_fb1", "lstm_chrono", "gru")]
        jac = [(m, v) for m, v in jac if any(math.isfinite(x) for x in v)]
        if jac:
            out.append("Gradient path at initialisation, median log ||dh_T/dh_0|| at T = "
                       + ", ".join(map(str, adding)) + ": "
                       + "; ".join(f"{m} " + ", ".join(_fmt(x) for x in v) for m, v in jac)
                       + " (the dynamics figure relates it to each run's final loss).")
        T = _longest(rows, adding, "lstm_chrono", "lstm_fb1")
        chrono, fb1 = (_median(rows, "adding", m, T) for m in ("lstm_chrono", "lstm_fb1"))
        if T is not None:
            out.append(f"Tallec & Ollivier 2018 (chrono init beats b_f = 1 at long T): adding "
                       f"T = {T}: chrono {_fmt(chrono)} vs b_f = 1 {_fmt(fb1)} — "
                       f"{'reproduced' if chrono < fb1 else 'not reproduced'}.")
    copy = sorted({r["T"] for r in select(rows, task="copy")})
    if copy:
        T = copy[-1]
        parts = [(m, _median(rows, "copy", m, T)) for m in MODELS]
        parts = [(m, x) for m, x in parts if math.isfinite(x)]
        lstm = dict(parts).get("lstm_fb1", math.nan)
        verdict = ("reproduced" if lstm >= FAILS else "not reproduced: the LSTM learns")
        out.append(f"Arjovsky et al. 2016 (copy task: the LSTM stays near the memoryless baseline "
                   f"at long delays): T = {T}, " + ", ".join(f"{m} {_fmt(x)}" for m, x in parts)
                   + f" — {verdict}." if math.isfinite(lstm) else "")
    return [s for s in out if s]


def _legend(table: str) -> str:
    """The legend line for a loss table that has empty or non-finite cells (else nothing)."""
    cells = [c.strip() for line in table.splitlines()[2:] for c in line.split("|")[2:-1]]
    kinds = {"all" if c.startswith("– (") else "none" if c == "–" else "some"
             for c in cells if c == "–" or "non-finite" in c}
    parts = [text for kind, text in NONFINITE_LEGEND.items() if kind in kinds]
    text = "; ".join(parts)
    return f"\n\n{text[:1].upper()}{text[1:]}." if parts else ""


def readme_table(folder: Path) -> str:
    """The README block's tables and statements for one results folder."""
    summary = read_json(Path(folder) / "summary.json")
    rows = summary["rows"]
    config = Path(folder) / "config.json"
    n_test = read_json(config)["config"]["train"]["n_test"] if config.exists() else None
    parts = []
    if not summary.get("complete"):
        done = len({(r["task"], r["T"]) for r in rows})
        parts.append(f"**Partial sweep** ({done} (task, T) points so far; rerun the command to "
                     "continue).")
    for task in ("adding", "copy", "adding_hs97"):
        table = loss_table(rows, task, LABELS)
        if table:
            parts.append(f"Final test loss / baseline, {task} (median [95 % bootstrap interval] "
                         f"over seeds):\n\n{table}" + _legend(table))
    times = learning_time_table(rows, "adding", LABELS)
    if times:
        parts.append("Updates to success (test loss <= 0.1 x baseline), adding: median over the "
                     f"seeds that succeed (successes / seeds):\n\n{times}")
    ablations = ablation_table(rows, LABELS)
    if ablations:
        parts.append(f"Ablations, adding (median [95 % bootstrap interval]):\n\n{ablations}"
                     + _legend(ablations))
    tuned = tuned_table(summary, LABELS)
    if tuned:
        parts.append(tuned)
    lines = statements(rows, summary.get("tuned"), n_test)
    if lines:
        parts.append("\n".join(f"- {s}" for s in lines))
    return "\n\n".join(parts)
