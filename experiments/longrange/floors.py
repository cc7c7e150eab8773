"""Where a run's loss sits against the floors of its own test set: the constant prediction's
loss (what a model that learned nothing scores there, not 1 of the baseline) and the best linear
predictor's (what a model linear in its inputs, the one-layer LRU, can reach there), each next to
the median's order-statistic interval, from ``summary.json`` rows."""

from __future__ import annotations

import math

import numpy as np

from experiments.longrange.style import LABELS
from experiments.longrange.summary import level_text, loss_ratio, select

ADDING_KURTOSIS = 2.4  # E(y-1)^4 / Var(y)^2 of the adding problem's target (triangular on [0, 2])


def fmt(x: float) -> str:
    """A statistic in the statements: 3 significant digits, ``–`` when not finite."""
    return "–" if not math.isfinite(x) else f"{x:.3g}"


def at_constant(rows, fails: list[int], n_test: int | None) -> str:
    """Where the tanh RNN fails (the lengths ``fails``, by the report's rule): its median loss /
    baseline next to the constant prediction's on the same test set (the constant's own
    sampling spread)."""
    if not fails:
        return ""
    constant = {t: float(np.median([r["constant_loss_over_baseline"] for r in
                                    select(rows, task="adding", model="elman", T=t)]))
                for t in fails}
    ci = {t: loss_ratio(select(rows, task="adding", model="elman", T=t)) for t in fails}
    outside = [t for t in fails if not ci[t][1] <= constant[t] <= ci[t][2]]
    text = (f"Where the tanh RNN fails (T = {', '.join(map(str, fails))}), its median final "
            "loss / baseline (" + ", ".join(f"{ci[t][0]:.3f}" for t in fails) + ") against the "
            "constant prediction's on the same test set (" + ", ".join(
                f"{constant[t]:.3f}" for t in fails) + "): the constant's is "
            + (f"outside the median's interval at T = {', '.join(map(str, outside))}"
               if outside else "inside the median's interval at every such T")
            + " (intervals of coverage " + ", ".join(level_text(ci[t][3]) for t in fails) + ").")
    if not n_test:
        return text
    sd = math.sqrt((ADDING_KURTOSIS - 1) / n_test)
    return text + (f" The constant's own ratio differs from 1 by the sampling error of {n_test} "
                   f"test sequences, standard deviation sqrt({ADDING_KURTOSIS - 1:g} / {n_test}) "
                   f"= {sd:.1%}.")


def at_linear_floor(rows) -> str:
    """The one-layer LRU (linear in its inputs) next to the best linear predictor's loss on the
    same test set, its floor there: whether the floor lies inside the median's interval."""
    lengths = sorted({r["T"] for r in select(rows, task="adding", model="lru")
                      if r.get("linear_loss_over_baseline") is not None})
    if not lengths:
        return ""
    ci = {t: loss_ratio(select(rows, task="adding", model="lru", T=t)) for t in lengths}
    floor = {t: select(rows, task="adding", model="lru", T=t)[0]["linear_loss_over_baseline"]
             for t in lengths}
    inside = [t for t in lengths if ci[t][1] <= floor[t] <= ci[t][2]]
    return (f"{LABELS['lru']} against the best linear predictor on the same test set (its floor "
            "there; 1 − 2/T of the baseline in expectation): " + "; ".join(
                f"T = {t}: {fmt(ci[t][0])} [{fmt(ci[t][1])}, {fmt(ci[t][2])}] vs "
                f"{floor[t]:.3g}" for t in lengths)
            + ": the floor is " + (f"inside the median's interval at T = {', '.join(map(str, inside))}"
                                   if inside else "inside the median's interval at no T")
            + (f", outside at T = {', '.join(str(t) for t in lengths if t not in inside)}"
               if inside and len(inside) < len(lengths) else "")
            + " (intervals of coverage " + ", ".join(level_text(ci[t][3]) for t in lengths)
            + ").")
