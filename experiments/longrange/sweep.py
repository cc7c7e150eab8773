"""How one program (:class:`experiments.longrange.plan.Group`) trains all of its runs at once.

The runs of a program (seeds, learning rates, initialisations, clipping on or off) share one
step function, so they are stacked on a leading axis and trained by one jitted step per update.
With several devices that axis is sharded over a ``jax.sharding.Mesh`` (:mod:`rnnjax.train.sweep`);
the runs never communicate. Inside a device the runs are batched with ``jax.vmap`` or run in turn
with ``jax.lax.map`` (:func:`sweep_mode`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec as P

import rnnjax.train as tr
from experiments.common import UserError
from experiments.longrange import plan, precision, stopping
from experiments.longrange.config import TASKS, Config
from experiments.longrange.dynamics import LYAPUNOV_LENGTH, has_real_carry, run_dynamics
from experiments.longrange.plan import Group, Member, optimizer_of
from experiments.longrange.summary import DIVERGED
from experiments.longrange.tasks import data_key, eval_set, make_cell, make_task
from rnnjax.cell import cast


def optimizer(config: Config, kind: str, budget: int) -> optax.GradientTransformation:
    """Global-norm clipping, then Adam (``kind="adam"``) or plain SGD (``"sgd"``, as Le et al.
    2015 trained the IRNN), with a per-run peak learning rate (constant, or cosine decay to 10 %
    of it over the run's ``budget``).

    ``adam(lr)`` is ``chain(scale_by_adam(), scale(-lr))``; here the schedule's shape and the
    peak rate are separate, and the peak rate and the clipping threshold are arrays in the
    optimiser state (``optax.inject_hyperparams``), so that runs with different rates, clipped or
    not, share one program along the sweep axis (set per run after initialisation by
    :func:`set_hyperparams`; clipping "off" is an infinite threshold). A run that has succeeded
    has its rate set to 0 there (:func:`stop_at_success`).
    """
    tc = config.train
    shape = []
    if tc.lr_schedule == "cosine":
        shape = [optax.scale_by_schedule(optax.cosine_decay_schedule(
            1.0, decay_steps=budget, alpha=0.1))]
    moments = [optax.scale_by_adam()] if kind == "adam" else []
    return optax.chain(optax.inject_hyperparams(optax.clip_by_global_norm)(max_norm=tc.clip_norm),
                       *moments, *shape,
                       optax.inject_hyperparams(optax.scale)(step_size=-tc.learning_rate))


def set_hyperparams(opt_state, members, clip_norm: float):
    """The optimiser state with each run's clipping threshold and (negated) learning rate."""
    return optax.tree_utils.tree_set(
        opt_state, max_norm=jnp.array([clip_norm if m.clip else jnp.inf for m in members]),
        step_size=-jnp.array([m.lr for m in members]))


def seed_keys(config: Config, task: str, T: int, seed: int) -> tuple[jax.Array, jax.Array]:
    """(init key, data key) of a seed: shared by all models, so comparisons are paired."""
    k = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), seed), T)
    return tuple(jax.random.split(jax.random.fold_in(k, TASKS.index(task))))


def sweep_mode(config: Config) -> str:
    """How the runs of a program execute: ``vmap`` (batched) or ``map`` (``lax.map``, in turn).

    Both are one jitted program per update over the same stacked states, sharded over the same
    mesh. ``auto`` picks ``map`` on CPU, where XLA's batched matrix products in the LSTM's
    backward pass make the vmapped step slower than running the runs in turn (measured by
    ``benchmarks/bench_longrange.py``; docs/benchmarks.md), and ``vmap`` on accelerators.
    """
    if config.execution.sweep != "auto":
        return config.execution.sweep
    return "map" if jax.default_backend() == "cpu" else "vmap"


def _mesh(config: Config):
    devices = jax.local_devices()
    wanted = config.execution.devices
    if wanted:
        if wanted > len(devices):
            raise UserError(f"--execution.devices {wanted}: only {len(devices)} devices available")
        devices = devices[:wanted]
    return tr.sweep.mesh(devices) if len(devices) > 1 else None


def truncated_apply(model, params, inputs: jax.Array, k: int | None) -> jax.Array:
    """``model.apply(params, inputs)`` outputs, with gradients truncated to the last ``k`` steps.

    Truncated BPTT with (k1, k2) = (T, k) for a loss on the final outputs (Williams & Peng 1990):
    the forward pass is unchanged, but ``stop_gradient`` on the carry at step ``T - k`` means that
    no gradient reaches steps ``1 .. T - k`` through the recurrence. ``k=None``: full BPTT.
    """
    if k is None:
        return model.apply(params, inputs)[1]
    T = inputs.shape[1]
    carry, early = model.apply(params, inputs[:, :T - k])
    carry = jax.lax.stop_gradient(carry)
    _, late = model.apply(params, inputs[:, T - k:], carry)
    return late if model.pool is not None else jnp.concatenate([early, late], axis=1)


def _blocks(members) -> list[list[Member]]:
    """Consecutive runs of the same model and init (initialised by one vmapped call each)."""
    blocks: list[list[Member]] = []
    for m in members:
        if blocks and (blocks[-1][0].model, blocks[-1][0].init) == (m.model, m.init):
            blocks[-1].append(m)
        else:
            blocks.append([m])
    return blocks


def train_group(config: Config, group: Group, workdir: Path | None,
                members: list[Member] | None = None,
                known: tuple[list[Member], list[int | None]] = ([], [])) -> dict[str, Any]:
    """:func:`_train_group`, in float64 for the reruns of stage ``float64_<stage>``
    (:mod:`experiments.longrange.precision`), else in float32."""
    with jax.enable_x64(precision.in_float64(group.stage)):
        return _train_group(config, group, workdir, members, known)


def _train_group(config: Config, group: Group, workdir: Path | None,
                 members: list[Member] | None,
                 known: tuple[list[Member], list[int | None]]) -> dict[str, Any]:
    """Train the runs of ``group`` as one program under ``workdir``; their evaluations.

    Returns ``baseline``, ``n_params`` per model, ``steps`` (the evaluated updates), per test
    metric one list per evaluation with one value per run (``members`` order; default: all of
    ``group.members``), and per run the dynamics of :mod:`experiments.longrange.dynamics`:
    ``init_log_jacobian``, ``final_log_jacobian`` (on the first test sequence) and
    ``init_lambda_max`` (``None`` for a complex carry). ``workdir=None``: no checkpoints (the runs
    of a multi-process sweep). A tuning program stops the runs of a setting that can no longer
    be chosen (``stopped_at``: the update, or None), given its own evaluations and ``known``:
    the runs and first updates with success
    (:func:`~experiments.longrange.stopping.first_success`) of the same search's finished slices
    (:mod:`experiments.longrange.slices`); not when it trains a share of its runs
    (``members``): a setting's seeds may then lie in another process's share. Every program
    stops a run frozen by float32 overflow (:func:`~experiments.longrange.precision.frozen_at`).
    """
    share, members = members, list(group.members if members is None else members)
    tc = config.train
    task = make_task(group.task, group.T, tc.tbptt_truncation)
    models = {(m.model, m.init): task.model(make_cell(m.model, tc.hidden_size, group.T, m.init))
              for m in group.members}
    model = next(iter(models.values()))  # the family's step: any member's model computes it
    opt = optimizer(config, optimizer_of(group.members[0].model), group.budget)
    T, k, total = group.T, group.tbptt, group.budget

    def loss_fn(params, batch, key):
        inputs, targets = task.sample(key, tc.batch_size) if batch is None else batch
        return task.loss(truncated_apply(model, params, inputs, k), targets)

    blocks = _blocks(members)
    keys = [seed_keys(config, group.task, T, m.seed) for m in members]

    def init_states(k_init, k_data):
        """The runs' states, block by block: one compiled vmapped init per block, each finished
        before the next starts, so no two batched orthogonal draws (QR) run side by side
        (docs/known-issues.md: they can deadlock XLA:CPU's thread pool). In float64, the
        parameters are drawn in float32, as the float32 runs', then widened."""
        parts, start = [], 0
        for block in blocks:
            init = models[block[0].model, block[0].init].init
            sl = slice(start, start + len(block))
            if jax.config.jax_enable_x64:
                with jax.enable_x64(False):
                    drawn = jax.block_until_ready(jax.jit(jax.vmap(init))(k_init[sl]))
                parts.append(jax.jit(jax.vmap(lambda p, kd: tr.init_state(p, opt, key=kd)))(
                    cast(drawn, jnp.float64), k_data[sl]))
            else:
                parts.append(jax.block_until_ready(jax.jit(jax.vmap(
                    lambda ki, kd, init=init: tr.init_state(init(ki), opt, key=kd)))(
                        k_init[sl], k_data[sl])))
            start += len(block)
        states = jax.tree.map(lambda *xs: jnp.concatenate(xs), *parts)
        return states._replace(opt_state=set_hyperparams(states.opt_state, members,
                                                         tc.clip_norm))

    states = init_states(jnp.stack([k[0] for k in keys]), jnp.stack([k[1] for k in keys]))
    # committed to a device, as a restored checkpoint is, so the step compiles once per program
    states = jax.device_put(states, jax.local_devices()[0])
    test_key = data_key(config.seed, T)
    test_inputs, test_targets = eval_set(task, T, config.seed, tc.n_test)
    lyap_inputs = make_task(group.task, LYAPUNOV_LENGTH).sample(
        jax.random.fold_in(test_key, 2 + len(TASKS)), 1)[0][0]
    real_carry = has_real_carry(model, jax.tree.map(lambda x: x[0], states.params))

    @jax.jit
    def dynamics(params, lyap_xs):
        if not real_carry:
            return {}
        return jax.vmap(lambda p: run_dynamics(model, p, test_inputs[0], lyap_xs))(params)

    at_init = dynamics(states.params, lyap_inputs)
    mesh = _mesh(config)
    if mesh is not None:  # pad the sweep axis to a multiple of the device count
        pad = -len(members) % mesh.devices.size
        states = jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, 0)]), states)
        states = tr.sweep.shard(states, mesh)

    def metrics_of(params):
        return jax.vmap(lambda p: task.metrics(model.apply(p, test_inputs)[1], test_targets))(params)

    evaluate = jax.jit(metrics_of)

    def succeeded(params):
        return stopping.success_of(group.task, metrics_of(params), task.baseline, tc.success_ratio)

    step = _step(config, tr.make_step(loss_fn, opt, jit=False), mesh, succeeded)
    fit_config = {"group": group.name, "members": [list(m) for m in group.members],
                  "seed": config.seed, "train": {
                      f: v for f, v in dataclasses.asdict(tc).items() if f != "checkpoint_every"}}
    fit_config["train"]["steps"] = total
    if tc.lr_schedule == "constant":  # the number of updates may then grow on resumption
        del fit_config["train"]["steps"]
    n = len(members)  # the padding runs of a sharded sweep are dropped

    def won(record) -> np.ndarray:
        return np.asarray(stopping.success_of(group.task, record, task.baseline, tc.success_ratio))[:n]

    def prune(evals) -> np.ndarray:
        """The tuning runs to stop after ``evals`` (:func:`plan.cannot_be_chosen`)."""
        first: list[int | None] = [None] * n
        for r in evals:
            for i in np.flatnonzero(won(r)):
                first[i] = r["step"] if first[i] is None else first[i]
        before, their_first = known
        return np.array(plan.cannot_be_chosen(list(before) + members, list(their_first) + first,
                                              evals[-1]["step"] + tc.eval_every)[len(before):])

    def frozen(evals) -> np.ndarray:
        """The runs whose parameters stopped moving (:func:`precision.frozen_at`) by the last
        evaluation: those whose last piece alone qualifies (it does whenever an earlier one did,
        its losses being the frozen value), so each check reads one piece, not the curve."""
        evals = [r for r in evals if r["step"] > evals[-1]["step"] - tc.checkpoint_every]
        steps = [r["step"] for r in evals]
        return np.array([precision.frozen_at(steps, [_float(r["test_loss"][i]) for r in evals],
                                             task.baseline, tc.checkpoint_every, DIVERGED)
                         is not None for i in range(n)])

    def stop(evals) -> np.ndarray:
        pruned = prune(evals) if group.stage.startswith("tune") and share is None else False
        return frozen(evals) | pruned

    final, records, stopped_at = stopping.fit_until_success(
        step, states, _batches(config, task, T, test_key), total=total,
        workdir=None if workdir is None else workdir / group.name, every=tc.checkpoint_every,
        log_every=tc.eval_every, eval_fn=lambda s: evaluate(s.params), config=fit_config,
        won=won, prune=stop, description=f"{group.name} ({len(members)} runs)")
    after = dynamics(jax.tree.map(lambda x: x[:n], final.params), None)
    evals = [r for r in records if "test_loss" in r]
    metrics = sorted({key for r in evals for key in r if key.startswith("test_")})

    def per_run(values):
        return [None] * n if values is None else [_float(x) for x in np.asarray(values)[:n]]

    return {"baseline": task.baseline,
            "n_params": {m: _count(jax.eval_shape(models[m, i].init, jax.random.key(0)))
                         for m, i in models},
            "steps": [r["step"] for r in evals],
            **{key: [list(r[key][:n]) for r in evals] for key in metrics},
            "init_log_jacobian": per_run(at_init.get("log_jacobian")),
            "final_log_jacobian": per_run(after.get("log_jacobian")),
            "init_lambda_max": per_run(at_init.get("lambda_max")),
            "stopped_at": stopped_at}


def _float(x) -> float | None:
    return float(x) if np.isfinite(x) else None


def _batches(config: Config, task, T: int, test_key):
    """``step -> batch``: None (each run draws its batch from its key) or a fixed-set batch."""
    tc = config.train
    if tc.data == "stream":
        return lambda step: None
    train = task.sample(jax.random.fold_in(test_key, 1 + len(TASKS)), tc.n_train)
    per_epoch = tc.n_train // tc.batch_size

    def batch_at(step):
        epoch, i = divmod(step, per_epoch)
        perm = np.random.default_rng((config.seed, T, epoch)).permutation(tc.n_train)
        idx = perm[i * tc.batch_size:(i + 1) * tc.batch_size]
        return jax.tree.map(lambda a: a[idx], train)

    return batch_at


def _step(config: Config, single, mesh, succeeded):
    """One update of every run: vmapped, or the runs in turn (per device when sharded), each
    run stopped at success (:func:`~experiments.longrange.stopping.stop_at_success`)."""
    every = config.train.eval_every
    if sweep_mode(config) == "vmap":
        update = jax.vmap(single, in_axes=(0, None))
    else:
        def update(states, batch):
            return jax.lax.map(lambda s: stopping.unless_stopped(single, s, batch), states)
    body = stopping.stop_at_success(update, succeeded, every)
    if mesh is not None and sweep_mode(config) == "map":
        body = jax.shard_map(body, mesh=mesh, in_specs=(P(tr.sweep.AXIS), P()),
                             out_specs=P(tr.sweep.AXIS), check_vma=False)
    return jax.jit(body, donate_argnums=(0,))


def _count(tree) -> int:
    return int(sum(np.size(x) for x in jax.tree.leaves(tree)))
