"""A program trained in slices: pieces of its runs that each finish within one sitting.

The runs of a program are independent (each its own seed, data stream and optimiser state;
on CPU they even execute in turn, :func:`experiments.longrange.sweep.sweep_mode`), so a program
of many runs can be trained as consecutive *slices* of at most ``execution.slice_runs`` runs.
Each slice is a resumable program of its own, with its own checkpoints, and its result is saved
as a part, ``parts/<program>_slice<i>of<n>.json``. A sweep stopped between sittings keeps every
finished slice, so a program that costs more than any one sitting still finishes; when every
slice has its result they are joined (:func:`join`) into the program's result, saved under the
program's own name (:func:`experiments.longrange.run.run`), and the slices' files are removed.

Numbers: the runs are independent, so with ``lax.map`` (the CPU default) every run trains as in
the unsliced program; what is batched over a slice's runs (the test evaluation, the dynamics,
and with ``vmap`` the training too) agrees with it to the float32 rounding of a program of
another size, as with several processes (``docs/guarantees.md``). A
rate-search program is cut between settings (all seeds of one rate and init in one slice), and a
slice stops a setting that can no longer be chosen given the earlier slices' results as well as
its own (:func:`experiments.longrange.plan.cannot_be_chosen`), so the choice is the unsliced
search's; only the stopped settings' own counts, lower bounds in either case, may differ.
The slices of a rate search are trained nearest the rate chosen at a shorter T first
(:func:`training_order`), so that the settings far from it can stop early.
"""

from __future__ import annotations

import math

from experiments.longrange import held
from experiments.longrange.plan import Group
from experiments.longrange.processes import PER_RUN


def slices(group: Group, size: int) -> list[Group]:
    """``group`` cut into consecutive slices of at most ``size`` runs (0: not cut).

    A rate-search program is cut only between settings (a setting with more runs than ``size``
    is a slice of its own). A program that fits in one slice is returned unchanged.
    """
    if not size or len(group.members) <= size:
        return [group]
    units: list[list] = []
    for m in group.members:
        same = group.stage.startswith("tune") and units and \
            (units[-1][0].model, units[-1][0].lr, units[-1][0].init) == (m.model, m.lr, m.init)
        if same:
            units[-1].append(m)
        else:
            units.append([m])
    pieces: list[list] = []
    for unit in units:
        if pieces and len(pieces[-1]) + len(unit) <= size:
            pieces[-1] += unit
        else:
            pieces.append(list(unit))
    if len(pieces) == 1:
        return [group]
    return [group._replace(members=tuple(p), slice_of=(i, len(pieces)))
            for i, p in enumerate(pieces)]


def training_order(pieces: list[Group], prior: dict[str, float]) -> list[int]:
    """The order in which to train the slices of a rate search (their indices): a setting can
    be stopped only once another has succeeded in every seed, so the slices likeliest to
    succeed go first: those nearest (in log rate) to the rate given for their model (``prior``:
    model -> rate, :func:`experiments.longrange.run._prior`), then the highest rates. Any order
    gives the same choice; it changes only how early the other settings stop. (The search
    repeated at the reported budget stops at its first success, which its order decides.)
    Other programs: in turn."""
    if not pieces[0].stage.startswith("tune"):
        return list(range(len(pieces)))

    def key(i):
        m = pieces[i].members[0]
        if m.model in prior:
            return (0, abs(math.log(m.lr / prior[m.model])), i)
        return (1, -m.lr, i)

    return sorted(range(len(pieces)), key=key)


def join(results: list[dict]) -> dict:
    """The result of the program whose slices gave ``results`` (in slice order).

    Each slice is evaluated at the same updates; one that ended earlier (every run of it
    succeeded or was stopped) holds its last evaluation (:mod:`experiments.longrange.held`).
    """
    steps = held.longest([r["steps"] for r in results], "slices")
    metrics = sorted({k for r in results for k in r if k.startswith("test_")})

    out = {k: v for k, v in results[0].items()
           if k not in (*PER_RUN, "steps", "settings") and not k.startswith("test_")}
    out["n_params"] = {m: n for r in results for m, n in r["n_params"].items()}
    out["steps"] = list(steps)
    for key in metrics:
        columns = [held.hold_last(r[key], len(steps)) for r in results]
        out[key] = [[x for c in columns for x in c[j]] for j in range(len(steps))]
    for key in PER_RUN:
        out[key] = [x for r in results for x in r[key]]
    return out
