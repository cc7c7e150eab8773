"""Sequential scan against parallel-in-time evaluation: wall time on this machine and parallel depth.

    python -m benchmarks.bench_parallel            # full: T = 1024 and 8192
    python -m benchmarks.bench_parallel --quick    # a smoke run at small sizes

Two comparisons, each timed interleaved in one process (medians of the repeats), forward pass only
(``jit``-compiled, compile excluded) and forward + backward of ``mean(ys²)``:

- a minGRU, ``rnnjax.unroll(method="scan")`` against ``method="associative"``;
- a contracting tanh Elman network and a GRU, ``rnnjax.unroll`` against
  ``rnnjax.parallel.newton_unroll`` with ``jacobian="full"`` (DEER) and ``"diagonal"``
  (quasi-DEER); the Newton iterations each took are recorded.

Parallel depth counts the sequential combine levels an ideal parallel machine would need: ``T``
for the scan; ``2⌈log₂ T⌉`` for one associative scan (Blelloch up- and down-sweep); for Newton,
iterations × (one Jacobian evaluation + one scan) ≈ iterations × (1 + 2⌈log₂ T⌉). Work is what a
CPU with a couple of cores pays for: the associative scan does ~2× the scan's elementwise work, and
DEER's matrix scan ``O(T D³)`` per iteration against the scan's ``O(T D²)``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import rnnjax
from rnnjax.parallel import newton_unroll


def time_interleaved(fns: dict, args: tuple, repeats: int) -> dict[str, float]:
    for f in fns.values():  # compile and warm up
        jax.block_until_ready(f(*args))
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(*args))
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def loss_of(run):
    return jax.jit(jax.grad(lambda p, xs: jnp.mean(run(p, xs)[1] ** 2)))


def linear(B: int, T: int, H: int, repeats: int) -> dict:
    cell = rnnjax.cells.mingru(H)
    params = cell.init(jax.random.key(0), H)
    xs = jax.random.normal(jax.random.key(1), (B, T, H))
    runs = {m: (lambda p, xs, m=m: rnnjax.unroll(cell, p, xs, method=m)) for m in ("scan", "associative")}
    fwd = time_interleaved({m: jax.jit(r) for m, r in runs.items()}, (params, xs), repeats)
    bwd = time_interleaved({m: loss_of(r) for m, r in runs.items()}, (params, xs), repeats)
    depth = 2 * math.ceil(math.log2(T))
    row = {"cell": f"mingru({H})", "B": B, "T": T,
           "scan_ms": 1e3 * fwd["scan"], "associative_ms": 1e3 * fwd["associative"],
           "scan_grad_ms": 1e3 * bwd["scan"], "associative_grad_ms": 1e3 * bwd["associative"],
           "associative_vs_scan": fwd["scan"] / fwd["associative"],
           "associative_vs_scan_grad": bwd["scan"] / bwd["associative"],
           "depth_scan": T, "depth_associative": depth}
    print(f"mingru({H}) B={B} T={T}: scan {row['scan_ms']:.1f} ms, associative {row['associative_ms']:.1f} ms "
          f"({row['associative_vs_scan']:.2f}x; grad {row['associative_vs_scan_grad']:.2f}x); "
          f"depth {T} vs {depth}", flush=True)
    return row


def nonlinear(name: str, B: int, T: int, H: int, repeats: int) -> dict:
    cell = rnnjax.cells.elman(H) if name == "elman" else rnnjax.cells.gru(H)
    params = cell.init(jax.random.key(0), 4)
    if name == "elman":  # a contracting network: spectral radius 0.5
        params = params._replace(w_h=0.5 * params.w_h)
    xs = jax.random.normal(jax.random.key(1), (B, T, 4))
    runs = {"scan": lambda p, xs: rnnjax.unroll(cell, p, xs),
            "newton_full": lambda p, xs: newton_unroll(cell, p, xs, jacobian="full", tol=1e-5),
            "newton_diagonal": lambda p, xs: newton_unroll(cell, p, xs, jacobian="diagonal", tol=1e-5)}
    jitted = {k: jax.jit(r) for k, r in runs.items()}
    fwd = time_interleaved(jitted, (params, xs), repeats)
    bwd = time_interleaved({k: loss_of(r) for k, r in runs.items()}, (params, xs), max(1, repeats // 2))
    level = 2 * math.ceil(math.log2(T))
    row = {"cell": f"{name}({H})", "B": B, "T": T, "depth_scan": T}
    for k in runs:
        row[f"{k}_ms"], row[f"{k}_grad_ms"] = 1e3 * fwd[k], 1e3 * bwd[k]
        if k != "scan":
            info = jitted[k](params, xs)[2]
            iters = int(jnp.max(info.iterations))
            row[f"{k}_iterations"] = iters
            row[f"{k}_converged"] = bool(jnp.all(info.converged))
            row[f"{k}_vs_scan"] = fwd["scan"] / fwd[k]
            row[f"{k}_vs_scan_grad"] = bwd["scan"] / bwd[k]
            row[f"depth_{k}"] = iters * (1 + level)
    print(f"{name}({H}) B={B} T={T}: scan {row['scan_ms']:.1f} ms; DEER {row['newton_full_ms']:.1f} ms "
          f"({row['newton_full_vs_scan']:.3f}x, {row['newton_full_iterations']} it); quasi-DEER "
          f"{row['newton_diagonal_ms']:.1f} ms ({row['newton_diagonal_vs_scan']:.3f}x, "
          f"{row['newton_diagonal_iterations']} it); depth {T} / {row['depth_newton_full']} / "
          f"{row['depth_newton_diagonal']}", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/parallel.json")
    args = parser.parse_args(argv)
    lengths = (128,) if args.quick else (1024, 8192)
    repeats = 2 if args.quick else args.repeats
    print(f"{jax.devices()[0].device_kind}, {os.cpu_count()} cores", flush=True)
    result = {"device": jax.devices()[0].device_kind, "cpu_count": os.cpu_count(),
              "jax": jax.__version__, "quick": args.quick,
              "linear": [linear(16, T, 64, repeats) for T in lengths],
              "newton": [nonlinear(name, 4, T, 16, repeats) for T in lengths[:1]
                         for name in ("elman", "gru")]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
