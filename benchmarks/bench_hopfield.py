"""Hopfield benchmarks: the classical capacity sweep and modern retrieval throughput.

    python -m benchmarks.bench_hopfield            # writes benchmarks/results/hopfield.json
    python -m benchmarks.bench_hopfield --small    # a smaller sweep, for a quick look

1. Capacity sweep at N = 1000: 30 load values × 20 trials of asynchronous recall (random order
   per sweep, until a sweep changes nothing, at most 30 sweeps) as ONE compiled program
   (``experiments.hopfield.capacity_sweep``: ``lax.map`` over loads, and over trials either
   ``lax.map`` or ``vmap``; both are timed)
   against a NumPy loop of the same updates (the overlap form of
   :func:`rnnjax.hopfield.discrete.relax_patterns`, one unit at a time). The NumPy loop runs on
   one trial per load with the very same patterns, cues and unit orders; its final states are
   checked against the compiled program's, and its time is scaled to all trials by the number
   of sweeps each trial ran (the work is proportional to sweeps × N × P).
2. Modern retrieval ``ξ ← Xᵀ softmax(β X ξ)`` for N = 10⁵ stored patterns, d = 64: queries/s of
   ``rnnjax.hopfield.modern.update`` (jitted), ``jax.nn.dot_product_attention`` and NumPy.

Timings are medians after a warm-up (compilation excluded and reported separately), measured in
the same run so that the ratios survive a noisy, shared machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.hopfield import capacity_sweep
from rnnjax.hopfield import modern

OUT = Path(__file__).parent / "results" / "hopfield.json"


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ----------------------------------------------------------------------------- 1. capacity


def numpy_recall(patterns, cue, orders, max_sweeps):
    """Asynchronous recall in NumPy, one unit at a time, in the given order for every sweep.

    ``y_in_i = Σ_μ X_μi m_μ - c_i y_i`` with the overlaps ``m = X y`` kept up to date
    (``c_i = Σ_μ X_μi²``): the updates of ``relax_patterns`` (ties keep the unit's value)."""
    xt = np.ascontiguousarray(patterns.T)          # (N, P): unit i's row is contiguous
    diag = np.einsum("ip,ip->i", xt, xt)
    y = cue.astype(np.float32).copy()
    m = xt.T @ y
    sweeps = 0
    for s in range(max_sweeps):
        sweeps += 1
        changed = False
        for i in orders[s]:
            h = xt[i] @ m - diag[i] * y[i]
            new = 1.0 if h > 0 else -1.0 if h < 0 else y[i]
            if new != y[i]:
                m += xt[i] * (new - y[i])
                y[i] = new
                changed = True
        if not changed:
            break
    return y, sweeps


def trial_inputs(key, n, p_max, p, flips, max_sweeps):
    """The patterns, cue and per-sweep orders ``capacity_sweep`` draws for one trial."""
    kp, kf, ko = jax.random.split(key, 3)
    x = jax.random.rademacher(kp, (p_max, n), dtype=jnp.float32)
    x = x * (jnp.arange(p_max) < p).astype(x.dtype)[:, None]
    flip = jnp.argsort(jax.random.uniform(kf, (n,))) < flips
    cue = jnp.where(flip, -x[0], x[0])
    orders = [np.asarray(jax.random.permutation(jax.random.fold_in(ko, s), n))
              for s in range(max_sweeps)]
    return np.asarray(x[:p]), np.asarray(cue), orders


def bench_capacity(n, num_loads, trials, max_sweeps, repeats):
    loads = np.unique(np.round(np.linspace(0.01, 0.3, num_loads) * n).astype(int).clip(1))
    p_max, flips = int(loads.max()), int(0.1 * n)
    key = jax.random.key(0)
    program = jax.jit(capacity_sweep, static_argnums=(1, 3, 5, 6, 7))
    args = (key, n, jnp.asarray(loads), trials, flips, max_sweeps, p_max)
    t0 = time.perf_counter()
    overlap, exact, sweeps, _ = jax.block_until_ready(program(*args, False))
    compile_s = time.perf_counter() - t0
    jax_s = _median_time(lambda: program(*args, False), repeats)
    jax.block_until_ready(program(*args, True))            # compile the vmapped variant
    jax_vmap_s = _median_time(lambda: program(*args, True), repeats)

    # NumPy: trial 0 of every load, same inputs (the keys capacity_sweep derives)
    np_s, np_sweeps, agree = 0.0, 0, 0
    for li, p in enumerate(loads):
        k = jax.random.split(jax.random.fold_in(key, int(p)), trials)[0]
        x, cue, orders = trial_inputs(k, n, p_max, int(p), flips, max_sweeps)
        t0 = time.perf_counter()
        y, sw = numpy_recall(x, cue, orders, max_sweeps)
        np_s += time.perf_counter() - t0
        np_sweeps += sw
        agree += int(abs(np.mean(y * x[0]) - float(overlap[li, 0])) < 1e-6
                     and sw == int(sweeps[li, 0]))
    total_sweeps = int(np.sum(sweeps))
    np_all = np_s / np_sweeps * total_sweeps                 # same work per sweep and load mix
    return {
        "N": n, "loads": len(loads), "trials": trials, "max_sweeps": max_sweeps,
        "jax_seconds": jax_s, "jax_compile_seconds": compile_s,
        "jax_vmap_trials_seconds": jax_vmap_s, "speedup_vmap_trials": np_all / jax_vmap_s,
        "numpy_seconds_measured": np_s, "numpy_trials_measured": len(loads),
        "numpy_seconds_all_trials_estimated": np_all,
        "speedup": np_all / jax_s,
        "numpy_matches_jax_trials": agree, "sweeps_total": total_sweeps,
        "mean_overlap_by_load": np.asarray(overlap).mean(1).round(4).tolist(),
    }


# ----------------------------------------------------------------------------- 2. modern


def bench_modern(n, d, batch, beta, repeats):
    key = jax.random.key(1)
    stored = jax.random.normal(key, (n, d)) / np.sqrt(d)
    queries = stored[:batch] + 0.1 * jax.random.normal(jax.random.fold_in(key, 1), (batch, d))
    ours = jax.jit(lambda x, q: modern.update(x, q, beta))
    ref = jax.jit(lambda x, q: jax.nn.dot_product_attention(
        q[None, :, None], x[None, :, None], x[None, :, None], scale=beta)[0, :, 0])
    xs, qs = np.asarray(stored), np.asarray(queries)

    def numpy_update():
        z = beta * qs @ xs.T
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p @ xs

    rows = {}
    for name, fn in (("rnnjax.hopfield.modern.update", lambda: ours(stored, queries)),
                     ("jax.nn.dot_product_attention", lambda: ref(stored, queries)),
                     ("numpy", numpy_update)):
        out = fn()                                   # warm-up / compile
        rows[name] = {"seconds": _median_time(fn, repeats)}
        rows[name]["queries_per_second"] = batch / rows[name]["seconds"]
        rows[name]["max_abs_diff_vs_numpy"] = float(np.max(np.abs(np.asarray(out)
                                                                 - numpy_update())))
    base = rows["numpy"]["seconds"]
    for r in rows.values():
        r["speedup_vs_numpy"] = base / r["seconds"]
    return {"N": n, "d": d, "batch": batch, "beta": beta, "rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="N = 300, 10 loads × 10 trials")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    n, loads, trials = (300, 10, 10) if args.small else (1000, 30, 20)
    cap = bench_capacity(n, loads, trials, max_sweeps=30, repeats=args.repeats)
    mod = bench_modern(100_000, 64, 256 if args.small else 1024, beta=8.0, repeats=args.repeats)
    result = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "cpus": jax.device_count(), "backend": jax.default_backend(),
                          "jax": jax.__version__, "numpy": np.__version__},
              "capacity_sweep": cap, "modern_retrieval": mod}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)

    print(f"capacity sweep, N = {cap['N']}, {cap['loads']} loads x {cap['trials']} trials, "
          f"{cap['sweeps_total']} sweeps in all")
    print(f"  {'implementation':38s} {'seconds':>10s} {'speed-up':>9s}")
    print(f"  {'jax, lax.map over loads and trials':38s} {cap['jax_seconds']:10.2f} "
          f"{cap['speedup']:8.1f}x")
    print(f"  {'jax, lax.map over loads, vmap trials':38s} {cap['jax_vmap_trials_seconds']:10.2f} "
          f"{cap['speedup_vmap_trials']:8.1f}x")
    print(f"  {'numpy loop (scaled from ' + str(cap['numpy_trials_measured']) + ' trials)':38s} "
          f"{cap['numpy_seconds_all_trials_estimated']:10.2f} {1.0:8.1f}x")
    print(f"  numpy and jax agree on {cap['numpy_matches_jax_trials']}/"
          f"{cap['numpy_trials_measured']} trials; compile {cap['jax_compile_seconds']:.1f} s")
    print(f"modern retrieval, N = {mod['N']:,}, d = {mod['d']}, batch {mod['batch']}")
    print(f"  {'implementation':38s} {'queries/s':>12s} {'vs numpy':>9s}")
    for name, r in mod["rows"].items():
        print(f"  {name:38s} {r['queries_per_second']:12,.0f} {r['speedup_vs_numpy']:8.1f}x")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
