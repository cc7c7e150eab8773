"""Trained networks: LSTM and GRU fitted to the adding problem, then λ_max and Newton iterations.

Each network is one cached part (``trained_<cell>_<seed>``), so an interrupted run resumes at the
first network not yet measured.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

import rnnjax
import rnnjax.train as tr
from experiments.common import cached_part, num_steps, read_json, say
from experiments.common.files import jsonable
from experiments.parallel.config import Config
from experiments.parallel.solvers import WARMUP, solve_row, solvers
from rnnjax.analysis import lyapunov_spectrum
from rnnjax.models import sequence_model
from rnnjax.tasks import adding


class Compiled(NamedTuple):
    """One cell's model and jitted functions, shared by its seeds (compiled once per shape)."""

    cell: Any
    model: Any
    opt: Any
    step: Any
    loss: Any
    solvers: dict


@functools.lru_cache(maxsize=8)
def compiled(cell_name: str, hidden_size: int, learning_rate: float, method_names: tuple,
             damping: float) -> Compiled:
    """The cell read out at the last step (``ŷ = h_T w + b``), its Adam step, and the solvers."""
    cell = getattr(rnnjax.cells, cell_name)(hidden_size)
    model = sequence_model(cell, input_size=adding.INPUT_SIZE, output_size=1, pool="last")
    opt = tr.optimizer("adam", learning_rate, clip_norm=1.0)

    def loss_fn(params, batch, key):
        return tr.mse(model.apply(params, batch.inputs)[1][..., 0], batch.targets)

    return Compiled(cell, model, opt, tr.make_step(loss_fn, opt), jax.jit(loss_fn),
                    solvers(cell, method_names, damping))


def train(config: Config, fns: Compiled, key) -> tuple:
    """Adam on fresh adding-problem batches: ``(trained cell params, test MSE)``."""
    tc = config.trained
    k_init, k_data, k_test = jax.random.split(key, 3)
    state = tr.init_state(fns.model.init(k_init), fns.opt, key=k_data)

    def batch_at(step):
        return adding.batch(key=jax.random.fold_in(k_data, step), batch_size=tc.batch_size,
                            length=tc.train_length)

    state, _ = tr.fit(fns.step, state, batch_at, num_steps=num_steps(config, tc.steps),
                      progress=False)
    test = adding.batch(key=k_test, batch_size=tc.n_test, length=tc.train_length)
    return state.params.cell, float(fns.loss(state.params, test, None))


def adding_drive(key, steps: int, length: int) -> jax.Array:
    """``steps`` inputs: adding-problem sequences of ``length`` one after another."""
    n = math.ceil(steps / length)
    return adding.batch(key=key, batch_size=n, length=length).inputs.reshape(-1, 2)[:steps]


def measure(config: Config, cell_name: str, seed: int) -> dict:
    """Train one network; its λ_max and every method's iterations at every length."""
    gc, tc = config.gain, config.trained
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed + 1),
                                                tc.cells.index(cell_name)), seed)
    k_train, k_lyap, k_xs = jax.random.split(key, 3)
    fns = compiled(cell_name, tc.hidden_size, tc.learning_rate, gc.methods, gc.damping)
    params, test_mse = train(config, fns, k_train)
    drive = adding_drive(k_lyap, WARMUP + gc.lyapunov_steps, tc.train_length)
    lam = float(lyapunov_spectrum(fns.cell, params, drive, k=1, warmup=WARMUP)[0])
    rows = []
    for T in tc.lengths:
        xs, _ = adding.example(key=jax.random.fold_in(k_xs, T), length=T)
        overflow = not np.isfinite(float(fns.solvers["first_step"](params, xs).residual))
        for name in gc.methods:
            info = fns.solvers[name](params, xs, min(T, gc.max_iters))
            rows.append({"cell": cell_name, "seed": seed, "T": T, "dtype": "float32",
                         "lambda_max": lam, "overflow_1": overflow,
                         "max_iters": min(T, gc.max_iters), **solve_row(name, info)})
    say(f"{cell_name} seed {seed}: test MSE {test_mse:.4f} (baseline {adding.baseline():.4f}), "
        f"lambda_max {lam:+.4f}, DEER iterations "
        + ", ".join(f"T={r['T']}: {r['iterations']}" for r in rows if r["method"] == "deer"))
    return {"test_mse": test_mse, "lambda_max": lam, "rows": rows}


def trained_networks(config: Config, workdir: Path, *, compute: bool = True) -> dict:
    """Every (cell, seed) as its own cached part; all rows and one record per network. With
    ``compute=False`` only the parts already saved with these settings (the others are skipped)."""
    tc = config.trained
    settings = {"seed": config.seed, "steps": num_steps(config, tc.steps),
                "trained": dataclasses.asdict(tc),
                "gain": {k: getattr(config.gain, k)
                         for k in ("damping", "methods", "max_iters", "lyapunov_steps")}}
    rows, networks = [], []
    for cell_name in tc.cells:
        for seed in range(tc.seeds):
            name, part_settings = f"trained_{cell_name}_{seed}", {
                **settings, "cell": cell_name, "network": seed}
            if compute:
                part = cached_part(workdir / "parts", name, part_settings,
                                   lambda c=cell_name, s=seed: measure(config, c, s),
                                   trust_committed=True)
            else:
                path = workdir / "parts" / f"{name}.json"
                part = read_json(path) if path.exists() else {}
                if jsonable(part.get("settings")) != jsonable(part_settings):
                    continue
            rows += part["rows"]
            networks.append({"cell": cell_name, "seed": seed, "test_mse": part["test_mse"],
                             "lambda_max": part["lambda_max"]})
    return {"rows": rows, "networks": networks, "baseline": adding.baseline(),
            "hidden_size": tc.hidden_size, "train_length": tc.train_length,
            "steps": num_steps(config, tc.steps)}


def finished_trained(config: Config, workdir: Path) -> dict:
    """:func:`trained_networks` of the parts already saved, computing none."""
    return trained_networks(config, workdir, compute=False)
