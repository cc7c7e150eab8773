"""The README's tables and its reproduced-or-not statements, computed from ``summary.json``.

Each statement names the paper, the claim, the measured numbers (the median final test loss /
baseline over seeds, the tables' statistic) and a verdict from a fixed rule, so the README cannot
claim more than the data show:

- *learns*: median loss / baseline <= 0.1 (the success threshold); *fails*: >= 0.5.
- Hochreiter & Schmidhuber (1997): the LSTM learns at the longest T where the tanh RNN fails.
- Le et al. (2015): the IRNN learns the adding problem at long T (they report T up to 400) while
  the tanh RNN does not.
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
from experiments.longrange.summary import by, learning_time, loss_ratio, select, success_ci

LEARNS, FAILS = 0.1, 0.5


def _fmt(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.3g}"


def _cell(rows) -> str:
    med, lo, hi = loss_ratio(rows)
    return "–" if not math.isfinite(med) else f"{_fmt(med)} [{_fmt(lo)}, {_fmt(hi)}]"


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


def statements(rows) -> list[str]:
    """One line per classic result: the claim, the measured medians, the verdict."""
    out = []
    adding = sorted({r["T"] for r in select(rows, task="adding")})
    if adding:
        T = _longest(rows, adding, "lstm_fb1", "elman")
        lstm, elman = _median(rows, "adding", "lstm_fb1", T), _median(rows, "adding", "elman", T)
        if T is not None:
            ok = lstm <= LEARNS and elman >= FAILS
            out.append(f"Hochreiter & Schmidhuber 1997 (LSTM bridges long lags, the tanh RNN "
                       f"does not): adding at T = {T}, LSTM b_f = 1 {_fmt(lstm)} vs Elman "
                       f"{_fmt(elman)} — {'reproduced' if ok else 'not reproduced'}.")
        fails = [t for t in adding if _median(rows, "adding", "elman", t) >= FAILS]
        if fails:
            out.append(f"The tanh RNN stays at the baseline (median >= {FAILS}) from T = "
                       f"{fails[0]} on (T = {', '.join(map(str, fails))}).")
        irnn = [(t, _median(rows, "adding", "irnn", t)) for t in adding]
        irnn = [(t, x) for t, x in irnn if math.isfinite(x)]
        if irnn:
            learned = [t for t, x in irnn if x <= LEARNS]
            frac = {t: success_ci(select(rows, task="adding", model="irnn", T=t))[0]
                    for t, _ in irnn}
            out.append("Le et al. 2015 (IRNN learns the adding problem at long T): median "
                       + ", ".join(f"T = {t}: {_fmt(x)} ({frac[t]:.0%} of seeds succeed)"
                                   for t, x in irnn)
                       + (f" — learns up to T = {max(learned)}." if learned
                          else " — not reproduced at any T."))
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


def readme_table(folder: Path) -> str:
    """The README block's tables and statements for one results folder."""
    from experiments.longrange.plots import LABELS

    summary = read_json(Path(folder) / "summary.json")
    rows = summary["rows"]
    parts = []
    if not summary.get("complete"):
        done = len({(r["task"], r["T"]) for r in rows})
        parts.append(f"**Partial sweep** ({done} (task, T) points so far; rerun the command to "
                     "continue).")
    for task in ("adding", "copy", "adding_hs97"):
        table = loss_table(rows, task, LABELS)
        if table:
            parts.append(f"Final test loss / baseline, {task} (median [95 % bootstrap interval] "
                         f"over seeds):\n\n{table}")
    times = learning_time_table(rows, "adding", LABELS)
    if times:
        parts.append("Updates to success (test loss <= 0.1 x baseline), adding: median over the "
                     f"seeds that succeed (successes / seeds):\n\n{times}")
    ablations = ablation_table(rows, LABELS)
    if ablations:
        parts.append(f"Ablations, adding (median [95 % bootstrap interval]):\n\n{ablations}")
    tuned = tuned_table(summary, LABELS)
    if tuned:
        parts.append(tuned)
    lines = statements(rows)
    if lines:
        parts.append("\n".join(f"- {s}" for s in lines))
    return "\n\n".join(parts)
