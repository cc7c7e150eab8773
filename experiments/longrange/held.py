"""Evaluations of runs that ended early, on the schedule of the longest.

A long-range program evaluates its runs every ``eval_every`` updates and stops once every run has
succeeded or been stopped; each run's parameters are frozen from its success (or stop) on. So a
program that ended at an earlier update, compared with another of the same schedule, gives at
every later evaluation exactly its last one. This rule joins programs that ended at different
updates: the slices of one program (:func:`experiments.longrange.slices.join`), the shares of
several processes (:func:`experiments.longrange.processes.gather`) and the seeds of one cell
that come from two programs (the learning-curve figure).
"""

from __future__ import annotations

from collections.abc import Sequence


def longest(schedules: Sequence[Sequence[int]], what: str) -> list[int]:
    """The longest of ``schedules`` (lists of evaluated updates), each of which must be a prefix
    of it: programs evaluated at other updates cannot be joined (``what`` names them)."""
    steps = list(max(schedules, key=len))
    for s in schedules:
        if list(s) != steps[:len(s)]:
            raise ValueError(f"{what} evaluated at different updates cannot be joined")
    return steps


def hold_last(values: Sequence, n: int) -> list:
    """``values`` (one entry per evaluation) extended to ``n`` evaluations by repeating its last
    entry; an empty ``values`` stays empty."""
    return [values[min(j, len(values) - 1)] for j in range(n)] if len(values) else []
