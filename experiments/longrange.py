"""LSTM versus Elman on long-range dependencies: the adding and copy tasks swept over T.

Every (task, T, cell family) is ONE jitted training program whose leading axis holds all its
runs: the seeds, and every hyper-parameter that leaves the shapes alone (the LSTM's forget-gate
initialisation 0 / 1 / chrono, gradient clipping on / off). With several devices that axis is
sharded over a ``jax.sharding.Mesh`` (``rnnjax.train.sweep``); the runs never communicate.
Inside a device the runs are batched with ``jax.vmap`` or, on CPU by default, run in turn
inside the same program with ``jax.lax.map`` (XLA:CPU's batched matrix products make the
vmapped LSTM backward pass slower than sequential runs; see :func:`sweep_mode`).

    python -m experiments.longrange --quick          # ~2 min on 2 idle CPU cores
    python -m experiments.longrange                  # the full sweep, resumable (see Config)
    python -m experiments.longrange --plot-only      # redraw figures from summary.json

Outputs in the workdir: ``summary.json`` (one row per task, model, T, seed and ablation;
``loss`` is null when the final test loss is not finite, ``diverged`` also when > 100x baseline),
``curves.json`` (test loss through training), ``timing.json`` (steps/s per program),
``index.json`` (headline),
figures ``curves_<task>.png``, ``loss_vs_T.png``, ``success_vs_T.png``,
``learning_time_vs_T.png``, ``ablations.png``, and ``groups/<program>/`` with each program's
``metrics.jsonl`` and its Orbax ``checkpoints/`` (git-ignored): rerunning the same command resumes.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec as P

import rnnjax
import rnnjax.train as tr
from experiments._common import (
    UserError,
    cli,
    positive,
    read_json,
    require_choice,
    require_positive,
    save_figure,
    write_index,
    write_json,
)
from rnnjax.models.sequence import sequence_model
from rnnjax.tasks import adding
from rnnjax.tasks import copy as copy_task

TASKS = ("adding", "adding_hs97", "copy")
# model name -> (family, cell constructor (hidden_size, T) -> Cell). Models of one family share
# the step function (they differ only in their initial parameters), so they share one program.
MODELS: dict[str, tuple[str, Callable[[int, int], rnnjax.Cell]]] = {
    "elman": ("elman", lambda h, t: rnnjax.cells.elman(h)),
    "irnn": ("irnn", lambda h, t: rnnjax.cells.elman(h, activation=jax.nn.relu,
                                                    recurrent_init="identity")),
    "lstm_fb0": ("lstm", lambda h, t: rnnjax.cells.lstm(h, forget_bias=0.0)),
    "lstm_fb1": ("lstm", lambda h, t: rnnjax.cells.lstm(h, forget_bias=1.0)),
    "lstm_chrono": ("lstm", lambda h, t: rnnjax.cells.lstm(h, chrono_t_max=t)),
    "gru": ("gru", lambda h, t: rnnjax.cells.gru(h)),
}
ABLATIONS = ("no_clip", "tbptt")
DIVERGED = 100.0  # a run whose final test loss is non-finite or > 100 x baseline diverged
LABELS = {"elman": "Elman (tanh)", "irnn": "IRNN (ReLU, identity)", "lstm_fb0": "LSTM, b_f = 0",
          "lstm_fb1": "LSTM, b_f = 1", "lstm_chrono": "LSTM, chrono init", "gru": "GRU"}
COLORS = {"elman": "tab:red", "irnn": "tab:orange", "lstm_fb0": "tab:cyan",
          "lstm_fb1": "tab:blue", "lstm_chrono": "tab:purple", "gru": "tab:green"}


@dataclasses.dataclass(frozen=True)
class Config:
    """LSTM versus Elman on the adding and copy problems (STUDIES.md part B).

    Reproduces: the tanh RNN stays at the constant-prediction baseline once the lag reaches
    T ≈ 100–200 (Hochreiter & Schmidhuber 1997; Le et al. 2015; Arjovsky et al. 2016) while the
    LSTM learns the adding problem far below the baseline at T = 100 and still beats it at
    T = 400; forget bias 1 / chrono initialisation help the LSTM; truncated BPTT with a
    truncation shorter than the lag fails; gradient clipping matters for the tanh RNN.

    Command: ``python -m experiments.longrange`` (full) or ``--quick``.

    Definitions used: adding problem in the modern form (Le et al. 2015): values U[0, 1], one
    marker in each half, target the sum, MSE, baseline 1/6 (``adding_hs97`` adds the 1997 form,
    baseline 1/24, success = every test sequence within 0.04). Copy task of Arjovsky et al.
    2016: 10 symbols of 8 categories, delay T, cross-entropy over all T + 20 steps, baseline
    10 log 8 / (T + 20). All models have the same hidden size H (so the LSTM has ~4x and the
    GRU ~3x the recurrent parameters of the Elman network; the parameter counts are in
    summary.json). Adam with global-norm clipping (threshold ``clip_norm``), learning rate
    decayed by a cosine to 10 % over the ``steps`` updates (the same at every T), batch
    ``batch_size``. "Loss" is the final loss on a fixed test set of ``n_test`` sequences; a run
    *succeeds* at the first evaluation with test loss <= ``success_ratio`` x baseline.
    Training data: a fresh stream (each update draws a new batch from the seed's key, the
    default) or, with ``data="fixed"``, a fixed training set of ``n_train`` sequences.

    Expected (full preset): Elman at loss/baseline ≈ 1 from T = 100 on, LSTM b_f = 1 far below
    it at T = 100 and still below at T = 400. Measured here (committed): quick T = 50, 100 and
    the runs in ``results/longrange/medium`` (T = 100, 200) and ``results/longrange/long``
    (T = 400, 3000 updates): Elman 0.92–1.1 of the baseline at every T, LSTM b_f = 1 at
    0.004 (T = 100), 0.009 (T = 200) and 0.02 (T = 400; median of 3 seeds); truncated BPTT
    (k = 10) does *not* fail on the adding problem: the LSTM reaches 0.1–0.3 of the baseline,
    because the rule "write the marked value into the cell" can be learned from markers that
    fall inside the last k steps and is position-invariant.

    Presets and runtime on the 2-core CPU of this project. Cost is linear in runs x updates x T;
    timing.json has the measured rates (run-steps/s per program). Measured while five
    engineers shared the machine (load ≈ 13): ≈ 0.19 ms per LSTM run-step per time step
    (H = 32, batch 32, ``sweep="map"``), ≈ 0.04 ms for the Elman network.
    - ``--quick``: adding, T = 50, 100, 3 seeds, 600 updates, 5 models + truncated-BPTT
      ablation: 2 min 9 s measured on the (then idle) machine with the default
      ``sweep="map"``; 14 min at load ≈ 13 with ``sweep="vmap"``.
    - medium: ``--lengths 100,200 --models elman,lstm_fb1 --ablations "" --seeds 3
      --steps 1500 --eval-every 50 --n-test 256 --workdir results/longrange/medium`` (9 min at
      load ≈ 13, vmap).
    - long: ``--lengths 400 --models elman,lstm_fb1,lstm_chrono,gru --ablations "" --seeds 3
      --steps 3000 --n-test 256 --workdir results/longrange/long`` (25 min at load ≈ 13).
    - full (the defaults): adding, T = 50, 100, 200, 400, 5 seeds, 6 models, clipping-off and
      truncated-BPTT ablations (Elman, LSTM b_f = 1), 3000 updates: ≈ 4 h at the measured
      shared-machine rates, ≈ 1-2 h of background compute on an idle machine (extrapolated;
      not run in this session). ``--tasks adding,copy`` doubles it; ``--lengths
      50,100,200,400,750`` adds T = 750 (≈ +100 %); a lent GPU with ``--sweep vmap`` is the
      way to run those.
    Checkpoints every ``checkpoint_every`` updates to ``<workdir>/groups/*/checkpoints``;
    rerunning the same command resumes (also across sessions); finished programs are skipped.
    ``--distributed true`` calls ``jax.distributed.initialize()`` first and the mesh spans all
    global devices. Not exercised here (one host); on several hosts the host-side metric reads
    in ``rnnjax.train.fit`` (``np.asarray`` of sharded arrays) would need a
    ``multihost_utils.process_allgather`` first.
    """

    tasks: tuple[str, ...] = ("adding",)
    models: tuple[str, ...] = ("elman", "irnn", "lstm_fb0", "lstm_fb1", "lstm_chrono", "gru")
    lengths: tuple[int, ...] = (50, 100, 200, 400)
    seeds: int = 5
    seed: int = 0
    hidden_size: int = 32
    batch_size: int = 32
    steps: int = 3000
    learning_rate: float = 1e-2
    lr_schedule: str = "cosine"
    clip_norm: float = 1.0
    ablations: tuple[str, ...] = ABLATIONS
    ablation_models: tuple[str, ...] = ("elman", "lstm_fb1")
    tbptt_truncation: int = 10
    data: str = "stream"
    n_train: int = 10_000
    n_test: int = 500
    eval_every: int = 100
    checkpoint_every: int = 500
    success_ratio: float = 0.1
    sweep: str = "auto"
    devices: int = 0
    distributed: bool = False

    def __post_init__(self):
        for t in self.tasks:
            if t not in TASKS:
                raise ValueError(f"tasks must be among {TASKS}, got {t!r}")
        for m in self.models + self.ablation_models:
            if m not in MODELS:
                raise ValueError(f"models must be among {tuple(MODELS)}, got {m!r}")
        for a in self.ablations:
            if a not in ABLATIONS:
                raise ValueError(f"ablations must be among {ABLATIONS}, got {a!r}")
        if not self.tasks or not self.models or not self.lengths:
            raise ValueError("tasks, models and lengths must each name at least one value")
        for t in self.lengths:
            if t < 6:
                raise ValueError(f"lengths must be >= 6, got {t}")
        require_choice("sweep", self.sweep, ("auto", "vmap", "map"))
        require_choice("lr_schedule", self.lr_schedule, ("constant", "cosine"))
        require_choice("data", self.data, ("stream", "fixed"))
        require_positive(self, "seeds", "hidden_size", "batch_size", "steps", "learning_rate",
                     "clip_norm", "tbptt_truncation", "n_test", "eval_every",
                     "checkpoint_every", "success_ratio")
        positive("devices", self.devices, allow_zero=True)
        if self.data == "fixed" and self.n_train < self.batch_size:
            raise ValueError(f"n_train ({self.n_train}) must be >= batch_size ({self.batch_size})")


QUICK = dict(tasks=("adding",), lengths=(50, 100), seeds=3, steps=600,
             models=("elman", "irnn", "lstm_fb1", "lstm_chrono", "gru"), ablations=("tbptt",),
             ablation_models=("lstm_fb1",), eval_every=50, checkpoint_every=300, n_test=256)


# ----------------------------------------------------------------------------- tasks


class Task(NamedTuple):
    """What the sweep needs to know about a task at one T."""

    name: str
    baseline: float
    sample: Callable[[jax.Array, int], tuple[jax.Array, jax.Array]]  # (key, n) -> inputs, targets
    model: Callable[[rnnjax.Cell], Any]                                 # cell -> sequence model
    loss: Callable[[jax.Array, jax.Array], jax.Array]                   # outputs, targets -> scalar
    metrics: Callable[[jax.Array, jax.Array], dict[str, jax.Array]]     # for evaluation


def make_task(name: str, T: int) -> Task:
    if name in ("adding", "adding_hs97"):
        form = "modern" if name == "adding" else "hs97"

        def sample(key, n):
            d = adding.batch(key=key, batch_size=n, length=T, form=form)
            return d.inputs, d.targets

        def loss(out, y):
            return tr.mse(out[..., 0], y)

        def metrics(out, y):
            return {"test_loss": loss(out, y),
                    "test_solved": jnp.mean(adding.solved(out[..., 0], y).astype(jnp.float32))}

        return Task(name, adding.baseline(form), sample,
                    lambda cell: sequence_model(cell, input_size=adding.INPUT_SIZE, output_size=1,
                                                pool="last"), loss, metrics)
    if name == "copy":
        V = copy_task.vocab_size()

        def sample(key, n):
            d = copy_task.batch(key=key, batch_size=n, delay=T)
            return d.inputs, d.targets

        def loss(logits, y):
            return tr.cross_entropy(logits, y)

        def metrics(logits, y):  # accuracy on the 10 positions that must be recalled
            return {"test_loss": loss(logits, y),
                    "test_recall": tr.accuracy(logits[..., -10:, :], y[..., -10:])}

        return Task(name, copy_task.baseline(T), sample,
                    lambda cell: sequence_model(cell, vocab_size=V, output_size=V), loss, metrics)
    raise ValueError(f"unknown task {name!r}")


# ----------------------------------------------------------------------------- one program


class Member(NamedTuple):
    """One run on the sweep axis."""

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
    seeds = range(config.seeds)
    for T in sorted(config.lengths):
        for task in config.tasks:
            families: dict[str, list[Member]] = {}
            for m in config.models:
                families.setdefault(MODELS[m][0], []).extend(
                    Member(m, s, True, None) for s in seeds)
            if "no_clip" in config.ablations:
                for m in config.ablation_models:
                    families.setdefault(MODELS[m][0], []).extend(
                        Member(m, s, False, "no_clip") for s in seeds)
            groups += [Group(task, T, f, None, tuple(ms)) for f, ms in families.items()]
            if "tbptt" in config.ablations and config.tbptt_truncation < T // 2:
                for m in config.ablation_models:
                    groups.append(Group(task, T, MODELS[m][0], config.tbptt_truncation, tuple(
                        Member(m, s, True, f"tbptt_k{config.tbptt_truncation}") for s in seeds)))
    return groups


def _optimizer(config: Config) -> optax.GradientTransformation:
    """Global-norm clipping then Adam (constant rate, or cosine decay to 10 % over ``steps``).

    ``rnnjax.train.optimizer`` fixes the clipping threshold at construction; here it is an array
    in the optimiser state (``optax.inject_hyperparams``) so that clipped and unclipped runs share
    one program along the sweep axis: "off" is an infinite threshold.
    """
    clip = optax.inject_hyperparams(optax.clip_by_global_norm)
    lr = config.learning_rate
    if config.lr_schedule == "cosine":
        lr = optax.cosine_decay_schedule(lr, decay_steps=config.steps, alpha=0.1)
    return optax.chain(clip(max_norm=config.clip_norm), optax.adam(lr))


def _seed_keys(config: Config, task: str, T: int, seed: int) -> tuple[jax.Array, jax.Array]:
    """(init key, data key) of a seed: shared by all models, so comparisons are paired."""
    k = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), seed), T)
    return tuple(jax.random.split(jax.random.fold_in(k, TASKS.index(task))))


def sweep_mode(config: Config) -> str:
    """How the members of a program run: ``vmap`` (batched) or ``map`` (``lax.map``, in turn).

    Both are one jitted program per update over the same stacked states, sharded over the same
    mesh, and give the same numbers. ``auto`` picks ``map`` on CPU, where XLA's batched matrix
    products in the LSTM's backward pass make the vmapped step ~2-4x slower than running the
    members in turn (``benchmarks/bench_longrange.py``), and ``vmap`` on accelerators.
    """
    if config.sweep != "auto":
        return config.sweep
    return "map" if jax.default_backend() == "cpu" else "vmap"


def _mesh(config: Config):
    devices = jax.devices()
    if config.devices:
        if config.devices > len(devices):
            raise UserError(f"--devices {config.devices}: only {len(devices)} devices available")
        devices = devices[:config.devices]
    return tr.sweep.mesh(devices) if len(devices) > 1 else None


def truncated_apply(model, params, inputs: jax.Array, k: int | None) -> jax.Array:
    """``model.apply(params, inputs)`` outputs, with gradients truncated to the last ``k`` steps.

    Truncated BPTT with the lecture's (k1, k2) = (T, k) for a loss on the final outputs: the
    forward pass is unchanged, but ``stop_gradient`` on the carry at step ``T - k`` means that
    no gradient reaches steps ``1 .. T - k`` through the recurrence. ``k=None``: full BPTT.
    """
    if k is None:
        return model.apply(params, inputs)[1]
    T = inputs.shape[1]
    carry, early = model.apply(params, inputs[:, :T - k])
    carry = jax.lax.stop_gradient(carry)
    _, late = model.apply(params, inputs[:, T - k:], carry)
    return late if model.pool is not None else jnp.concatenate([early, late], axis=1)


def run_group(config: Config, group: Group, workdir: Path) -> dict[str, Any]:
    """Train every member of ``group`` as one vmapped program; returns its history and timing."""
    task = make_task(group.task, group.T)
    models = {m.model: task.model(MODELS[m.model][1](config.hidden_size, group.T))
              for m in group.members}
    model = next(iter(models.values()))  # the family's step: any member's model computes it
    opt = _optimizer(config)
    T, k = group.T, group.tbptt

    def loss_fn(params, batch, key):
        inputs, targets = task.sample(key, config.batch_size) if batch is None else batch
        return task.loss(truncated_apply(model, params, inputs, k), targets)

    # All members' states from one jitted function: a vmapped init per block of consecutive
    # members with the same model, concatenated; the clipping threshold is then set per member.
    blocks: list[list[Member]] = []
    for m in group.members:
        if blocks and blocks[-1][0].model == m.model:
            blocks[-1].append(m)
        else:
            blocks.append([m])
    keys = [_seed_keys(config, group.task, T, m.seed) for m in group.members]
    max_norm = jnp.array([config.clip_norm if m.clip else jnp.inf for m in group.members])

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
    n = len(group.members)
    mesh = _mesh(config)
    if mesh is not None:  # pad the sweep axis to a multiple of the device count
        pad = -n % mesh.devices.size
        states = jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, 0)]), states)
    if mesh is not None:
        states = tr.sweep.shard(states, mesh)

    test_key = jax.random.fold_in(jax.random.key(config.seed + 10_007), T)
    test_inputs, test_targets = task.sample(jax.random.fold_in(test_key, TASKS.index(group.task)),
                                            config.n_test)

    @jax.jit
    def evaluate(params):
        return jax.vmap(lambda p: task.metrics(model.apply(p, test_inputs)[1], test_targets))(params)

    if config.data == "stream":
        def batch_at(step):
            return None
    else:
        train = task.sample(jax.random.fold_in(test_key, 1 + len(TASKS)), config.n_train)
        per_epoch = config.n_train // config.batch_size

        def batch_at(step):
            epoch, i = divmod(step, per_epoch)
            perm = np.random.default_rng((config.seed, T, epoch)).permutation(config.n_train)
            idx = perm[i * config.batch_size:(i + 1) * config.batch_size]
            return jax.tree.map(lambda a: a[idx], train)

    mode = sweep_mode(config)
    single = tr.make_step(loss_fn, opt, jit=False)
    if mode == "vmap":
        step = tr.sweep.vmap_step(single, batch_axis=None)
    else:  # the members one after another inside one program; per device when sharded
        def mapped(states, batch):
            return jax.lax.map(lambda s: single(s, batch), states)

        if mesh is not None:
            mapped = jax.shard_map(mapped, mesh=mesh, in_specs=(P(tr.sweep.AXIS), P()),
                                   out_specs=P(tr.sweep.AXIS), check_vma=False)
        step = jax.jit(mapped, donate_argnums=(0,))
    fit_config = {"group": group.name, "members": [list(m) for m in group.members],
                  **{f: v for f, v in dataclasses.asdict(config).items()
                     if f not in ("checkpoint_every", "devices", "distributed", "sweep", "tasks",
                                  "models", "lengths", "ablations", "ablation_models")}}
    if config.lr_schedule == "constant":  # the number of steps may then grow on resumption
        del fit_config["steps"]
    t0 = time.perf_counter()
    start = _completed_steps(workdir / "groups" / group.name)
    states, records = tr.fit(
        step, states, batch_at, num_steps=config.steps, workdir=workdir / "groups" / group.name,
        checkpoint_every=config.checkpoint_every, log_every=config.eval_every,
        eval_fn=lambda s: evaluate(s.params), config=fit_config, nonfinite="skip",
        description=f"{group.name} ({n} runs)")
    wall = time.perf_counter() - t0
    trained = config.steps - start
    return {"records": records, "n": n, "wall_s": wall, "trained_steps": trained,
            "baseline": task.baseline,
            "n_params": {m: _count(jax.eval_shape(models[m].init, jax.random.key(0)))
                         for m in models}}


def _completed_steps(group_dir: Path) -> int:
    steps = [int(p.name) for p in (group_dir / "checkpoints").glob("[0-9]*") if p.name.isdigit()]
    return max(steps, default=0)


def _count(tree) -> int:
    return int(sum(np.size(x) for x in jax.tree.leaves(tree)))


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def rows_and_curves(config: Config, group: Group, out: dict[str, Any]):
    records = [r for r in out["records"] if "test_loss" in r]
    steps = [r["step"] for r in records]
    base = out["baseline"]
    rows, curves = [], []
    for i, m in enumerate(group.members):
        losses = [_finite(r["test_loss"][i]) for r in records]
        if group.task == "adding_hs97":
            ok = [r["test_solved"][i] >= 1.0 for r in records]
        else:
            ok = [x is not None and x <= config.success_ratio * base for x in losses]
        first = next((s for s, good in zip(steps, ok, strict=True) if good), None)
        final = losses[-1] if losses else None
        diverged = final is None or final > DIVERGED * base
        rows.append({
            "task": group.task, "model": m.model, "T": group.T, "seed": m.seed,
            "ablation": m.ablation, "loss": final, "baseline": base,
            "loss_over_baseline": None if final is None else final / base,
            "steps_to_success": first, "success": first is not None, "diverged": diverged,
            "steps": config.steps, "data": config.data, "hidden_size": config.hidden_size,
            "n_params": out["n_params"][m.model], "clip_norm": config.clip_norm if m.clip else None,
            "tbptt": group.tbptt, "success_ratio": config.success_ratio,
        })
        curves.append({"task": group.task, "model": m.model, "T": group.T, "seed": m.seed,
                       "ablation": m.ablation, "steps": steps,
                       "loss_over_baseline": [None if x is None else round(x / base, 5)
                                              for x in losses]})
    return rows, curves


def run(config: Config, workdir: Path) -> None:
    if config.distributed:  # multi-host: every process runs this same script
        jax.distributed.initialize()
    rows, curves, timing = [], [], []
    # programs already finished keep the timing measured when they trained
    earlier = {t["group"]: t for t in (read_json(workdir / "timing.json")
                                       if (workdir / "timing.json").exists() else [])}
    for group in plan(config):
        out = run_group(config, group, workdir)
        r, c = rows_and_curves(config, group, out)
        rows += r
        curves += c
        member_steps = out["n"] * out["trained_steps"]
        if out["trained_steps"] == 0 and group.name in earlier:
            timing.append(earlier[group.name])
        else:
            timing.append({"group": group.name, "runs": out["n"], "sweep": sweep_mode(config),
                           "devices": jax.device_count(), "trained_steps": out["trained_steps"],
                           "wall_s": round(out["wall_s"], 2),
                           "run_steps_per_s": (round(member_steps / out["wall_s"], 1)
                                               if out["trained_steps"] else None)})
        # written after every program, so an interrupted sweep leaves usable partial tables
        write_json(workdir / "summary.json", {"complete": False, "rows": rows})
        write_json(workdir / "curves.json", curves)
        write_json(workdir / "timing.json", timing)
    write_json(workdir / "summary.json", {"complete": True, "rows": rows})


# ----------------------------------------------------------------------------- figures


def _main_rows(rows, task=None):
    return [r for r in rows if r["ablation"] is None and (task is None or r["task"] == task)]


def _by(rows, *keys):
    out: dict[tuple, list] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def _task_title(task: str) -> str:
    return {"adding": "adding problem (MSE, baseline 1/6)",
            "adding_hs97": "adding problem, 1997 form (baseline 1/24)",
            "copy": "copy task (cross-entropy, baseline 10 log 8 / (T+20))"}[task]


def _geo_mean_sd(values):
    """Geometric mean of the finite values and its one-geometric-s.d. error bar (lo, hi)."""
    v = np.array([np.nan if x is None else x for x in values], float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return np.nan, (np.nan, np.nan)
    g, sd = np.exp(np.mean(np.log(v))), np.exp(np.std(np.log(v)))
    return g, (g - g / sd, g * sd - g)


def _diverged(row) -> bool:
    ratio = row["loss_over_baseline"]
    return ratio is None or ratio > DIVERGED


def _median_iqr(values):
    v = np.array([x for x in values if x is not None], float)
    if not v.size:
        return np.nan, (np.nan, np.nan)
    q1, q2, q3 = np.percentile(v, [25, 50, 75])
    return q2, (q2 - q1, q3 - q2)


def _t_axis(ax, lengths):
    ax.set_xscale("log")
    ax.set_xticks(lengths, [str(t) for t in lengths])
    ax.minorticks_off()
    ax.set_xlim(min(lengths) / 1.25, max(lengths) * 1.25)
    ax.set_xlabel("sequence length T (time steps)")
    ax.grid(alpha=0.3, which="both")


def _plain_log_y(ax):
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if hi / lo < 1e3
                                          else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: ""))


def plot(workdir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = read_json(workdir / "summary.json")
    rows = summary["rows"]
    curves = read_json(workdir / "curves.json")
    if not rows:
        raise UserError(f"{workdir / 'summary.json'} has no rows: the sweep has not run yet")
    tasks = sorted({r["task"] for r in rows}, key=TASKS.index)
    models = [m for m in MODELS if any(r["model"] == m for r in _main_rows(rows))]
    lengths = sorted({r["T"] for r in rows})
    budget = rows[0]["steps"]
    figures = []
    # small horizontal offsets so that coinciding points of different models stay visible
    offset = {m: 1.0 + 0.025 * (i - (len(models) - 1) / 2) for i, m in enumerate(models)}

    def outside_legend(fig, ax):
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)

    # 1. learning curves per T with the baseline line
    for task in tasks:
        fig, axes = plt.subplots(1, len(lengths), figsize=(3.4 * len(lengths) + 1.8, 3.3),
                                 sharey=True, squeeze=False, layout="constrained")
        for ax, T in zip(axes[0], lengths, strict=True):
            for m in models:
                cs = [c for c in curves if c["task"] == task and c["T"] == T
                      and c["model"] == m and c["ablation"] is None]
                if not cs:
                    continue
                y = np.array([[np.nan if v is None else v for v in c["loss_over_baseline"]]
                              for c in cs], float)
                x = cs[0]["steps"]
                with warnings.catch_warnings():  # all-NaN columns: a run that diverged
                    warnings.simplefilter("ignore", RuntimeWarning)
                    ax.plot(x, np.nanmedian(y, 0), color=COLORS[m], label=LABELS[m], lw=1.5)
                    ax.fill_between(x, np.nanmin(y, 0), np.nanmax(y, 0), color=COLORS[m],
                                    alpha=0.15, lw=0)
            ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline (constant prediction)")
            ax.set_yscale("log")
            ax.set_ylim(top=min(ax.get_ylim()[1], 10.0))  # early transients of diverging runs
            ax.set_title(f"T = {T}", fontsize=10)
            ax.set_xlabel("training step (updates)")
            ax.grid(alpha=0.3, which="both")
        axes[0, 0].set_ylabel("test loss / baseline")
        outside_legend(fig, axes[0, -1])
        fig.suptitle(f"{_task_title(task)}: median (line) and range (band) over seeds",
                     fontsize=10)
        name = f"curves_{task}.png"
        save_figure(fig, workdir / name)
        figures.append((name, f"{task}: test loss / baseline through training, per T"))

    def versus_t(stat, ylabel, title, name, caption, *, log_y=True, budget_line=False,
                 baseline_line=False):
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks) + 1.8, 3.6),
                                 squeeze=False, layout="constrained")
        for ax, task in zip(axes[0], tasks, strict=True):
            groups = _by(_main_rows(rows, task), "model", "T")
            for m in models:
                pts = [(T, *stat(groups[(m, T)])) for T in lengths if (m, T) in groups]
                pts = [p for p in pts if np.isfinite(p[1])]
                if not pts:
                    continue
                Ts = np.array([p[0] for p in pts], float) * offset[m]
                err = np.array([p[2] for p in pts], float).T
                ax.errorbar(Ts, [p[1] for p in pts],
                            yerr=None if np.all(np.isnan(err)) else err, marker="o", ms=4,
                            capsize=3, color=COLORS[m], label=LABELS[m])
            if baseline_line:
                ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
            if budget_line:
                ax.axhline(budget, color="gray", ls=":", lw=1, label=f"budget ({budget} updates)")
            _t_axis(ax, lengths)
            if log_y:
                _plain_log_y(ax)
            ax.set_ylabel(ylabel)
            ax.set_title(_task_title(task), fontsize=9)
        outside_legend(fig, axes[0, -1])
        fig.suptitle(title, fontsize=9)
        save_figure(fig, workdir / name)
        figures.append((name, caption))

    # 2. loss / baseline vs T with seed error bars
    versus_t(lambda rs: _geo_mean_sd([r["loss_over_baseline"] for r in rs if not _diverged(r)]),
             "final test loss / baseline",
             "final test loss / baseline: geometric mean ± one geometric s.d. over seeds\n"
             f"(diverged runs, loss > {DIVERGED:g} x baseline, left out)",
             "loss_vs_T.png",
             "final test loss / baseline vs T (seed error bars)", baseline_line=True)
    # 3. success fraction vs T
    versus_t(lambda rs: (np.mean([r["success"] for r in rs]), (np.nan, np.nan)),
             "fraction of seeds that succeed", f"success: {_success_text(rows)}",
             "success_vs_T.png", "fraction of seeds reaching success vs T", log_y=False)
    # 4. learning time vs T
    versus_t(lambda rs: _median_iqr([r["steps_to_success"] for r in rs]),
             "updates to success", "learning time: median and interquartile range over the "
             "seeds that succeed", "learning_time_vs_T.png",
             "learning time (updates to success) vs T", budget_line=True)

    # 5. ablations: forget bias / chrono, clipping off, truncated BPTT
    abl = sorted({(r["model"], r["ablation"]) for r in rows if r["ablation"] is not None})
    lstm_inits = [m for m in ("lstm_fb0", "lstm_fb1", "lstm_chrono") if m in models]
    if abl or len(lstm_inits) > 1:
        variants = list(dict.fromkeys([(m, None) for m in lstm_inits]
                                      + [(m, None) for m, _ in abl] + abl))
        fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks) + 2.6, 3.6),
                                 squeeze=False, layout="constrained")
        for ax, task in zip(axes[0], tasks, strict=True):
            for m, a in variants:
                g = _by([r for r in rows if r["task"] == task and r["model"] == m
                         and r["ablation"] == a], "T")
                Ts = sorted(k[0] for k in g)
                stats = [_geo_mean_sd([r["loss_over_baseline"] for r in g[(T,)]
                                       if not _diverged(r)]) for T in Ts]
                if not Ts:
                    continue
                style, marker = {None: ("-", "o"), "no_clip": ("--", "s")}.get(a, (":", "^"))
                label = LABELS[m] + ("" if a is None else {"no_clip": ", no clipping"}.get(
                    a, f", truncated BPTT (k = {a.removeprefix('tbptt_k')})"))
                ax.errorbar(np.array(Ts, float) * offset.get(m, 1.0), [s[0] for s in stats],
                            yerr=np.array([s[1] for s in stats], float).T, fmt=style,
                            marker=marker, ms=4, capsize=2, color=COLORS[m], label=label)
            ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
            _t_axis(ax, lengths)
            _plain_log_y(ax)
            ax.set_ylabel("final test loss / baseline")
            ax.set_title(_task_title(task), fontsize=9)
        outside_legend(fig, axes[0, -1])
        fig.suptitle("ablations: forget-gate initialisation, gradient clipping, truncated BPTT "
                     "(geometric mean and s.d. over seeds)", fontsize=9)
        save_figure(fig, workdir / "ablations.png")
        figures.append(("ablations.png", "forget bias 0/1/chrono, clipping off, truncated BPTT"))

    write_index(workdir, title="LSTM versus Elman on long-range dependencies",
                headline=_headline(rows, summary.get("complete", False)), figures=figures,
                tables=["summary.json", "curves.json", "timing.json"])


def _success_text(rows) -> str:
    text = f"first evaluation with test loss <= {rows[0]['success_ratio']:g} x baseline"
    if any(r["task"] == "adding_hs97" for r in rows):
        text += " (1997 form: every test sequence within 0.04)"
    return text


def _headline(rows, complete: bool) -> str:
    main = _main_rows(rows, "adding") or _main_rows(rows)
    g = _by(main, "model", "T")
    Ts = sorted({r["T"] for r in main})
    parts = []
    for m in ("lstm_fb1", "elman"):
        vals = [(T, np.median([r["loss_over_baseline"] for r in g[(m, T)]
                              if r["loss_over_baseline"] is not None] or [np.nan]))
                for T in Ts if (m, T) in g]
        if vals:
            parts.append(f"{LABELS[m]}: " + ", ".join(f"T={T}: {v:.3g}" for T, v in vals))
    task = main[0]["task"] if main else "?"
    note = "" if complete else " (partial sweep)"
    return f"{task}: final test loss / baseline (median over seeds){note} — " + "; ".join(parts)


def main(argv=None) -> int:
    return cli(__doc__, Config, QUICK, run, plot, argv, default_workdir="results/longrange")


if __name__ == "__main__":
    sys.exit(main())
