"""A 16-seed sweep point trained vmapped versus 16 sequential runs of the same step; device scaling.

    python -m benchmarks.bench_longrange            # ~2-4 min on 2 CPU cores
    python -m benchmarks.bench_longrange --quick    # fewer steps

The sweep point is one program of ``experiments.longrange``: the adding problem at T = 100,
an LSTM with H = 32, batch 32, Adam with clipping, data drawn inside the step from each run's key.

1. *vmapped*: ``rnnjax.train.sweep.vmap_step`` of the step over 16 stacked train states, one
   jitted call per update for all 16 runs.
2. *sequential*: the same un-vmapped step, jitted once, called for run 1, then run 2, ... (16
   separate trainings; the compiled program is shared, so compile time is not counted twice).
2b. *lax.map*: one jitted program per update that runs the 16 members one after another
   (``jax.lax.map``): unbatched matrix products, one dispatch.

All are compiled and warmed up first; each timing is the median of ``repeats`` interleaved
measurements of ``steps`` updates, ``block_until_ready`` at the end. Reported: run-steps per second (one update of
one run = one run-step) and the ratio vmapped / sequential, measured in the same process.

3. *device scaling*: the sweep sharded over 1, 2 and 4 forced host CPU devices
   (``XLA_FLAGS=--xla_force_host_platform_device_count=N``, one subprocess each, the states
   placed with ``rnnjax.train.sweep.shard``), both as the vmapped step and as ``lax.map`` over
   each device's members inside ``jax.shard_map`` (what the experiment runs on CPU). On this
   2-core machine at most 2 devices can add compute.

Writes ``benchmarks/results/longrange.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._files import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "longrange.json"
SEEDS, T, H, BATCH = 16, 100, 32, 32


def _setup(seeds: int):
    import jax
    import jax.numpy as jnp
    import optax

    import rnnjax
    import rnnjax.train as tr
    from rnnjax.models.sequence import sequence_model
    from rnnjax.tasks import adding

    model = sequence_model(rnnjax.cells.lstm(H), input_size=2, output_size=1, pool="last")
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2))

    def loss_fn(params, batch, key):
        d = adding.batch(key=key, batch_size=BATCH, length=T)
        return tr.mse(model.apply(params, d.inputs)[1][..., 0], d.targets)

    keys = jax.random.split(jax.random.key(0), seeds)
    make = lambda k: tr.init_state(model.init(k), opt, key=k)
    step = tr.make_step(loss_fn, opt, jit=False)
    return jax, jnp, tr, make, keys, step


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def vmapped_vs_sequential(steps: int, repeats: int) -> dict:
    jax, jnp, tr, make, keys, step = _setup(SEEDS)
    states = tr.sweep.init(make, keys)
    vstep = tr.sweep.vmap_step(step, donate=False)
    single = jax.jit(step)
    members = [tr.sweep.index(states, i) for i in range(SEEDS)]

    def run_vmapped():
        s = states
        for _ in range(steps):
            s, m = vstep(s, None)
        jax.block_until_ready(s)

    # the same sweep as one program that runs the members one after another (lax.map):
    # one dispatch per update like vmap, but unbatched matrix products inside
    mstep = jax.jit(lambda st: jax.lax.map(lambda s: step(s, None), st))

    def run_mapped():
        s = states
        for _ in range(steps):
            s, m = mstep(s)
        jax.block_until_ready(s)

    def run_sequential():
        for st in members:
            s = st
            for _ in range(steps):
                s, m = single(s, None)
            jax.block_until_ready(s)

    # compile and warm up both; check that they compute the same thing
    sv, _ = vstep(states, None)
    s0, _ = single(members[3], None)
    err = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
        jax.tree.leaves(tr.sweep.index(sv, 3).params), jax.tree.leaves(s0.params), strict=True))
    run_vmapped()
    run_mapped()
    t_v, t_s, t_m = [], [], []
    for _ in range(repeats):  # interleaved: the machine is shared and its load drifts
        t_v.append(_time(run_vmapped, 1))
        t_s.append(_time(run_sequential, 1))
        t_m.append(_time(run_mapped, 1))
    t_v, t_s, t_m = (statistics.median(t) for t in (t_v, t_s, t_m))
    return {"seeds": SEEDS, "steps": steps, "T": T, "hidden_size": H, "batch_size": BATCH,
            "vmapped_s": t_v, "sequential_s": t_s,
            "vmapped_run_steps_per_s": SEEDS * steps / t_v,
            "sequential_run_steps_per_s": SEEDS * steps / t_s,
            "mapped_s": t_m, "mapped_run_steps_per_s": SEEDS * steps / t_m,
            "speedup": t_s / t_v, "mapped_speedup": t_s / t_m,
            "max_param_difference_after_one_step": err}


def device_point(steps: int, repeats: int) -> dict:
    """Run inside a subprocess whose XLA_FLAGS force N host devices: both sweep modes."""
    from jax.sharding import PartitionSpec as P

    jax, jnp, tr, make, keys, step = _setup(SEEDS)
    mesh = tr.sweep.mesh()
    states = tr.sweep.shard(tr.sweep.init(make, keys), mesh)
    steps_by_mode = {
        "vmap": tr.sweep.vmap_step(step, donate=False),
        # what experiments.longrange runs on CPU: lax.map over each device's members
        "map": jax.jit(jax.shard_map(lambda st: jax.lax.map(lambda s: step(s, None), st),
                                     mesh=mesh, in_specs=P(tr.sweep.AXIS),
                                     out_specs=P(tr.sweep.AXIS), check_vma=False)),
    }
    out = {"devices": jax.device_count()}
    for mode, fn in steps_by_mode.items():
        call = (lambda s, fn=fn: fn(s, None)) if mode == "vmap" else fn

        def run(call=call):
            s = states
            for _ in range(steps):
                s, _ = call(s)
            jax.block_until_ready(s)

        run()
        t = _time(run, repeats)
        out[f"{mode}_run_steps_per_s"] = SEEDS * steps / t
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device-point", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    steps, repeats = (10, 3) if args.quick else (30, 5)
    if args.device_point:
        print(json.dumps(device_point(steps, repeats)))
        return 0

    import jax

    result = {"machine": f"{os.cpu_count()} CPU cores, jax {jax.__version__}, "
                         f"backend {jax.default_backend()}",
              "vmap": vmapped_vs_sequential(steps, repeats), "devices": []}
    for n in (1, 2, 4):
        env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT),
                   XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
        cmd = [sys.executable, "-m", "benchmarks.bench_longrange", "--device-point"]
        if args.quick:
            cmd.append("--quick")
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        result["devices"].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for mode in ("vmap", "map"):
        base = result["devices"][0][f"{mode}_run_steps_per_s"]
        for d in result["devices"]:
            d[f"{mode}_speedup_vs_1_device"] = d[f"{mode}_run_steps_per_s"] / base

    v = result["vmap"]
    print(f"16-seed sweep point (adding, LSTM H={H}, T={T}, batch {BATCH}), {steps} updates, "
          f"median of {repeats}")
    print(f"{'':28s}{'run-steps/s':>12s}{'seconds':>10s}")
    print(f"{'16 sequential runs':28s}{v['sequential_run_steps_per_s']:12.1f}"
          f"{v['sequential_s']:10.2f}")
    print(f"{'one vmapped program':28s}{v['vmapped_run_steps_per_s']:12.1f}{v['vmapped_s']:10.2f}")
    print(f"{'one lax.map program':28s}{v['mapped_run_steps_per_s']:12.1f}{v['mapped_s']:10.2f}")
    print(f"vmapped / sequential: {v['speedup']:.2f}x, lax.map / sequential: "
          f"{v['mapped_speedup']:.2f}x "
          f"(same result: max |Δθ| after one step {v['max_param_difference_after_one_step']:.1e})")
    print(f"{'forced host devices':20s}{'vmap steps/s':>14s}{'vs 1':>7s}{'map steps/s':>14s}"
          f"{'vs 1':>7s}")
    for d in result["devices"]:
        print(f"{d['devices']:<20d}{d['vmap_run_steps_per_s']:14.1f}"
              f"{d['vmap_speedup_vs_1_device']:6.2f}x{d['map_run_steps_per_s']:14.1f}"
              f"{d['map_speedup_vs_1_device']:6.2f}x")
    write_json(RESULT, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
