"""Forward+backward speed of rnnjax cells against ``flax.linen.RNN``, and memory with ``remat``.

    python -m benchmarks.bench_cells            # full: both shapes, 3 cells, memory table
    python -m benchmarks.bench_cells --quick    # a smoke run at small sizes

Speed: the same loss ``mean(ys²)`` and its gradient w.r.t. all parameters, jitted, for rnnjax's
LSTM / GRU / Elman and Flax linen's ``OptimizedLSTMCell`` / ``GRUCell`` / ``SimpleCell`` wrapped
in ``nn.RNN``. The two are timed interleaved in one process (the machine is shared and noisy), and
each reports the median of its repeats; the table gives the ratio ``t_flax / t_rnnjax`` and the
fraction of this machine's float32 matmul peak that each reaches, measured in the same run.

FLOPs counted: one step of a cell with ``G`` gate blocks is ``2·B·(I + H)·G·H`` multiply-adds ×2,
and the backward pass costs twice the forward, so ``3 · 2 · B · T · (I + H) · G · H`` per call.

Memory: XLA's own accounting (``compiled.memory_analysis()``: temporaries + arguments + outputs)
of one training gradient at ``T = 10 000``, without remat, with per-step remat and with
``√T``-block remat — a number that does not depend on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp

import rnnjax

CELLS = {
    "lstm": (lambda H: rnnjax.cells.lstm(H), lambda H: nn.OptimizedLSTMCell(H), 4),
    "gru": (lambda H: rnnjax.cells.gru(H), lambda H: nn.GRUCell(H), 3),
    "elman": (lambda H: rnnjax.cells.elman(H), lambda H: nn.SimpleCell(H), 1),
}


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matmul FLOP/s of this machine (median of ``repeats``)."""
    a = jax.random.normal(jax.random.key(0), (n, n))
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a).block_until_ready()
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times)


def rnnjax_grad(name: str, H: int, xs, unroll: int, hoist: bool | None = None):
    cell = CELLS[name][0](H)
    params = cell.init(jax.random.key(0), xs.shape[-1])
    loss = lambda p, xs: jnp.mean(rnnjax.unroll(cell, p, xs, unroll=unroll, hoist=hoist)[1] ** 2)
    return jax.jit(jax.value_and_grad(loss)), params


def flax_grad(name: str, H: int, xs):
    model = nn.RNN(CELLS[name][1](H))
    params = model.init(jax.random.key(0), xs)
    loss = lambda p, xs: jnp.mean(model.apply(p, xs) ** 2)
    return jax.jit(jax.value_and_grad(loss)), params


def time_interleaved(fns: dict, args: dict, repeats: int) -> dict[str, float]:
    for k, f in fns.items():  # compile and warm up
        jax.block_until_ready(f(*args[k]))
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(*args[k]))
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def speed(shapes, repeats: int, peak: float, unroll: int) -> list[dict]:
    rows = []
    for B, T, I, H in shapes:
        xs = jax.random.normal(jax.random.key(1), (B, T, I))
        for name, (_, _, G) in CELLS.items():
            ours, p_ours = rnnjax_grad(name, H, xs, unroll)
            hoisted, _ = rnnjax_grad(name, H, xs, unroll, hoist=True)
            ref, p_ref = flax_grad(name, H, xs)
            t = time_interleaved({"rnnjax": ours, "rnnjax_hoisted": hoisted, "flax": ref},
                                 {"rnnjax": (p_ours, xs), "rnnjax_hoisted": (p_ours, xs),
                                  "flax": (p_ref, xs)}, repeats)
            flops = 3 * 2 * B * T * (I + H) * G * H
            rows.append({"cell": name, "B": B, "T": T, "I": I, "H": H,
                         "rnnjax_ms": 1e3 * t["rnnjax"], "flax_ms": 1e3 * t["flax"],
                         "rnnjax_hoisted_ms": 1e3 * t["rnnjax_hoisted"],
                         "speedup": t["flax"] / t["rnnjax"],
                         "speedup_hoisted": t["flax"] / t["rnnjax_hoisted"],
                         "rnnjax_peak_frac": flops / t["rnnjax"] / peak,
                         "flax_peak_frac": flops / t["flax"] / peak})
            r = rows[-1]
            print(f"{name:6s} B={B} T={T} I={I} H={H}: rnnjax {r['rnnjax_ms']:8.1f} ms  "
                  f"(hoisted {r['rnnjax_hoisted_ms']:8.1f})  flax {r['flax_ms']:8.1f} ms  "
                  f"speed-up {r['speedup']:.2f}x (hoisted {r['speedup_hoisted']:.2f}x)  "
                  f"peak {r['rnnjax_peak_frac']:.0%} vs {r['flax_peak_frac']:.0%}", flush=True)
    return rows


def memory(T: int, B: int, I: int, H: int) -> list[dict]:
    cell = rnnjax.cells.lstm(H)
    params = cell.init(jax.random.key(0), I)
    xs = jax.ShapeDtypeStruct((B, T, I), jnp.float32)
    rows = []
    for label, remat in [("none", False), ("per step", True), (f"blocks of {math.isqrt(T)}", math.isqrt(T))]:
        loss = lambda p, xs, remat=remat: jnp.mean(rnnjax.unroll(cell, p, xs, remat=remat)[1] ** 2)
        # (compile only: memory_analysis needs no run, so T = 100 000 costs nothing)
        mem = jax.jit(jax.grad(loss)).lower(params, xs).compile().memory_analysis()
        total = mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
        rows.append({"remat": label, "T": T, "B": B, "H": H, "temp_MiB": mem.temp_size_in_bytes / 2 ** 20,
                     "total_MiB": total / 2 ** 20})
        print(f"memory T={T} B={B} H={H} remat={label:14s}: {total / 2 ** 20:9.1f} MiB", flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--unroll", type=int, default=1, help="rnnjax's lax.scan unroll factor")
    parser.add_argument("--out", default="benchmarks/results/cells.json")
    args = parser.parse_args(argv)
    shapes = [(8, 32, 16, 32), (8, 100, 2, 16)] if args.quick else [(64, 128, 256, 256), (64, 1000, 2, 128)]
    repeats = 2 if args.quick else args.repeats
    peak = matmul_peak(512 if args.quick else 2048)
    print(f"float32 matmul peak: {peak / 1e9:.1f} GFLOP/s on {jax.devices()[0].device_kind}, "
          f"{os.cpu_count()} cores", flush=True)
    result = {"device": jax.devices()[0].device_kind, "cpu_count": os.cpu_count(),
              "matmul_peak_gflops": peak / 1e9, "jax": jax.__version__,
              "speed": speed(shapes, repeats, peak, args.unroll),
              "memory": [row for T in ((1000,) if args.quick else (10_000, 100_000))
                         for row in memory(T, 8 if args.quick else 32, 2, 64)]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
