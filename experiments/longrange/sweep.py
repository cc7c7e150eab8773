"""The sweep: which programs run, and how one program trains all of its runs at once.

A *program* is one (task, T, cell family, gradient path): its runs (seeds, forget-gate
initialisations, clipping on or off) share one step function, so they are stacked on a leading
axis and trained by one jitted step per update. With several devices that axis is sharded over a
``jax.sharding.Mesh`` (:mod:`rnnjax.train.sweep`); the runs never communicate. Inside a device the
runs are batched with ``jax.vmap`` or run in turn with ``jax.lax.map`` (:func:`sweep_mode`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec as P

import rnnjax.train as tr
from experiments.common import UserError, num_steps
from experiments.longrange.config import TASKS, Config
from experiments.longrange.tasks import MODELS, make_task


class Member(NamedTuple):
    """One run on a program's sweep axis."""

    model: str
    seed: int
    clip: bool
    ablation: str | None


class Group(NamedTuple):
    """One compiled program: a task, a T, a cell family, a gradient path (full or truncated)."""

    task: str
    T: int
    family: str
    tbptt: int | None
    members: tuple[Member, ...]

    @property
    def name(self) -> str:
        cut = f"_tbptt{self.tbptt}" if self.tbptt else ""
        return f"{self.task}_T{self.T}_{self.family}{cut}"


def plan(config: Config) -> list[Group]:
    """All programs of the sweep, shortest T first (partial results are useful early)."""
    groups = []
    seeds = range(config.sweep.seeds)
    abl = config.ablations
    for T in sorted(config.sweep.lengths):
        for task in config.sweep.tasks:
            families: dict[str, list[Member]] = {}
            for m in config.sweep.models:
                families.setdefault(MODELS[m][0], []).extend(
                    Member(m, s, True, None) for s in seeds)
            if "no_clip" in abl.kinds:
                for m in abl.models:
                    families.setdefault(MODELS[m][0], []).extend(
                        Member(m, s, False, "no_clip") for s in seeds)
            groups += [Group(task, T, f, None, tuple(ms)) for f, ms in families.items()]
            if "tbptt" in abl.kinds and abl.tbptt_truncation < T // 2:
                for m in abl.models:
                    groups.append(Group(task, T, MODELS[m][0], abl.tbptt_truncation, tuple(
                        Member(m, s, True, f"tbptt_k{abl.tbptt_truncation}") for s in seeds)))
    return groups


def optimizer(config: Config) -> optax.GradientTransformation:
    """Global-norm clipping then Adam (constant rate, or cosine decay to 10 % over the run).

    The clipping threshold is an array in the optimiser state (``optax.inject_hyperparams``) so
    that clipped and unclipped runs share one program along the sweep axis: "off" is an infinite
    threshold, set per run after initialisation.
    """
    lr = config.train.learning_rate
    if config.train.lr_schedule == "cosine":
        lr = optax.cosine_decay_schedule(lr, decay_steps=num_steps(config, config.train.steps),
                                         alpha=0.1)
    clip = optax.inject_hyperparams(optax.clip_by_global_norm)
    return optax.chain(clip(max_norm=config.train.clip_norm), optax.adam(lr))


def seed_keys(config: Config, task: str, T: int, seed: int) -> tuple[jax.Array, jax.Array]:
    """(init key, data key) of a seed: shared by all models, so comparisons are paired."""
    k = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), seed), T)
    return tuple(jax.random.split(jax.random.fold_in(k, TASKS.index(task))))


def sweep_mode(config: Config) -> str:
    """How the runs of a program execute: ``vmap`` (batched) or ``map`` (``lax.map``, in turn).

    Both are one jitted program per update over the same stacked states, sharded over the same
    mesh. ``auto`` picks ``map`` on CPU, where XLA's batched matrix products in the LSTM's
    backward pass make the vmapped step 2-4x slower than running the runs in turn
    (``benchmarks/bench_longrange.py``), and ``vmap`` on accelerators.
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
    """Consecutive runs of the same model (initialised by one vmapped call each)."""
    blocks: list[list[Member]] = []
    for m in members:
        if blocks and blocks[-1][0].model == m.model:
            blocks[-1].append(m)
        else:
            blocks.append([m])
    return blocks


def train_group(config: Config, group: Group, workdir: Path | None,
                members: list[Member] | None = None) -> dict[str, Any]:
    """Train the runs of ``group`` as one program under ``workdir``; their evaluations.

    Returns ``baseline``, ``n_params`` per model, ``steps`` (the evaluated updates) and, per test
    metric, one list per evaluation with one value per run (``members`` order; default: all of
    ``group.members``). ``workdir=None``: no checkpoints (the runs of a multi-process sweep).
    """
    members = list(group.members if members is None else members)
    tc = config.train
    task = make_task(group.task, group.T)
    models = {m.model: task.model(MODELS[m.model][1](tc.hidden_size, group.T))
              for m in group.members}
    model = next(iter(models.values()))  # the family's step: any member's model computes it
    opt = optimizer(config)
    T, k, total = group.T, group.tbptt, num_steps(config, tc.steps)

    def loss_fn(params, batch, key):
        inputs, targets = task.sample(key, tc.batch_size) if batch is None else batch
        return task.loss(truncated_apply(model, params, inputs, k), targets)

    blocks = _blocks(members)
    keys = [seed_keys(config, group.task, T, m.seed) for m in members]
    max_norm = jnp.array([tc.clip_norm if m.clip else jnp.inf for m in members])

    @jax.jit
    def init_states(k_init, k_data, max_norm):
        parts, start = [], 0
        for block in blocks:
            init = models[block[0].model].init
            sl = slice(start, start + len(block))
            parts.append(jax.vmap(lambda ki, kd, init=init: tr.init_state(init(ki), opt, key=kd))(
                k_init[sl], k_data[sl]))
            start += len(block)
        states = jax.tree.map(lambda *xs: jnp.concatenate(xs), *parts)
        return states._replace(opt_state=optax.tree_utils.tree_set(states.opt_state,
                                                                   max_norm=max_norm))

    states = init_states(jnp.stack([k[0] for k in keys]), jnp.stack([k[1] for k in keys]),
                         max_norm)
    mesh = _mesh(config)
    if mesh is not None:  # pad the sweep axis to a multiple of the device count
        pad = -len(members) % mesh.devices.size
        states = jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, 0)]), states)
        states = tr.sweep.shard(states, mesh)

    test_key = jax.random.fold_in(jax.random.key(config.seed + 10_007), T)
    test_inputs, test_targets = task.sample(jax.random.fold_in(test_key, TASKS.index(group.task)),
                                            tc.n_test)

    @jax.jit
    def evaluate(params):
        return jax.vmap(lambda p: task.metrics(model.apply(p, test_inputs)[1], test_targets))(params)

    step = _step(config, tr.make_step(loss_fn, opt, jit=False), mesh)
    fit_config = {"group": group.name, "members": [list(m) for m in group.members],
                  "seed": config.seed, "train": {
                      f: v for f, v in dataclasses.asdict(tc).items() if f != "checkpoint_every"}}
    fit_config["train"]["steps"] = total
    if tc.lr_schedule == "constant":  # the number of updates may then grow on resumption
        del fit_config["train"]["steps"]
    _, records = tr.fit(
        step, states, _batches(config, task, T, test_key), num_steps=total,
        workdir=None if workdir is None else workdir / group.name,
        checkpoint_every=None if workdir is None else tc.checkpoint_every,
        log_every=tc.eval_every, eval_fn=lambda s: evaluate(s.params), config=fit_config,
        nonfinite="skip", description=f"{group.name} ({len(members)} runs)")
    evals = [r for r in records if "test_loss" in r]
    n = len(members)  # the padding runs of a sharded sweep are dropped
    metrics = sorted({key for r in evals for key in r if key.startswith("test_")})
    return {"baseline": task.baseline,
            "n_params": {m: _count(jax.eval_shape(models[m].init, jax.random.key(0)))
                         for m in models},
            "steps": [r["step"] for r in evals],
            **{key: [list(r[key][:n]) for r in evals] for key in metrics}}


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


def _step(config: Config, single, mesh):
    """One update of every run: vmapped, or the runs in turn (per device when sharded)."""
    if sweep_mode(config) == "vmap":
        return tr.sweep.vmap_step(single, batch_axis=None)

    def mapped(states, batch):
        return jax.lax.map(lambda s: single(s, batch), states)

    if mesh is not None:
        mapped = jax.shard_map(mapped, mesh=mesh, in_specs=(P(tr.sweep.AXIS), P()),
                               out_specs=P(tr.sweep.AXIS), check_vma=False)
    return jax.jit(mapped, donate_argnums=(0,))


def _count(tree) -> int:
    return int(sum(np.size(x) for x in jax.tree.leaves(tree)))
