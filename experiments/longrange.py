"""LSTM versus Elman on long-range dependencies: the adding and copy tasks swept over T.

Every (task, T, cell family) is ONE jitted training program whose leading axis holds all its
runs: the seeds, and every hyper-parameter that leaves the shapes alone (the LSTM's forget-gate
initialisation 0 / 1 / chrono, gradient clipping on / off). With several devices that axis is
sharded over a ``jax.sharding.Mesh`` (``rnnjax.train.sweep``); the runs never communicate.

    python -m experiments.longrange --quick          # ~5 min on 2 CPU cores
    python -m experiments.longrange                  # the full sweep, resumable (see Config)
    python -m experiments.longrange --plot-only      # redraw figures from summary.json

Outputs in the workdir: ``summary.json`` (one row per task, model, T, seed and ablation),
``curves.json`` (test loss through training), ``timing.json`` (steps/s per program),
figures ``curves_<task>.png``, ``loss_vs_T.png``, ``success_vs_T.png``,
``learning_time_vs_T.png``, ``ablations.png``, and ``groups/<program>/`` with each program's
``metrics.jsonl`` and its Orbax ``checkpoints/`` (git-ignored): rerunning the same command resumes.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import rnnjax
import rnnjax.train as tr
from experiments._common import UserError, cli, positive, read_json, save_figure, write_index, write_json
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

    Expected (full preset): Elman at loss/baseline ≈ 1 from T = 100 on, LSTM b_f = 1 below 0.1
    at T = 100 and below 1 at T = 400; truncated BPTT at ≈ 1 everywhere.

    Runtime on the 2-core CPU of this project (measured per program in timing.json): quick
    ≈ 5 min. Full preset (T = 50..400, 5 seeds, 6 models, 2 tasks, ablations, 3000 steps,
    H = 64) ≈ 2 h of background compute when the machine is not shared; it checkpoints every
    ``checkpoint_every`` updates and resumes from ``<workdir>/groups/*/checkpoints``.
    T = 750 (``--lengths 50,100,200,400,750``) roughly doubles that; use a lent GPU.
    """

    tasks: tuple[str, ...] = ("adding", "copy")
    models: tuple[str, ...] = ("elman", "irnn", "lstm_fb0", "lstm_fb1", "lstm_chrono", "gru")
    lengths: tuple[int, ...] = (50, 100, 200, 400)
    seeds: int = 5
    seed: int = 0
    hidden_size: int = 64
    batch_size: int = 32
    steps: int = 3000
    learning_rate: float = 3e-3
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
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.data not in ("stream", "fixed"):
            raise ValueError(f"data must be 'stream' or 'fixed', got {self.data!r}")
        for name in ("seeds", "hidden_size", "batch_size", "steps", "learning_rate",
                     "clip_norm", "tbptt_truncation", "n_test", "eval_every",
                     "checkpoint_every", "success_ratio"):
            positive(name, getattr(self, name))
        positive("devices", self.devices, allow_zero=True)
        if self.data == "fixed" and self.n_train < self.batch_size:
            raise ValueError(f"n_train ({self.n_train}) must be >= batch_size ({self.batch_size})")


QUICK = dict(tasks=("adding",), lengths=(50, 100), seeds=3, hidden_size=32, steps=800,
             learning_rate=1e-2, eval_every=50, checkpoint_every=400, n_test=256)


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


def _mesh(config: Config):
    devices = jax.devices()
    if config.devices:
        if config.devices > len(devices):
            raise UserError(f"--devices {config.devices}: only {len(devices)} devices available")
        devices = devices[:config.devices]
    return tr.sweep.mesh(devices) if len(devices) > 1 else None


def run_group(config: Config, group: Group, workdir: Path) -> dict[str, Any]:
    """Train every member of ``group`` as one vmapped program; returns its history and timing."""
    task = make_task(group.task, group.T)
    models = {m.model: task.model(MODELS[m.model][1](config.hidden_size, group.T))
              for m in group.members}
    model = next(iter(models.values()))  # the family's step: any member's model computes it
    opt = _optimizer(config)
    T, k = group.T, group.tbptt

    def forward(params, inputs):
        if k is None:
            return model.apply(params, inputs)[1]
        # truncated BPTT: no gradient reaches the first T - k steps through the carry
        carry, early = model.apply(params, inputs[:, :T - k])
        carry = jax.lax.stop_gradient(carry)
        _, late = model.apply(params, inputs[:, T - k:], carry)
        return late if model.pool is not None else jnp.concatenate([early, late], axis=1)

    def loss_fn(params, batch, key):
        inputs, targets = task.sample(key, config.batch_size) if batch is None else batch
        return task.loss(forward(params, inputs), targets)

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

    step = tr.sweep.vmap_step(tr.make_step(loss_fn, opt, jit=False), batch_axis=None)
    fit_config = {"group": group.name, "members": [list(m) for m in group.members],
                  **{f: v for f, v in dataclasses.asdict(config).items()
                     if f not in ("checkpoint_every", "devices", "distributed")}}
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
        skipped = sum(1 - r["finite"][i] for r in out["records"])  # logged steps only
        rows.append({
            "task": group.task, "model": m.model, "T": group.T, "seed": m.seed,
            "ablation": m.ablation, "loss": final, "baseline": base,
            "loss_over_baseline": None if final is None else final / base,
            "steps_to_success": first, "success": first is not None,
            "steps": config.steps, "data": config.data, "hidden_size": config.hidden_size,
            "n_params": out["n_params"][m.model], "clip_norm": config.clip_norm if m.clip else None,
            "tbptt": group.tbptt, "success_ratio": config.success_ratio,
            "nonfinite_logged_steps": int(skipped),
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
    for group in plan(config):
        out = run_group(config, group, workdir)
        r, c = rows_and_curves(config, group, out)
        rows += r
        curves += c
        member_steps = out["n"] * out["trained_steps"]
        timing.append({"group": group.name, "runs": out["n"], "devices": jax.device_count(),
                       "trained_steps": out["trained_steps"], "wall_s": round(out["wall_s"], 2),
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
    figures = []

    # 1. learning curves per T with the baseline line
    for task in tasks:
        fig, axes = plt.subplots(1, len(lengths), figsize=(3.6 * len(lengths), 3.2),
                                 sharey=True, squeeze=False)
        for ax, T in zip(axes[0], lengths, strict=True):
            for m in models:
                cs = [c for c in curves if c["task"] == task and c["T"] == T
                      and c["model"] == m and c["ablation"] is None]
                if not cs:
                    continue
                y = np.array([[np.nan if v is None else v for v in c["loss_over_baseline"]]
                              for c in cs], float)
                x = cs[0]["steps"]
                ax.plot(x, np.nanmedian(y, 0), color=COLORS[m], label=LABELS[m], lw=1.5)
                ax.fill_between(x, np.nanmin(y, 0), np.nanmax(y, 0), color=COLORS[m],
                                alpha=0.15, lw=0)
            ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline (constant prediction)")
            ax.set_yscale("log")
            ax.set_title(f"T = {T}")
            ax.set_xlabel("training step (updates)")
            ax.grid(alpha=0.3, which="both")
        axes[0, 0].set_ylabel("test loss / baseline")
        axes[0, -1].legend(fontsize=7, loc="lower left")
        fig.suptitle(f"{_task_title(task)}: median and range over seeds", fontsize=10)
        name = f"curves_{task}.png"
        save_figure(fig, workdir / name)
        figures.append((name, f"{task}: test loss / baseline through training, per T"))

    # 2-4. loss/baseline, success fraction and learning time against T
    def per_T(ax, task, value, agg, ylabel, log=True):
        for m in models:
            groups = _by(_main_rows(rows, task), "model", "T")
            Ts = [T for T in lengths if (m, T) in groups]
            if not Ts:
                continue
            stats = [agg([value(r) for r in groups[(m, T)]]) for T in Ts]
            mid = np.array([s[0] for s in stats], float)
            err = np.array([s[1] for s in stats], float)
            ax.errorbar(Ts, mid, yerr=None if np.all(np.isnan(err)) else err, marker="o",
                        ms=4, capsize=3, color=COLORS[m], label=LABELS[m])
        ax.set_xscale("log")
        ax.set_xticks(lengths, [str(t) for t in lengths])
        ax.minorticks_off()
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("sequence length T (steps)")
        ax.set_ylabel(ylabel)
        ax.set_title(_task_title(task), fontsize=9)
        ax.grid(alpha=0.3, which="both")

    def mean_std_log(vals):
        v = np.array([np.nan if x is None else x for x in vals], float)
        v = v[np.isfinite(v)]
        if not v.size:
            return (np.nan, np.nan)
        g = np.exp(np.mean(np.log(v)))  # geometric mean, error bar: one geometric std
        s = np.exp(np.std(np.log(v)))
        return (g, np.array([[g - g / s], [g * s - g]])[:, 0])

    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for m in models:
            groups = _by(_main_rows(rows, task), "model", "T")
            Ts = [T for T in lengths if (m, T) in groups]
            if not Ts:
                continue
            stats = [mean_std_log([r["loss_over_baseline"] for r in groups[(m, T)]]) for T in Ts]
            mid = np.array([s[0] for s in stats], float)
            err = np.stack([np.zeros(2) + np.nan if np.isscalar(s[1]) else s[1] for s in stats], 1)
            ax.errorbar(Ts, mid, yerr=err, marker="o", ms=4, capsize=3, color=COLORS[m],
                        label=LABELS[m])
        ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(lengths, [str(t) for t in lengths])
        ax.minorticks_off()
        ax.set_xlabel("sequence length T (steps)")
        ax.set_ylabel("final test loss / baseline")
        ax.set_title(_task_title(task), fontsize=9)
        ax.grid(alpha=0.3, which="both")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("final loss relative to the baseline: geometric mean over seeds, "
                 "error bars one geometric s.d.", fontsize=9)
    save_figure(fig, workdir / "loss_vs_T.png")
    figures.append(("loss_vs_T.png", "final test loss / baseline vs T (seed error bars)"))

    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        per_T(ax, task, lambda r: float(r["success"]),
              lambda v: (np.mean(v), np.nan), "fraction of seeds that succeed", log=False)
        ax.set_ylim(-0.05, 1.05)
    axes[0, -1].legend(fontsize=7)
    ratio = _success_text(rows)
    fig.suptitle(f"success: {ratio}", fontsize=9)
    save_figure(fig, workdir / "success_vs_T.png")
    figures.append(("success_vs_T.png", "fraction of seeds reaching success vs T"))

    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        def median_iqr(v):
            v = np.array([x for x in v if x is not None], float)
            if not v.size:
                return (np.nan, np.nan)
            q1, q2, q3 = np.percentile(v, [25, 50, 75])
            return (q2, np.array([q2 - q1, q3 - q2]))

        for m in models:
            groups = _by(_main_rows(rows, task), "model", "T")
            pts = [(T, median_iqr([r["steps_to_success"] for r in groups[(m, T)]]))
                   for T in lengths if (m, T) in groups]
            pts = [(T, s) for T, s in pts if np.isfinite(s[0])]
            if not pts:
                continue
            ax.errorbar([p[0] for p in pts], [p[1][0] for p in pts],
                        yerr=np.stack([p[1][1] for p in pts], 1), marker="o", ms=4, capsize=3,
                        color=COLORS[m], label=LABELS[m])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(lengths, [str(t) for t in lengths])
        ax.minorticks_off()
        ax.set_xlim(min(lengths) / 1.3, max(lengths) * 1.3)
        ax.axhline(rows[0]["steps"], color="gray", ls=":", lw=1, label="training budget")
        ax.set_xlabel("sequence length T (steps)")
        ax.set_ylabel("updates to success (median, IQR; successful seeds)")
        ax.set_title(_task_title(task), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    save_figure(fig, workdir / "learning_time_vs_T.png")
    figures.append(("learning_time_vs_T.png", "learning time (updates to success) vs T"))

    # 5. ablations: forget bias / chrono, clipping off, truncated BPTT
    abl = sorted({(r["model"], r["ablation"]) for r in rows if r["ablation"] is not None})
    lstm_inits = [m for m in ("lstm_fb0", "lstm_fb1", "lstm_chrono") if m in models]
    if abl or len(lstm_inits) > 1:
        fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.8), squeeze=False)
        for ax, task in zip(axes[0], tasks, strict=True):
            variants = [(m, None) for m in lstm_inits] + [
                (m, None) for m, _ in abl if m not in lstm_inits] + abl
            seen = []
            for m, a in variants:
                if (m, a) in seen:
                    continue
                seen.append((m, a))
                rs = [r for r in rows if r["task"] == task and r["model"] == m
                      and r["ablation"] == a]
                if not rs:
                    continue
                g = _by(rs, "T")
                Ts = sorted(k[0] for k in g)
                stats = [mean_std_log([r["loss_over_baseline"] for r in g[(T,)]]) for T in Ts]
                mid = np.array([s[0] for s in stats], float)
                style = {None: "-", "no_clip": "--"}.get(a, ":")
                label = LABELS[m] + ("" if a is None else
                                     {"no_clip": ", no clipping"}.get(a, f", truncated BPTT "
                                                                         f"k = {a[7:]}"))
                ax.plot(Ts, mid, style, marker="o", ms=4, color=COLORS[m], label=label)
            ax.axhline(1.0, color="k", ls="--", lw=1, label="baseline")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(lengths, [str(t) for t in lengths])
            ax.minorticks_off()
            ax.set_xlabel("sequence length T (steps)")
            ax.set_ylabel("final test loss / baseline (geo. mean)")
            ax.set_title(_task_title(task), fontsize=9)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=6.5)
        fig.suptitle("ablations: forget-gate init, gradient clipping, truncated BPTT", fontsize=9)
        save_figure(fig, workdir / "ablations.png")
        figures.append(("ablations.png", "forget bias 0/1/chrono, clipping off, truncated BPTT"))

    write_index(workdir, title="LSTM versus Elman on long-range dependencies",
                headline=_headline(rows, summary.get("complete", False)), figures=figures,
                tables=["summary.json", "curves.json", "timing.json"])


def _success_text(rows) -> str:
    ratio = rows[0].get("success_ratio")
    return ("test loss <= 0.1 x baseline (adding 1997 form: every test sequence within 0.04)"
            if ratio is None else f"test loss <= {ratio} x baseline")


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
