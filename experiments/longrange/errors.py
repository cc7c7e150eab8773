"""The error rates of the verdict rules under a config's seed design, stated in each results
block: the learns / fails rule (:func:`~experiments.common.stats.side_of_half`, seeds added
where a success fraction is open) and the paired comparison of updates to success (a sign
test, :func:`~experiments.common.stats.sign_side`, seeds added where its interval holds 0), each
computed exactly (:func:`~experiments.common.stats.staged_error`) at the worst case of its null;
for a cell rerun with a longer budget (``TaskSweep.longer``), a union bound over its looks.
"""

from __future__ import annotations

from experiments.common.stats import sign_side, staged_error


def error_rates(sweep: dict, paired: tuple[str, str, str] | None = None) -> str:
    """The error rate of the success verdicts under the config's seed design (``sweep``: the
    config's ``sweep`` section): per design (a cell's seeds, then ``open_seeds`` where its
    fraction holds ½), the exact probability that a success probability of ½ is placed on a side
    (:func:`~experiments.common.stats.staged_error`; smaller for any probability further from ½);
    then, where ``paired`` (``(task, slower, faster)``, ``report.PAIRED``) names two models the
    sweep runs, the error rate of their paired comparison (:func:`_paired_error`)."""
    designs: dict[tuple[int, ...], list[str]] = {}
    for task, ts in sweep.items():
        if not ts.get("models"):
            continue
        for n, what in ((ts["seeds"], "cells"), (ts["headline_seeds"], "headline cells")):
            if what == "headline cells" and not (ts["headline_models"] and ts["headline_lengths"]):
                continue
            stages = (n, ts["open_seeds"]) if ts["open_seeds"] > n else (n,)
            designs.setdefault(stages, []).append(f"{task} {what}")
    texts = []
    for stages, where in designs.items():
        error = staged_error(stages)
        design = f"{stages[0]} seeds" + (f", then {stages[1]} where open" if len(stages) > 1 else "")
        texts.append(f"{design} ({', '.join(where)}): {100 * error:.2g} %" if error else
                     f"{design} ({', '.join(where)}): 0 % (no count out of {stages[-1]} excludes ½, "
                     "so no verdict can rest on a model learning or failing)")
    out = ("Error rate of the learns / fails rule (exact binomial, at a success probability of "
           "½, the worst case): " + "; ".join(texts) + "." if texts else "")
    looks = 1 + max((ts.get("longer", 0) for ts in sweep.values() if ts.get("models")), default=0)
    if texts and looks > 1:
        worst = max(staged_error(stages) for stages in designs)
        out += (f" A cell whose budget was doubled was judged at up to {looks} budgets, the "
                "rerun decided by the first look: its error rate is at most the sum over the "
                f"looks (a union bound), ≤ {100 * looks * worst:.2g} %.")
    pairs = _paired_error(sweep.get(paired[0], {}), paired) if paired else ""
    return " ".join(t for t in (out, pairs) if t)


def _above_or_more(k: int, n: int, level: float) -> int:
    """:func:`~experiments.common.stats.sign_side`, never placing below: seeds are added on
    every path not yet above."""
    return max(sign_side(k, n, level=level), 0)


def _paired_error(ts: dict, paired: tuple[str, str, str]) -> str:
    """The error rate of the chrono verdict (:func:`~experiments.longrange.report.tallec`)
    under the task's seed design ``ts``, at a median difference of 0: its interval lies above 0
    when enough differences are positive (a sign test,
    :func:`~experiments.common.stats.sign_side`), a binomial count with probability ≤ ½ under
    that null; a tie never counts for it but can keep the interval on 0 where a tie-free count
    would stop, so seeds are added on every path not yet above: an upper bound."""
    _, slow, fast = paired
    if not {slow, fast} <= set(ts.get("models", ())):
        return ""
    designs = [((ts["seeds"], ts["open_seeds"]) if ts["open_seeds"] > ts["seeds"]
                else (ts["seeds"],), "")]
    if {slow, fast} <= set(ts["headline_models"]) and ts["headline_lengths"]:
        designs.append(((ts["headline_seeds"],), f" (T = {', '.join(map(str, ts['headline_lengths']))})"))
    texts = [f"{stages[0]} pairs" + (f", then {stages[1]} where it holds 0" if stages[1:] else "")
             + f"{where}: ≤ {100 * staged_error(stages, side=_above_or_more):.2g} %"
             for stages, where in designs]
    return ("Error rate of the paired chrono comparison (a sign test, ties counted against the "
            f"claim, at a median difference of 0): {'; '.join(texts)}.")
