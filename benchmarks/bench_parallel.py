"""Sequential scan against parallel-in-time evaluation: wall time on this device and parallel depth.

    python -m benchmarks.bench_parallel --device-report benchmarks/results/parallel_cpu.json \\
        --lengths 1000 10000                                  # this CPU
    python3 -m benchmarks.bench_parallel --device-report $OUT/parallel_gpu.json  # a GPU
    python -m benchmarks.bench_parallel --quick --device-report /tmp/p.json     # a smoke run

For every sequence length ``T`` (default 1 000, 10 000, 100 000) and batch size ``B`` (1 and 64),
forward pass only, ``jit``-compiled (compile time recorded apart), each group of methods timed
interleaved in one process (medians of the repeats):

- linear recurrent cells (``lru``, ``mingru``): ``rnnjax.unroll(method="scan")`` against
  ``method="associative"``;
- nonlinear cells (a contracting tanh ``elman`` with spectral radius 0.5, ``gru``, ``lstm``, as
  initialised): ``rnnjax.unroll`` against ``rnnjax.parallel.newton_unroll`` with
  ``jacobian="full"`` (DEER) and ``"diagonal"`` (quasi-DEER), with the iterations each took,
  whether every sequence converged, and the largest difference from the scan's outputs.

Parallel depth counts the sequential levels an ideal parallel machine needs: ``T`` for the scan;
``2⌈log₂ T⌉`` for one associative scan (up- and down-sweep); for Newton, iterations × (one
Jacobian evaluation + one scan) = iterations × (1 + 2⌈log₂ T⌉).

The report (JSON) is rewritten after every group, so a run stopped early keeps what it measured;
``--budget-s`` skips (and records as skipped) the groups left once that much wall time is spent,
a Newton group whose Jacobians would exceed ``--max-jacobian-gb`` is skipped as too large, and a
group that fails (out of memory) is recorded with its error.
Matrix products run at ``--precision highest`` by default (a GPU's TF32 default would blur the
Newton residual's 1e-5 tolerance). Needs only jax and rnnjax (no tyro, no matplotlib). The docs
paragraph is generated from the reports by :mod:`benchmarks.parallel_readme`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
from rnnjax.parallel import newton_unroll

LINEAR = ("lru", "mingru")
NONLINEAR = ("elman", "gru", "lstm")
INPUT_SIZE = 4
TOL = 1e-5


def level(T: int) -> int:
    """Depth of one associative scan of length ``T``: ``2⌈log₂ T⌉``."""
    return 2 * math.ceil(math.log2(max(T, 2)))


def make_cell(name: str, hidden: int):
    """A cell and its parameters (the Elman network scaled to spectral radius 0.5)."""
    cell = getattr(rnnjax.cells, name)(hidden)
    params = cell.init(jax.random.key(0), INPUT_SIZE)
    if name == "elman":
        rho = np.max(np.abs(np.linalg.eigvals(np.asarray(params.w_h))))  # eig: CPU only in JAX
        params = params._replace(w_h=params.w_h * (0.5 / rho).astype(params.w_h.dtype))
    return cell, params


def carry_size(cell, params) -> int:
    return sum(x.size for x in jax.tree.leaves(cell.initial_carry(params)))


def methods(name: str, cell):
    """``{method: (params, xs) -> (carry, ys[, info])}`` of one group."""
    if name in LINEAR:
        return {m: (lambda p, xs, m=m: rnnjax.unroll(cell, p, xs, method=m))
                for m in ("scan", "associative")}
    return {"scan": lambda p, xs: rnnjax.unroll(cell, p, xs),
            "newton_full": lambda p, xs: newton_unroll(cell, p, xs, jacobian="full", tol=TOL),
            "newton_diagonal": lambda p, xs: newton_unroll(cell, p, xs, jacobian="diagonal", tol=TOL)}


def time_group(fns: dict, args: tuple, repeats: int, long_call_s: float = 1.0):
    """Compile every function, then time them interleaved: ``(compile_s, median_s, outputs)``.

    One round always; more (up to ``repeats``) while a round is shorter than ``long_call_s``
    per function.
    """
    compiled, compile_s = {}, {}
    for k, f in fns.items():
        t0 = time.perf_counter()
        compiled[k] = jax.jit(f).lower(*args).compile()
        compile_s[k] = time.perf_counter() - t0
    outputs = {k: jax.block_until_ready(f(*args)) for k, f in compiled.items()}  # warm-up
    times = {k: [] for k in fns}
    for r in range(repeats):
        for k, f in compiled.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(*args))
            times[k].append(time.perf_counter() - t0)
        if r == 0 and max(v[0] for v in times.values()) > long_call_s:
            break
    return compile_s, {k: statistics.median(v) for k, v in times.items()}, outputs


def run_group(name: str, B: int, T: int, hidden: int, repeats: int) -> dict:
    cell, params = make_cell(name, hidden)
    xs = jax.random.normal(jax.random.key(1), (B, T, INPUT_SIZE))
    fns = methods(name, cell)
    compile_s, median_s, outputs = time_group(fns, (params, xs), repeats)
    row = {"cell": name, "hidden": hidden, "carry_size": carry_size(cell, params), "B": B, "T": T,
           "ms": {k: 1e3 * v for k, v in median_s.items()},
           "compile_s": compile_s, "depth": {"scan": T}}
    ys_scan = outputs["scan"][1]
    for k, out in outputs.items():
        if k == "scan":
            continue
        row.setdefault("max_abs_diff", {})[k] = float(jnp.max(jnp.abs(out[1] - ys_scan)))
        if k == "associative":
            row["depth"][k] = level(T)
        else:
            info = out[2]
            iters = int(jnp.max(info.iterations))
            row.setdefault("iterations", {})[k] = iters
            row.setdefault("converged", {})[k] = bool(jnp.all(info.converged))
            row["depth"][k] = iters * (1 + level(T))
    return row


def describe(row: dict) -> str:
    parts = [f"{k} {v:.1f} ms" for k, v in row["ms"].items()]
    its = ", ".join(f"{k} {v} it" for k, v in row.get("iterations", {}).items())
    return (f"{row['cell']}({row['hidden']}) B={row['B']} T={row['T']}: " + "; ".join(parts)
            + (f" ({its})" if its else "") + "; depth " + " / ".join(map(str, row["depth"].values())))


def write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device-report", type=Path, required=True, metavar="PATH",
                        help="where the JSON report goes (rewritten after every group)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: T = 64 and 256, B = 1 and 4, H = 8")
    parser.add_argument("--lengths", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--hidden", type=int, default=64, help="H of the linear cells")
    parser.add_argument("--newton-hidden", type=int, default=16, help="H of the Newton cells")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=240.0,
                        help="skip the groups left once this much wall time is spent")
    parser.add_argument("--max-jacobian-gb", type=float, default=8.0,
                        help="skip a Newton group whose B·T·D² float32 Jacobians exceed this")
    parser.add_argument("--precision", default="highest", choices=("default", "high", "highest"))
    args = parser.parse_args(argv)
    if args.quick:
        args.lengths, args.batches, args.hidden, args.newton_hidden = [64, 256], [1, 4], 8, 8
    if min(args.lengths + args.batches + [args.hidden, args.newton_hidden, args.repeats]) < 1:
        parser.error("lengths, batches, hidden sizes and repeats must be positive")
    device = jax.devices()[0]
    report = {"platform": jax.default_backend(), "device": device.device_kind,
              "device_count": jax.device_count(), "cpu_count": os.cpu_count(),
              "machine": platform.machine(), "jax": jax.__version__, "precision": args.precision,
              "quick": args.quick, "budget_s": args.budget_s, "rows": [], "skipped": []}
    print(f"{report['platform']}: {report['device']} ({report['device_count']} devices), "
          f"{report['cpu_count']} cores, jax {report['jax']}", flush=True)
    start = time.perf_counter()
    with jax.default_matmul_precision(args.precision):
        for T in sorted(args.lengths):
            for B in sorted(args.batches):
                for name in LINEAR + NONLINEAR:
                    hidden = args.hidden if name in LINEAR else args.newton_hidden
                    group = {"cell": name, "B": B, "T": T}
                    D = (2 if name == "lstm" else 1) * hidden
                    if name in NONLINEAR and 4 * B * T * D * D / 1e9 > args.max_jacobian_gb:
                        report["skipped"].append({**group, "why": "jacobians too large"})
                    elif time.perf_counter() - start > args.budget_s:
                        report["skipped"].append({**group, "why": "time budget spent"})
                    else:
                        try:
                            row = run_group(name, B, T, hidden, args.repeats)
                        except Exception as e:  # noqa: BLE001 (an out-of-memory: record, go on)
                            report["skipped"].append({**group, "why": f"{type(e).__name__}: "
                                                      + (str(e).splitlines() or [""])[0][:200]})
                        else:
                            report["rows"].append(row)
                            print(describe(row), flush=True)
                    write(args.device_report, report)
    for s in report["skipped"]:
        print(f"skipped {s['cell']} B={s['B']} T={s['T']}: {s['why']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
