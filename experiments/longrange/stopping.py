"""When the runs of one program stop: at success, once a tuning run's setting can no longer be
chosen, or once float32 overflow has frozen it; the stopped runs keep their state and cost
nothing more, and a program ends when every run has stopped.

:func:`stop_at_success` stops a run inside the jitted step, at the evaluations;
:func:`fit_until_success` trains in pieces and stops, between them, the runs its ``prune`` names
(:func:`experiments.longrange.sweep.train_group` passes the tuning rule of
:func:`experiments.longrange.plan.cannot_be_chosen` and
:func:`experiments.longrange.precision.frozen_at`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rnnjax.train as tr


def success_of(task: str, metrics, baseline: float, ratio: float):
    """Per run: whether its test metrics meet the success criterion (test loss <= ratio x
    baseline; for the 1997 adding form every test sequence solved)."""
    if task == "adding_hs97":
        return jnp.asarray(metrics["test_solved"]) >= 1.0
    loss = jnp.asarray(metrics["test_loss"])
    return jnp.isfinite(loss) & (loss <= ratio * baseline)


def first_success(task: str, result: dict, ratio: float) -> list[int | None]:
    """Per run of a program's ``result``, the first evaluated update at which it met the
    success criterion (:func:`success_of`); None: never."""
    first: list[int | None] = [None] * len(result["init_log_jacobian"])
    for j, step in enumerate(result["steps"]):
        record = {k: np.array([np.nan if x is None else x for x in v[j]], np.float32)
                  for k, v in result.items() if k.startswith("test_")}
        for i in np.flatnonzero(np.asarray(success_of(task, record, result["baseline"], ratio))):
            first[i] = step if first[i] is None else first[i]
    return first


def stop_at_success(update, succeeded, every: int):
    """``update`` (stacked states, batch) -> (states, metrics) that stops each run at success.

    Before the update that starts from step ``n`` (a multiple of ``every``, ``n > 0``: the steps
    the test loss is logged at), ``succeeded(params)`` is evaluated; a run that succeeds, or
    succeeded before, keeps its parameters and optimiser state, with its learning rate set to 0
    in the state, which marks it as stopped (and is checkpointed with it, so a resumed program
    stops the same runs). The steps are shared by all runs, so the evaluation is one branch of a
    ``lax.cond`` taken at those steps only.
    """
    def step(states, batch):
        n = states.step.reshape(-1)[0]
        runs = states.step.shape[0]
        rate = optax.tree_utils.tree_get(states.opt_state, "step_size")
        won = jax.lax.cond((n > 0) & (n % every == 0), succeeded,
                           lambda p: jnp.zeros((runs,), bool), states.params)
        stopped = won | (rate == 0)
        new, metrics = update(states, batch)

        def keep(old, fresh):
            return jnp.where(stopped.reshape((runs,) + (1,) * (old.ndim - 1)), old, fresh)

        params, opt_state = jax.tree.map(keep, (states.params, states.opt_state),
                                         (new.params, new.opt_state))
        opt_state = optax.tree_utils.tree_set(opt_state, step_size=jnp.where(stopped, 0.0, rate))
        return new._replace(params=params, opt_state=opt_state), metrics

    return step


def fit_until_success(step, states, batches, *, total, workdir, every, won, prune=None,
                       **fit_kw):
    """``tr.fit`` in pieces of ``every`` updates up to ``total``; ``(state, records,
    stopped_at)``.

    After each piece, the runs that ``prune(evaluations)`` names (a tuning run whose setting can
    no longer be chosen, a run frozen by float32 overflow) are stopped as a successful run is,
    their rate set to 0, and
    ``stopped_at[i]`` is the update run ``i`` was stopped at (None: never). Training ends after
    the piece whose last evaluation has every run successful (``won(record)``) or stopped. A
    rerun resumes from the workdir's newest checkpoint (``tr.check_workdir``), whose stopped runs
    keep their zero rate; the runs to stop are a function of the logged evaluations, so a resumed
    program stops the same runs at the same updates.
    """
    target = every
    if workdir is not None:
        start = tr.check_workdir(workdir, states, num_steps=total, config=fit_kw["config"])
        target = max(every, min(total, start))
    records: dict[int, dict] = {}
    while True:
        target = min(target, total)
        states, new = tr.fit(step, states, batches, num_steps=target, workdir=workdir,
                             checkpoint_every=None if workdir is None else every,
                             nonfinite="skip", **fit_kw)
        records.update({r["step"]: r for r in new})
        evals = [records[s] for s in sorted(records) if "test_loss" in records[s]]
        stopped_at = _stopped(evals, prune, every, target if target < total else target - 1,
                              len(won(evals[0])) if evals else 0)
        if any(s is not None for s in stopped_at):
            states = stop(states, np.array([s is not None for s in stopped_at]))
        finished = won(evals[-1]) | np.array([s is not None for s in stopped_at]) if evals \
            else None
        if target >= total or (finished is not None and bool(np.all(finished))):
            return states, [records[s] for s in sorted(records)], stopped_at
        target += every


def _stopped(evals, prune, every: int, upto: int, n: int) -> list[int | None]:
    """Per run, the piece end (a multiple of ``every``, at most ``upto``) at which ``prune``,
    given the evaluations up to it, first named it, for the ``n`` runs; None: never."""
    stopped_at: list[int | None] = [None] * n
    if prune is None or not evals:
        return stopped_at
    for end in range(every, upto + 1, every):
        seen = [r for r in evals if r["step"] <= end]
        if not seen:
            continue
        for i in np.flatnonzero(prune(seen)):
            stopped_at[i] = end if stopped_at[i] is None else stopped_at[i]
    return stopped_at


def stop(states, runs: np.ndarray):
    """``states`` with the rate of ``runs`` (the first ``len(runs)`` of the stack) set to 0."""
    rate = optax.tree_utils.tree_get(states.opt_state, "step_size")
    mask = np.zeros(rate.shape[0], bool)
    mask[:len(runs)] = runs
    rate = jax.device_put(jnp.where(mask, 0.0, rate), rate.sharding)
    return states._replace(opt_state=optax.tree_utils.tree_set(states.opt_state, step_size=rate))


def unless_stopped(single, state, batch):
    """``single(state, batch)`` for a run still training; for a stopped run (rate 0), whose
    update :func:`stop_at_success` discards, only its step count advances, with zero metrics
    (its finiteness flags set): run in turn (``lax.map``), a stopped run then costs nothing."""
    shapes = jax.eval_shape(single, state, batch)[1]

    def idle(s):
        metrics = {k: (jnp.ones if "finite" in k else jnp.zeros)(v.shape, v.dtype)
                   for k, v in shapes.items()}
        return s._replace(step=s.step + 1), metrics

    stopped = optax.tree_utils.tree_get(state.opt_state, "step_size") == 0
    return jax.lax.cond(stopped, idle, lambda s: single(s, batch), state)
