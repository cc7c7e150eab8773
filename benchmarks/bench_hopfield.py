"""Hopfield benchmarks: the classical capacity sweep and modern retrieval throughput.

    python -m benchmarks.bench_hopfield            # writes benchmarks/results/hopfield.json
    python -m benchmarks.bench_hopfield --small    # a smaller sweep, for a quick look

1. Capacity sweep: for every load ``P/N`` in ``0.02, 0.04, …, 0.24``, ``networks`` random
   Hebbian networks × ``trials`` cues (pattern ``b mod P`` with ``N/10`` bits flipped), each run
   asynchronously (a random order per sweep, until a sweep changes nothing, at most 30 sweeps)
   by :func:`rnnjax.hopfield.discrete.run_async` with the batch of cues on one network
   (fields ``h = W S`` of shape ``(N, trials)``; each step jumps every trial to the next unit
   of its sweep that flips and updates its fields by one column of ``W``), ``lax.map`` over
   networks and loads: ONE compiled program. Against a plain NumPy loop of the same dynamics, one trial and one unit at
   a time, keeping the fields and updating them only on a flip (``h += W[i] Δy_i``), with the
   very same weights, cues and unit orders, on every trial. The final states and sweep counts
   of every trial are compared (they must be equal bit for bit). The two are timed in
   alternation (``repeats`` rounds) so that the ratio survives a noisy, shared machine; the
   median ratio is reported with its range. A JAX-only row times ``N = 2000``.
2. Modern retrieval ``ξ ← Xᵀ softmax(β X ξ)`` for N = 10⁵ stored patterns, d = 64: queries/s of
   ``rnnjax.hopfield.modern.update`` (jitted), ``jax.nn.dot_product_attention`` and NumPy.

Compilation is excluded from the timings and reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.hopfield import discrete, modern

OUT = Path(__file__).parent / "results" / "hopfield.json"


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ----------------------------------------------------------------------------- 1. capacity


def _network(key, n, p, p_max, trials, flips):
    """Patterns (``p_max`` rows, zero beyond ``p``: they add nothing to ``W``), weights, targets,
    cues and the order key of one network."""
    kp, kf, ko = jax.random.split(key, 3)
    x = jax.random.rademacher(kp, (p_max, n), dtype=jnp.float32)
    x = x * (jnp.arange(p_max) < p).astype(x.dtype)[:, None]
    w = discrete.store(x)
    target = x[jnp.arange(trials) % p]
    flip = jnp.argsort(jax.random.uniform(kf, (trials, n)), axis=1) < flips
    return w, target, jnp.where(flip, -target, target), ko


@partial(jax.jit, static_argnames=("n", "networks", "trials", "flips", "max_sweeps", "p_max"))
def capacity_program(key, loads, *, n, networks, trials, flips, max_sweeps, p_max):
    """Final states ``(loads, networks, trials, N)``, sweeps and overlaps of the whole sweep."""
    def network(k, p):
        w, target, cues, ko = _network(k, n, p, p_max, trials, flips)
        r = discrete.run_async(w, cues, key=ko, trace="sweep", max_sweeps=max_sweeps)
        return r.state, r.sweeps, jnp.mean(r.state * target, axis=1)

    def load(p):
        keys = jax.random.split(jax.random.fold_in(key, p), networks)
        return jax.lax.map(lambda k: network(k, p), keys)

    return jax.lax.map(load, loads)


def numpy_run_async(w, y0, orders, max_sweeps):
    """The same asynchronous dynamics in plain NumPy: one unit at a time in ``orders[s]``,
    fields ``h = W y`` updated on a flip (``W`` symmetric: row ``i`` is column ``i``), ties keep
    the unit's value, stop after a sweep without a flip. Returns ``(state, sweeps)``."""
    y = y0.copy()
    h = w @ y
    for s in range(max_sweeps):
        changed = False
        for i in orders[s]:
            hi = h[i]
            new = 1.0 if hi > 0 else -1.0 if hi < 0 else y[i]
            if new != y[i]:
                h += w[i] * (new - y[i])
                y[i] = new
                changed = True
        if not changed:
            return y, s + 1
    return y, max_sweeps


def _numpy_inputs(key, loads, n, networks, trials, flips, p_max, sweeps):
    """Weights, cues and per-sweep orders of every network, as the program derives them."""
    make = jax.jit(_network, static_argnums=(1, 3, 4, 5))
    out = []
    for li, p in enumerate(loads):
        keys = jax.random.split(jax.random.fold_in(key, int(p)), networks)
        for ni in range(networks):
            w, _, cues, ko = make(keys[ni], n, jnp.int32(p), p_max, trials, flips)
            most = int(np.max(sweeps[li, ni]))
            orders = [np.asarray(jax.random.permutation(jax.random.fold_in(ko, s), n)).tolist()
                      for s in range(most)]
            out.append((li, ni, np.asarray(w), np.asarray(cues), orders))
    return out


def bench_capacity(n, networks, trials, max_sweeps, repeats, loads=None):
    loads = np.round(np.arange(0.02, 0.245, 0.02) * n).astype(np.int32) if loads is None else loads
    p_max, flips = int(loads.max()), n // 10
    key = jax.random.key(0)
    kw = dict(n=n, networks=networks, trials=trials, flips=flips, max_sweeps=max_sweeps,
              p_max=p_max)
    run = lambda: capacity_program(key, jnp.asarray(loads), **kw)          # noqa: E731
    t0 = time.perf_counter()
    states, sweeps, overlap = jax.block_until_ready(run())
    compile_s = time.perf_counter() - t0
    states, sweeps = np.asarray(states), np.asarray(sweeps)
    inputs = _numpy_inputs(key, loads, n, networks, trials, flips, p_max, sweeps)

    def numpy_all():
        res = []
        for _, _, w, cues, orders in inputs:
            res.append([numpy_run_async(w, cues[b], orders, max_sweeps) for b in range(trials)])
        return res

    jax_s, np_s, results = [], [], None
    for _ in range(repeats):                         # interleaved: the ratio sees the same load
        t0 = time.perf_counter()
        jax.block_until_ready(run())
        jax_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        results = numpy_all()
        np_s.append(time.perf_counter() - t0)
    equal = sum(np.array_equal(states[li, ni, b], y) and int(sweeps[li, ni, b]) == sw
                for (li, ni, *_), rows in zip(inputs, results, strict=True) for b, (y, sw) in enumerate(rows))
    ratios = [a / b for a, b in zip(np_s, jax_s, strict=True)]
    return {
        "N": n, "loads": [int(p) for p in loads], "networks": networks, "trials": trials,
        "max_sweeps": max_sweeps, "flips": flips,
        "jax_seconds": statistics.median(jax_s), "jax_compile_seconds": compile_s - min(jax_s),
        "numpy_seconds": statistics.median(np_s),
        "speedup_median": statistics.median(ratios), "speedup_min": min(ratios),
        "speedup_max": max(ratios), "repeats": repeats,
        "trials_total": int(sweeps.size), "trials_equal": int(equal),
        "sweeps_total": int(sweeps.sum()),
        "mean_overlap_by_load": np.asarray(overlap).mean(axis=(1, 2)).round(4).tolist(),
    }


def bench_capacity_jax(n, networks, trials, max_sweeps, repeats):
    """The same program at a larger N, JAX only (the NumPy loop would take minutes)."""
    loads = np.round(np.arange(0.02, 0.245, 0.02) * n).astype(np.int32)
    kw = dict(n=n, networks=networks, trials=trials, flips=n // 10, max_sweeps=max_sweeps,
              p_max=int(loads.max()))
    run = lambda: capacity_program(jax.random.key(1), jnp.asarray(loads), **kw)   # noqa: E731
    t0 = time.perf_counter()
    _, sweeps, _ = jax.block_until_ready(run())
    compile_s = time.perf_counter() - t0
    seconds = _median_time(run, repeats)
    return {"N": n, "loads": len(loads), "networks": networks, "trials": trials,
            "jax_seconds": seconds, "jax_compile_seconds": compile_s - seconds,
            "sweeps_total": int(np.sum(sweeps))}


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


def readme_table(result: dict) -> str:
    """The README's Hopfield benchmark table, ratios only, from a result of :func:`main`."""
    cap, large, mod = (result[k] for k in ("capacity_sweep", "capacity_sweep_large",
                                           "modern_retrieval"))
    rows = mod["rows"]
    load = result["machine"]["load_average_1min_start_end"]
    return "\n".join([
        "| benchmark | JAX over NumPy |", "|---|---|",
        f"| capacity sweep N = {cap['N']}, {len(cap['loads'])} loads (α = 0.02–0.24) × "
        f"{cap['trials']} trials, one compiled program; {cap['trials_equal']}/"
        f"{cap['trials_total']} final states and sweep counts bit-equal to NumPy | "
        f"{cap['speedup_median']:.1f}× (range {cap['speedup_min']:.1f}–{cap['speedup_max']:.1f}× "
        f"over {cap['repeats']} interleaved rounds) |",
        f"| the same at N = {large['N']} (JAX only): time relative to N = {cap['N']} | "
        f"{large['jax_seconds'] / cap['jax_seconds']:.1f}× the N = {cap['N']} time |",
        f"| modern retrieval N = 10⁵, d = {mod['d']}, batch {mod['batch']}: "
        "`modern.update` / `jax.nn.dot_product_attention` | "
        f"{rows['rnnjax.hopfield.modern.update']['speedup_vs_numpy']:.1f}× / "
        f"{rows['jax.nn.dot_product_attention']['speedup_vs_numpy']:.1f}× |",
        "",
        f"Measured on {result['machine']['cpus']} CPU device(s) at a 1-minute load average of "
        f"{load[0]:.1f} (start) and {load[1]:.1f} (end) on a shared machine.",
    ]) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true",
                        help="N = 300 (and 600 for the JAX-only row), 50 trials per load")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--readme", action="store_true",
                        help="print the README table from the saved result and exit")
    args = parser.parse_args(argv)
    if args.readme:
        print(readme_table(json.loads(Path(args.out).read_text())), end="")
        return 0
    load_start = os.getloadavg()[0]
    n, big, trials = (300, 600, 50) if args.small else (1000, 2000, 100)
    cap = bench_capacity(n, 1, trials, max_sweeps=30, repeats=args.repeats)
    large = bench_capacity_jax(big, 1, trials, max_sweeps=30, repeats=args.repeats)
    mod = bench_modern(100_000, 64, 256 if args.small else 1024, beta=8.0, repeats=args.repeats)
    result = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "cpus": jax.device_count(), "backend": jax.default_backend(),
                          "jax": jax.__version__, "numpy": np.__version__,
                          "load_average_1min_start_end": [load_start, os.getloadavg()[0]]},
              "capacity_sweep": cap, "capacity_sweep_large": large, "modern_retrieval": mod}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)

    print(f"capacity sweep, N = {cap['N']}, {len(cap['loads'])} loads x {cap['networks']} "
          f"network x {cap['trials']} trials, {cap['sweeps_total']} sweeps in all")
    print(f"  jax run_async, batched trials {cap['jax_seconds']:8.2f} s "
          f"(compile {cap['jax_compile_seconds']:.1f} s)")
    print(f"  numpy loop                    {cap['numpy_seconds']:8.2f} s")
    print(f"  speed-up {cap['speedup_median']:.1f}x (range {cap['speedup_min']:.1f}-"
          f"{cap['speedup_max']:.1f} over {cap['repeats']} interleaved rounds); "
          f"{cap['trials_equal']}/{cap['trials_total']} trials bit-equal")
    print(f"  N = {large['N']}: {large['jax_seconds']:.2f} s for {large['loads']} loads x "
          f"{large['trials']} trials (jax only)")
    print(readme_table(result))
    print(f"modern retrieval, N = {mod['N']:,}, d = {mod['d']}, batch {mod['batch']}")
    print(f"  {'implementation':38s} {'queries/s':>12s} {'vs numpy':>9s}")
    for name, r in mod["rows"].items():
        print(f"  {name:38s} {r['queries_per_second']:12,.0f} {r['speedup_vs_numpy']:8.1f}x")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
