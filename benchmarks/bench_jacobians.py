"""Time of ``jacobian_norms`` (matrix-free) against the naive jacfwd-per-step-and-multiply approach.

    python -m benchmarks.bench_jacobians            # H = 1024, T = 1000 (about 15 min on 2 cores)
    python -m benchmarks.bench_jacobians --quick    # a smoke run at small sizes

The task: ``||dh_t/dh_0||_2`` for every ``t = 1..T`` of a tanh Elman RNN (Gaussian ``W_h`` at
spectral radius 1, driven input), float32.

- **naive** (the reference): per step ``J_t = jax.jacfwd(step)(h)`` (an ``H x H`` matrix),
  ``P <- J_t P``, ``norm(P, 2)`` (an SVD), all inside one jitted ``lax.scan``.
- **matfree**: :func:`rnnjax.analysis.jacobian_norms` with ``method="matfree"`` (``k`` probe
  vectors, jvp forward / vjp backward block power iteration; never an ``H x H`` product).
- **dense**: the library's exact method (batched jvp of the product + SVD), for reference.

The naive method does identical work at every step (an ``H x H`` Jacobian, an ``H^3`` product and
an ``H x H`` SVD), so its time is linear in ``T``; on a loaded shared 2-core CPU a full
``T = 1000`` run takes hours. By default it is therefore timed on the first ``--naive-length``
steps and its ``T``-step time is that per-step time times ``T`` (stated as *extrapolated* in the
table); on a quiet machine time it on every step with ``--naive-length 1000 --repeats 1``
(about 5 minutes; the committed result). The same-length ratio is measured directly in the same
run, as is the accuracy of matfree against naive on those steps where the unscaled naive product
is still a normal float32 number (|log| < 60).

Memory: XLA's accounting of each compiled program (``memory_analysis()``: temporaries + arguments +
outputs) at ``T/4`` to ``16 T``, a number that does not depend on the load of the machine. Only the
temporaries can grow with ``T`` beyond the ``(T,)`` output; the arguments are the parameters and
inputs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import rnnjax
from rnnjax import analysis


def naive_jacobian_norms(cell, params, xs, carry=None):
    """Reference: ``jax.jacfwd`` of each step, multiply up, ``jnp.linalg.norm(P, 2)`` per step."""
    f, h0, _ = analysis.flat_step(cell, params, carry)

    def body(state, x):
        h, p = state
        jac = jax.jacfwd(lambda hh: f(hh, x)[0])(h)
        p = jac @ p
        return (f(h, x)[0], p), jnp.linalg.norm(p, 2)

    _, norms = jax.lax.scan(body, (h0, jnp.eye(h0.shape[0], dtype=h0.dtype)), xs)
    return norms


def naive_product_only(cell, params, xs, carry=None):
    """The naive method without its per-step SVD: jacfwd + multiply, Frobenius norm (cheap)."""
    f, h0, _ = analysis.flat_step(cell, params, carry)

    def body(state, x):
        h, p = state
        p = jax.jacfwd(lambda hh: f(hh, x)[0])(h) @ p
        return (f(h, x)[0], p), jnp.sqrt(jnp.sum(p * p))

    _, out = jax.lax.scan(body, (h0, jnp.eye(h0.shape[0], dtype=h0.dtype)), xs)
    return out


def _problem(H: int, T: int, input_size: int = 8):
    cell = rnnjax.cells.elman(H)
    params = cell.init(jax.random.key(0), input_size)
    w = jax.random.normal(jax.random.key(1), (H, H)) / np.sqrt(H)
    params = params._replace(w_h=rnnjax.init.scale_spectral_radius(w, 1.0))
    xs = jax.random.normal(jax.random.key(2), (T, input_size))
    return cell, params, xs


def _median_time(fn, *args, repeats: int) -> tuple[float, object]:
    out = jax.block_until_ready(fn(*args))  # compile + warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _memory_bytes(fn, *args, temporaries_only: bool = False) -> int | None:
    try:
        m = jax.jit(fn).lower(*args).compile().memory_analysis()
        if temporaries_only:
            return int(m.temp_size_in_bytes)
        return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes)
    except Exception:  # memory_analysis is backend-dependent
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--naive-length", type=int, default=4)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/jacobians.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.hidden, args.length, args.naive_length, args.repeats = 128, 200, 20, 3
    H, T, Tn = args.hidden, args.length, args.naive_length

    cell, params, xs = _problem(H, T)
    matfree = jax.jit(lambda p, x: analysis.log_jacobian_norms(
        cell, p, x, method="matfree", k=args.k, sweeps=args.sweeps))
    naive = jax.jit(lambda p, x: jnp.log(naive_jacobian_norms(cell, p, x)))
    dense = jax.jit(lambda p, x: analysis.log_jacobian_norms(cell, p, x, method="dense"))
    product = jax.jit(lambda p, x: naive_product_only(cell, p, x))

    print(f"H = {H}, T = {T}, naive timed on {Tn} steps, k = {args.k}, sweeps = {args.sweeps}, "
          f"{jax.devices()[0].platform}, median of {args.repeats}", flush=True)
    t_naive_short, ref = _median_time(naive, params, xs[:Tn], repeats=args.repeats)
    t_product_short, _ = _median_time(product, params, xs[:Tn], repeats=args.repeats)
    with_dense = H <= 256  # the exact dense method shares the naive method's per-step SVD
    t_dense_short, dense_short = (_median_time(dense, params, xs[:Tn], repeats=args.repeats)
                                  if with_dense else (float("nan"), ref))
    t_mf_short, mf_short = _median_time(matfree, params, xs[:Tn], repeats=args.repeats)
    t_mf, mf_full = _median_time(matfree, params, xs, repeats=args.repeats)
    t_naive_full = t_naive_short / Tn * T

    # the naive product is not rescaled: compare where it is a normal float32 number well away
    # from under/overflow (|log| < 60; below ~ -80 it turns denormal and loses all precision)
    ok = jnp.isfinite(ref) & (jnp.abs(ref) < 60.0)
    n_compared = int(jnp.sum(ok))
    err_naive = float(jnp.max(jnp.where(ok, jnp.abs(mf_short - ref), 0.0)))
    err_dense = (float(jnp.max(jnp.where(ok, jnp.abs(dense_short - ref), 0.0)))
                 if with_dense else None)
    memory = {}
    for t in sorted({max(T // 4, 1), max(T // 2, 1), T, 4 * T, 16 * T}):
        xs_t = jnp.zeros((t, xs.shape[1]), xs.dtype)  # compiled, never run: only the shape matters
        memory[t] = {
            "matfree": _memory_bytes(matfree, params, xs_t),
            "matfree_temporaries": _memory_bytes(matfree, params, xs_t, temporaries_only=True),
            "naive": _memory_bytes(naive, params, xs_t),
        }

    rows = [
        ("naive jacfwd+matmul+norm", Tn, t_naive_short, "measured"),
        ("naive without the SVD", Tn, t_product_short, "measured (jacfwd + matmul only)"),
        ("dense (library, exact)", Tn, t_dense_short,
         "measured" if with_dense else "skipped for H > 256 (same SVD per step)"),
        ("matfree (library)", Tn, t_mf_short, "measured"),
        ("naive jacfwd+matmul+norm", T, t_naive_full, f"extrapolated: {Tn}-step time × {T}/{Tn}"),
        ("matfree (library)", T, t_mf, "measured"),
    ]
    print(f"\n{'method':28s} {'T':>6s} {'median s':>10s}  note")
    for name, t, sec, note in rows:
        print(f"{name:28s} {t:6d} {sec:10.3f}  {note}")
    print(f"\nspeed-up matfree vs naive at T = {Tn} (same run, measured): "
          f"{t_naive_short / t_mf_short:.1f}x")
    print(f"speed-up matfree vs naive at T = {T} (naive extrapolated):   "
          f"{t_naive_full / t_mf:.1f}x")
    print(f"max |log-norm difference| on the {n_compared} of the first {Tn} steps where the naive "
          f"product is a normal float (|log| < 60): matfree vs naive {err_naive:.2e}"
          + ("" if err_dense is None else f", dense vs naive {err_dense:.2e}"))
    print("\nXLA memory (temporaries + arguments + outputs), MiB:")
    for t, m in memory.items():
        fmt = lambda b: "n/a" if b is None else f"{b / 2**20:.1f}"
        print(f"  T = {t:5d}: matfree {fmt(m['matfree'])} (temporaries "
              f"{fmt(m['matfree_temporaries'])}), naive {fmt(m['naive'])}")

    result = {
        "hidden": H, "length": T, "naive_length": Tn, "k": args.k, "sweeps": args.sweeps,
        "repeats": args.repeats, "platform": jax.devices()[0].platform,
        "seconds": {"naive_short": t_naive_short, "naive_product_only_short": t_product_short,
                    "dense_short": None if not with_dense else t_dense_short,
                    "matfree_short": t_mf_short, "matfree_full": t_mf,
                    "naive_full_extrapolated": t_naive_full},
        "speedup_same_length": t_naive_short / t_mf_short,
        "speedup_full_extrapolated": t_naive_full / t_mf,
        "max_abs_log_error_vs_naive": {"matfree": err_naive, "dense": err_dense,
                                       "steps_compared": n_compared},
        "memory_bytes": {str(t): m for t, m in memory.items()},
        "log_norm_at_T": float(mf_full[-1]),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
