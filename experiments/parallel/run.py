"""The gain sweep: λ_max and the Newton iterations of every method, per network and length; the
trained networks (:mod:`experiments.parallel.trained`); ``summary.json`` from both."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax

import rnnjax
from experiments.common import cached_part, say, write_json
from experiments.parallel.config import Config
from experiments.parallel.solvers import WARMUP, methods, solve_row
from experiments.parallel.trained import trained_networks
from rnnjax.analysis import lyapunov_spectrum
from rnnjax.parallel import newton_unroll

INPUT_SIZE = 2
def network(key, hidden_size: int, gain: float):
    """A tanh Elman cell with ``W_h = g · N(0, 1/H)``, input weights and bias as initialised."""
    cell = rnnjax.cells.elman(hidden_size)
    k_init, k_w = jax.random.split(key)
    params = cell.init(k_init, INPUT_SIZE)
    w_h = gain * jax.random.normal(k_w, (hidden_size, hidden_size)) / math.sqrt(hidden_size)
    return cell, params._replace(w_h=w_h)


def gain_sweep(config: Config) -> dict:
    gc = config.gain
    cell = rnnjax.cells.elman(gc.hidden_size)
    lyap = jax.jit(lambda p, xs: lyapunov_spectrum(cell, p, xs, k=1, warmup=WARMUP)[0])
    solvers = {name: jax.jit(lambda p, xs, kw=kw: newton_unroll(cell, p, xs, tol=gc.tol, **kw)[2])
               for name, kw in methods(gc.damping).items()}
    rows = []
    for gi, g in enumerate(gc.gains):
        for n in range(gc.networks):
            key = jax.random.fold_in(jax.random.fold_in(jax.random.key(config.seed), gi), n)
            k_net, k_lyap, k_xs = jax.random.split(key, 3)
            _, params = network(k_net, gc.hidden_size, g)
            drive = gc.input_scale * jax.random.normal(k_lyap, (WARMUP + gc.lyapunov_steps, INPUT_SIZE))
            lam = float(lyap(params, drive))
            for T in gc.lengths:
                xs = gc.input_scale * jax.random.normal(jax.random.fold_in(k_xs, T), (T, INPUT_SIZE))
                for name, solve in solvers.items():
                    rows.append({"gain": g, "network": n, "T": T, "lambda_max": lam,
                                 **solve_row(name, solve(params, xs))})
            say(f"gain {g}, network {n}: lambda_max {lam:+.3f}, DEER iterations "
                + ", ".join(f"T={r['T']}: {r['iterations']}" for r in rows[-4 * len(gc.lengths)::4]))
    return {"rows": rows}


def run(config: Config, workdir: Path) -> None:
    """The sweep and the trained networks (each cached on its settings), then ``summary.json``:
    ``rows`` of the random tanh networks (``cell: "tanh"``) and of the trained ones."""
    part = cached_part(workdir / "parts", "gain_sweep",
                       {"seed": config.seed, "gain": dataclasses.asdict(config.gain)},
                       lambda: gain_sweep(config))
    trained = trained_networks(config, workdir)
    write_json(workdir / "summary.json", {
        "hidden_size": config.gain.hidden_size, "damping": config.gain.damping,
        "tol": config.gain.tol, "rows": [{"cell": "tanh", **r} for r in part["rows"]],
        "trained": {k: v for k, v in trained.items() if k != "rows"},
        "trained_rows": trained["rows"]})
