"""The gain sweep: λ_max and the Newton iterations of every method and dtype, per network and
length, one cached part per network; the trained networks (:mod:`experiments.parallel.trained`);
``summary.json`` from every finished part."""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
from experiments.common import cached_part, read_json, say, write_json
from experiments.common.files import jsonable
from experiments.parallel.config import Config
from experiments.parallel.solvers import WARMUP, solve_row, solvers
from experiments.parallel.trained import trained_networks
from rnnjax.analysis import lyapunov_spectrum

INPUT_SIZE = 2
def network(key, hidden_size: int, gain: float, dtype=None):
    """A tanh Elman cell with ``W_h = g · N(0, 1/H)``, input weights and bias as initialised
    (drawn in float32, then cast to ``dtype``: the same network in every dtype)."""
    cell = rnnjax.cells.elman(hidden_size, dtype=dtype)
    k_init, k_w = jax.random.split(key)
    params = rnnjax.cells.elman(hidden_size).init(k_init, INPUT_SIZE)
    w_h = gain * jax.random.normal(k_w, (hidden_size, hidden_size)) / math.sqrt(hidden_size)
    params = params._replace(w_h=w_h)
    if dtype is not None:
        params = jax.tree.map(lambda v: v.astype(dtype), params)
    return cell, params


@functools.lru_cache(maxsize=16)
def tanh_solvers(hidden_size: int, dtype: str, method_names: tuple, damping: float) -> dict:
    """:func:`solvers` of the tanh Elman cell, compiled once per shape and dtype."""
    return solvers(rnnjax.cells.elman(hidden_size, dtype=jnp.dtype(dtype)), method_names, damping)


def keys(config: Config, gi: int, n: int):
    """``(k_net, k_lyap, k_xs)`` of network ``n`` at gain index ``gi``."""
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), gi), n)
    return jax.random.split(key, 3)


def lyapunov(config: Config, gi: int, n: int) -> dict:
    """λ_max of one random network, driven by white noise (float32)."""
    gc = config.gain
    k_net, k_lyap, _ = keys(config, gi, n)
    cell, params = network(k_net, gc.hidden_size, gc.gains[gi])
    drive = gc.input_scale * jax.random.normal(k_lyap, (WARMUP + gc.lyapunov_steps, INPUT_SIZE))
    return {"lambda_max": float(lyapunov_spectrum(cell, params, drive, k=1, warmup=WARMUP)[0])}


def methods_at(gain_config, T: int) -> tuple[str, ...]:
    """The methods run at length ``T``: the ELK ones only up to ``elk_max_length``."""
    return tuple(m for m in gain_config.methods if "elk" not in m or T <= gain_config.elk_max_length)


def measure(config: Config, gi: int, n: int, T: int, lam: float) -> dict:
    """Every (dtype, method) solve of one random network at length ``T``."""
    gc = config.gain
    g = gc.gains[gi]
    k_net, _, k_xs = keys(config, gi, n)
    xs32 = gc.input_scale * jax.random.normal(jax.random.fold_in(k_xs, T), (T, INPUT_SIZE))
    rows = []
    for dtype in gc.dtypes:
        with jax.enable_x64(dtype == "float64"):
            _, params = network(k_net, gc.hidden_size, g, jnp.dtype(dtype))
            xs = xs32.astype(dtype)
            solve = tanh_solvers(gc.hidden_size, dtype, tuple(gc.methods), gc.damping)
            overflow = not np.isfinite(float(solve["first_step"](params, xs).residual))
            for name in methods_at(gc, T):
                info = solve[name](params, xs, min(T, gc.max_iters))
                rows.append({"cell": "tanh", "gain": g, "network": n, "T": T, "dtype": dtype,
                             "lambda_max": lam, "overflow_1": overflow,
                             "max_iters": min(T, gc.max_iters), **solve_row(name, info)})
    say(f"gain {g}, network {n}, T = {T}: lambda_max {lam:+.3f}, DEER iterations "
        + ", ".join(f"{r['dtype']} {r['iterations']}{'' if r['converged'] else ' (not converged)'}"
                    for r in rows if r["method"] == "deer"))
    return {"rows": rows}


def part_settings(config: Config, gi: int, n: int, T: int | None = None) -> dict:
    """A part's settings: what its result depends on (not the other gains, networks or T)."""
    gc = dataclasses.asdict(config.gain)
    for k in ("gains", "networks", "lengths", "elk_max_length"):
        gc.pop(k)
    if T is not None:
        gc["methods"] = methods_at(config.gain, T)
    else:
        gc = {k: gc[k] for k in ("hidden_size", "input_scale", "lyapunov_steps")}
    return {"seed": config.seed, "gain": config.gain.gains[gi], "gain_index": gi, "network": n,
            "T": T, "sweep": gc}


def part_name(gi: int, n: int, T: int | None = None) -> str:
    return f"lyapunov_g{gi}_n{n}" if T is None else f"tanh_g{gi}_n{n}_T{T}"


def gain_sweep(config: Config, workdir: Path) -> None:
    """λ_max of every network, then every (gain, network, T) as its own cached part, shortest T
    first, so that an interrupted full run has finished whole lengths across all networks. A
    part's committed file is final when its settings match (the full preset finishes over
    several sittings and machines)."""
    gc = config.gain
    nets = [(gi, n) for n in range(gc.networks) for gi in range(len(gc.gains))]
    lams = {(gi, n): cached_part(workdir / "parts", part_name(gi, n), part_settings(config, gi, n),
                                 lambda gi=gi, n=n: lyapunov(config, gi, n),
                                 trust_committed=True)["lambda_max"]
            for gi, n in nets}
    for T in sorted(gc.lengths):
        for gi, n in nets:
            cached_part(workdir / "parts", part_name(gi, n, T), part_settings(config, gi, n, T),
                        lambda gi=gi, n=n, T=T: measure(config, gi, n, T, lams[gi, n]),
                        trust_committed=True)


def finished(config: Config, workdir: Path) -> tuple[list[dict], list[dict], list[str]]:
    """The networks with λ_max, the rows of the finished parts, the names of the missing ones."""
    def load(name, settings):
        path = workdir / "parts" / f"{name}.json"
        saved = read_json(path) if path.exists() else None
        return saved if saved and saved.get("settings") == jsonable(settings) else None

    gc = config.gain
    networks, rows, missing = [], [], []
    for gi in range(len(gc.gains)):
        for n in range(gc.networks):
            lyap = load(part_name(gi, n), part_settings(config, gi, n))
            if lyap is None:
                missing.append(part_name(gi, n))
                continue
            networks.append({"gain": gc.gains[gi], "network": n,
                             "lambda_max": lyap["lambda_max"]})
            for T in gc.lengths:
                part = load(part_name(gi, n, T), part_settings(config, gi, n, T))
                if part is None:
                    missing.append(part_name(gi, n, T))
                else:
                    rows += part["rows"]
    return networks, rows, missing


def summarise(config: Config, workdir: Path, trained: dict | None) -> None:
    """``summary.json`` from every finished part (``missing_parts`` lists the others)."""
    networks, rows, missing = finished(config, workdir)
    gc = config.gain
    write_json(workdir / "summary.json", {
        "hidden_size": gc.hidden_size, "damping": gc.damping, "max_iters": gc.max_iters,
        "T": list(gc.lengths), "dtypes": list(gc.dtypes), "methods": list(gc.methods),
        "elk_lengths": [T for T in gc.lengths if T <= gc.elk_max_length],
        "gains": list(gc.gains), "networks_per_gain": gc.networks,
        "networks": networks, "missing_parts": missing, "rows": rows,
        "trained": {k: v for k, v in (trained or {}).items() if k != "rows"},
        "trained_rows": (trained or {}).get("rows", [])})


def run(config: Config, workdir: Path) -> None:
    """The sweep and the trained networks (each cached on its settings), then ``summary.json``."""
    gain_sweep(config, workdir)
    summarise(config, workdir, trained_networks(config, workdir))
