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
from experiments.parallel.config import Config
from rnnjax.analysis import lyapunov_spectrum
from rnnjax.parallel import newton_unroll

INPUT_SIZE = 2
WARMUP = 200
OUTCOMES = ("converged", "not_converged", "diverged")


def methods(damping: float) -> dict[str, dict]:
    """The solvers: ``newton_unroll`` keyword arguments by name."""
    return {"deer": {"jacobian": "full"}, "quasi_deer": {"jacobian": "diagonal"},
            "elk": {"jacobian": "full", "damping": damping},
            "quasi_elk": {"jacobian": "diagonal", "damping": damping},
            "elk_adaptive": {"jacobian": "full", "damping": damping, "damping_rule": "adaptive"}}


def outcome(info) -> str:
    """``"converged"``, ``"diverged"`` (a non-finite iterate) or ``"not_converged"`` (finite
    residual above tol when the iterations ran out)."""
    if bool(info.converged):
        return "converged"
    return "not_converged" if np.isfinite(float(info.residual)) else "diverged"


def solve_row(method: str, info) -> dict:
    """One solve's record: method, iterations, converged, outcome, residual (None when not finite)."""
    return {"method": method, "iterations": int(info.iterations),
            "converged": bool(info.converged), "outcome": outcome(info),
            "residual": float(info.residual) if np.isfinite(info.residual) else None}


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


def solvers(cell, method_names, damping: float) -> dict:
    """Jitted ``(params, xs, max_iters) -> info`` per method, plus ``"first_step"``: one plain
    Newton iteration without the overflow safeguard (non-finite: overflow at iteration 1)."""
    kws = methods(damping)
    out = {name: jax.jit(lambda p, xs, m, kw=kws[name]: newton_unroll(cell, p, xs, max_iters=m,
                                                                      **kw)[2],
                         static_argnums=2) for name in method_names}
    out["first_step"] = jax.jit(lambda p, xs: newton_unroll(cell, p, xs, max_iters=1,
                                                            safeguard=False)[2])
    return out


@functools.lru_cache(maxsize=16)
def tanh_solvers(hidden_size: int, dtype: str, method_names: tuple, damping: float) -> dict:
    """:func:`solvers` of the tanh Elman cell, compiled once per shape and dtype."""
    return solvers(rnnjax.cells.elman(hidden_size, dtype=jnp.dtype(dtype)), method_names, damping)


def measure_network(config: Config, gi: int, n: int) -> dict:
    """One random network: λ_max, and every (T, dtype, method) solve."""
    gc = config.gain
    g = gc.gains[gi]
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), gi), n)
    k_net, k_lyap, k_xs = jax.random.split(key, 3)
    cell, params = network(k_net, gc.hidden_size, g)
    drive = gc.input_scale * jax.random.normal(k_lyap, (WARMUP + gc.lyapunov_steps, INPUT_SIZE))
    lam = float(lyapunov_spectrum(cell, params, drive, k=1, warmup=WARMUP)[0])
    rows = []
    for dtype in gc.dtypes:
        with jax.enable_x64(dtype == "float64"):
            _, params_d = network(k_net, gc.hidden_size, g, jnp.dtype(dtype))
            solve = tanh_solvers(gc.hidden_size, dtype, tuple(gc.methods), gc.damping)
            for T in gc.lengths:
                xs = gc.input_scale * jax.random.normal(jax.random.fold_in(k_xs, T),
                                                        (T, INPUT_SIZE))
                xs = xs.astype(dtype)
                overflow = not np.isfinite(float(solve["first_step"](params_d, xs).residual))
                for name in gc.methods:
                    info = solve[name](params_d, xs, min(T, gc.max_iters))
                    rows.append({"cell": "tanh", "gain": g, "network": n, "T": T, "dtype": dtype,
                                 "lambda_max": lam, "overflow_1": overflow,
                                 "max_iters": min(T, gc.max_iters), **solve_row(name, info)})
    deer = [r for r in rows if r["method"] == "deer"]
    say(f"gain {g}, network {n}: lambda_max {lam:+.3f}, DEER iterations "
        + ", ".join(f"{r['dtype'][-2:]} T={r['T']}: {r['iterations']}"
                    f"{'' if r['converged'] else '*'}" for r in deer))
    return {"gain": g, "network": n, "lambda_max": lam, "rows": rows}


def part_settings(config: Config, gi: int, n: int) -> dict:
    gc = dataclasses.asdict(config.gain)
    gc.pop("gains"), gc.pop("networks")
    return {"seed": config.seed, "gain": config.gain.gains[gi], "gain_index": gi, "network": n,
            "sweep": gc}


def part_name(gi: int, n: int) -> str:
    return f"tanh_g{gi}_n{n}"


def gain_sweep(config: Config, workdir: Path) -> None:
    """Every (gain, network) as its own cached part, networks in order of index so that an
    interrupted full run has finished whole networks across all gains first."""
    gc = config.gain
    for n in range(gc.networks):
        for gi in range(len(gc.gains)):
            cached_part(workdir / "parts", part_name(gi, n), part_settings(config, gi, n),
                        lambda gi=gi, n=n: measure_network(config, gi, n))


def finished_networks(config: Config, workdir: Path) -> tuple[list[dict], list[str]]:
    """The finished parts' records and the names of the parts not (yet) computed."""
    done, missing = [], []
    for n in range(config.gain.networks):
        for gi in range(len(config.gain.gains)):
            path = workdir / "parts" / f"{part_name(gi, n)}.json"
            saved = read_json(path) if path.exists() else None
            if saved and saved.get("settings") == part_settings(config, gi, n):
                done.append(saved)
            else:
                missing.append(part_name(gi, n))
    return done, missing


def summarise(config: Config, workdir: Path, trained: dict | None) -> None:
    """``summary.json`` from every finished part (``missing_parts`` lists the others)."""
    done, missing = finished_networks(config, workdir)
    gc = config.gain
    write_json(workdir / "summary.json", {
        "hidden_size": gc.hidden_size, "damping": gc.damping, "max_iters": gc.max_iters,
        "T": list(gc.lengths), "dtypes": list(gc.dtypes), "methods": list(gc.methods),
        "gains": list(gc.gains), "networks_per_gain": gc.networks,
        "networks": [{"gain": d["gain"], "network": d["network"], "lambda_max": d["lambda_max"]}
                     for d in done],
        "missing_parts": missing,
        "rows": [r for d in done for r in d["rows"]],
        "trained": {k: v for k, v in (trained or {}).items() if k != "rows"},
        "trained_rows": (trained or {}).get("rows", [])})


def run(config: Config, workdir: Path) -> None:
    """The sweep and the trained networks (each cached on its settings), then ``summary.json``."""
    from experiments.parallel.trained import trained_networks

    gain_sweep(config, workdir)
    summarise(config, workdir, trained_networks(config, workdir))
