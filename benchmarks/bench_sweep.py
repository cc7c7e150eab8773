"""Speed-up of one vmapped 16-seed training run over 16 sequential runs of the same step.

    python -m benchmarks.bench_sweep            # (H, B) = (32, 4), (32, 32), (128, 32)
    python -m benchmarks.bench_sweep --quick    # a smoke run

The workload is the adding problem (T = 50) with an LSTM sequence model, Adam and global-norm
clipping: ``rnnjax.train.make_step``, at three sizes (hidden units H, batch B per run). Sequential: the jitted single-run step, called
for seed 1, then seed 2, ... (each run ``steps`` updates; compiled once, reused by all seeds).
Vmapped: ``rnnjax.train.sweep.vmap_step`` of the same (un-jitted) step over a stacked state of
16 seeds, ``steps`` calls. Both are compiled and warmed up first, timed interleaved in the same
process (the machine is shared and noisy) with ``block_until_ready``, and the medians of
``repeats`` repetitions are compared: ``speed-up = t_sequential / t_vmapped``. A third column
runs the 16 members with ``lax.map`` inside one program (``vmap_step(..., chunk=1)``): one
dispatch per sweep step, no batched matrix products. Results go to
``benchmarks/results/sweep.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import rnnjax
import rnnjax.train as tr
from rnnjax.models.sequence import sequence_model
from rnnjax.tasks import adding
from rnnjax.train import sweep

RESULTS = Path(__file__).parent / "results" / "sweep.json"


def setup(hidden: int, seeds: int, length: int, batch_size: int):
    model = sequence_model(rnnjax.cells.lstm(hidden), input_size=2, output_size=1, pool="last")
    opt = tr.optimizer("adam", 1e-3, clip_norm=1.0)

    def loss_fn(params, batch, key):
        _, pred = model.apply(params, batch.inputs)
        return jnp.mean(jnp.square(pred[..., 0] - batch.targets))

    def init(k):
        return tr.init_state(model.init(k), opt, key=k)

    keys = jax.random.split(jax.random.key(0), seeds)
    batch = adding.batch(key=jax.random.key(1), batch_size=batch_size, length=length)
    single = tr.make_step(loss_fn, opt)  # jitted, donating
    vmapped = sweep.vmap_step(tr.make_step(loss_fn, opt, jit=False))
    mapped = sweep.vmap_step(tr.make_step(loss_fn, opt, jit=False), chunk=1)
    return init, keys, batch, single, vmapped, mapped


def time_sequential(init, keys, batch, step, steps: int) -> float:
    states = [init(k) for k in keys]
    jax.block_until_ready(states)
    t0 = time.perf_counter()
    for i in range(len(keys)):
        s = states[i]
        for _ in range(steps):
            s, m = step(s, batch)
        jax.block_until_ready(s)
    return time.perf_counter() - t0


def time_vmapped(init, keys, batch, vstep, steps: int) -> float:
    states = sweep.init(init, keys)
    jax.block_until_ready(states)
    t0 = time.perf_counter()
    for _ in range(steps):
        states, m = vstep(states, batch)
    jax.block_until_ready(states)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = ((32, 4),) if args.quick else ((32, 4), (32, 32), (128, 32))
    steps = 5 if args.quick else args.steps
    repeats = 2 if args.quick else args.repeats
    length = 50
    rows = []
    for H, batch_size in sizes:
        init, keys, batch, single, vmapped, mapped = setup(H, args.seeds, length, batch_size)
        time_sequential(init, keys[:1], batch, single, 2)  # compile + warm up
        time_vmapped(init, keys, batch, vmapped, 2)
        time_vmapped(init, keys, batch, mapped, 2)
        seq, vec, mp = [], [], []
        for _ in range(repeats):  # interleaved
            seq.append(time_sequential(init, keys, batch, single, steps))
            vec.append(time_vmapped(init, keys, batch, vmapped, steps))
            mp.append(time_vmapped(init, keys, batch, mapped, steps))
        t_seq, t_vec, t_map = statistics.median(seq), statistics.median(vec), statistics.median(mp)
        row = {"hidden": H, "seeds": args.seeds, "steps": steps, "T": length,
               "batch": batch_size, "sequential_s": t_seq, "vmapped_s": t_vec,
               "speedup": t_seq / t_vec,
               "lax_map_s": t_map, "lax_map_speedup": t_seq / t_map,
               "sequential_ms_per_seed_step": 1e3 * t_seq / (args.seeds * steps),
               "vmapped_ms_per_seed_step": 1e3 * t_vec / (args.seeds * steps),
               "repeats": repeats}
        rows.append(row)
        print(f"H={H} B={batch_size}: sequential {t_seq:.3f} s, vmapped {t_vec:.3f} s "
              f"({t_seq / t_vec:.2f}x), lax.map chunk=1 {t_map:.3f} s ({t_seq / t_map:.2f}x)",
              flush=True)
    print(f"{'H':>5} {'B':>4} {'seeds':>5} {'sequential (s)':>15} {'vmapped (s)':>12} "
          f"{'speed-up':>9} {'lax.map (s)':>12} {'speed-up':>9}")
    for r in rows:
        print(f"{r['hidden']:>5} {r['batch']:>4} {r['seeds']:>5} {r['sequential_s']:>15.3f} "
              f"{r['vmapped_s']:>12.3f} {r['speedup']:>8.2f}x {r['lax_map_s']:>12.3f} "
              f"{r['lax_map_speedup']:>8.2f}x")
    out = {"benchmark": f"{args.seeds}-seed vmapped training vs {args.seeds} sequential runs "
                        "(LSTM, adding T=50)",
           "device": str(jax.devices()[0]), "n_devices": len(jax.devices()),
           "quick": args.quick, "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not args.quick:
        from benchmarks._files import write_json

        write_json(RESULTS, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
