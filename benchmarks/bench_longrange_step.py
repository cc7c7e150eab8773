"""Where the long-range sweep's time goes, and what cuts the per-step overhead on CPU.

    python -m benchmarks.bench_longrange_step            # ~3 min on 2 CPU cores
    python -m benchmarks.bench_longrange_step --quick

One update of the sweep's program is dominated by the gradient of the loss through the scan:
``M`` runs (members), each an LSTM with H = 32 on its own batch of 32 adding-problem sequences of
length T = 100, readout of the last state, MSE. On XLA:CPU a step of such a small RNN is bound by
per-operation overhead (a 32 x 32 x 128 matrix product is ~0.1 MFLOP, microseconds of work), so
the variants differ in how many operations, and of what shape, each time step costs:

- ``map``: the members in turn (``jax.lax.map``), what the study runs on CPU — the reference.
- ``map_unroll4`` / ``map_unroll8``: the same with ``lax.scan(unroll=k)``: k steps per loop
  iteration, fewer loop-carried copies and more fusion across steps.
- ``vmap``: the members batched (``jax.vmap``): one batched matrix product ``(M, B, H) @ (M, H, 4H)``
  per step.
- ``vmap_unroll8``: batched and unrolled.
- ``blockdiag``: the members folded into one state ``(B, M·H)`` and one dense product with the
  block-diagonal ``(M·H, M·4H)`` recurrent matrix per step: M times the FLOPs, but one large GEMM
  instead of M small ones or a batched one.

Each variant computes the same loss and gradients (checked: the largest difference is reported).
Reported: member-updates per second (one forward and backward pass of one run) and the ratio to
``map``, medians of interleaved repeats in one process. Writes
``benchmarks/results/longrange_step.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import rnnjax

RESULT = Path(__file__).resolve().parent / "results" / "longrange_step.json"
H, B, T, M = 32, 32, 100, 8


def _data(key):
    from rnnjax.tasks import adding

    keys = jax.random.split(key, M)
    d = jax.vmap(lambda k: adding.batch(key=k, batch_size=B, length=T))(keys)
    return d.inputs, d.targets  # (M, B, T, 2), (M, B)


def _params(key):
    cell = rnnjax.cells.lstm(H)
    keys = jax.random.split(key, M)
    p = jax.vmap(lambda k: cell.init(k, 2))(keys)
    w_out = jax.random.normal(jax.random.fold_in(key, 1), (M, H)) / jnp.sqrt(H)
    return cell, {"cell": p, "w_out": w_out}


def _member_loss(cell, unroll):
    def loss(p, x, y):
        h, _ = rnnjax.unroll(cell, p["cell"], x, unroll=unroll)
        return jnp.mean((h.h @ p["w_out"] - y) ** 2)
    return loss


def _mapped(cell, unroll):
    grad = jax.value_and_grad(_member_loss(cell, unroll))
    return jax.jit(lambda p, x, y: jax.lax.map(lambda a: grad(*a), (p, x, y)))


def _vmapped(cell, unroll):
    return jax.jit(jax.vmap(jax.value_and_grad(_member_loss(cell, unroll))))


def _blockdiag_loss(p, x, y):
    """All members as one LSTM with a block-diagonal recurrent matrix; the sum of their losses."""
    c = p["cell"]
    eye = jnp.eye(M, dtype=x.dtype)
    w_h = jnp.einsum("mij,mn->minj", c.w_h, eye).reshape(M * H, M * 4 * H)
    xs = jnp.einsum("mbti,mij->tbmj", x, c.w_x) + c.b[None, None]  # (T, B, M, 4H)

    def step(carry, z):
        h, cc = carry
        z = z + (h @ w_h).reshape(B, M, 4 * H)
        i, f, g, o = jnp.split(z, 4, axis=-1)
        cc = jax.nn.sigmoid(f) * cc + jax.nn.sigmoid(i) * jnp.tanh(g)
        hh = jax.nn.sigmoid(o) * jnp.tanh(cc)
        return (hh.reshape(B, M * H), cc), None

    zeros = jnp.zeros((B, M, H), x.dtype)
    (h, _), _ = jax.lax.scan(step, (zeros.reshape(B, M * H), zeros), xs)
    pred = jnp.einsum("bmh,mh->mb", h.reshape(B, M, H), p["w_out"])
    return jnp.sum(jnp.mean((pred - y) ** 2, axis=1))


def _blockdiag():
    vg = jax.value_and_grad(_blockdiag_loss)

    def f(p, x, y):
        total, g = vg(p, x, y)
        return total, g
    return jax.jit(f)


def _time(fn, args, repeats: int, steps: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            r = fn(*args)
        jax.block_until_ready(r)
        out.append((time.perf_counter() - t0) / steps)
    return out


def readme_line(result: dict) -> str:
    """The README's sentence, from a saved result."""
    v = result["variants"]
    shape = result["shape"]
    others = ", ".join(f"{n} {v[n]['ratio_to_map']:.2f}×" for n in v if n != "map")
    return (f"Per-step overhead of the long-range sweep (`python -m benchmarks.bench_longrange_step`, "
            f"{shape['members']} LSTM runs, H = {shape['hidden_size']}, B = {shape['batch_size']}, "
            f"T = {shape['T']}, forward and backward; {result['machine']}): `lax.map` over the runs "
            f"{v['map']['member_updates_per_s']:.0f} run-updates/s; relative to it {others}. "
            "Nothing tried beats running the runs in turn on XLA:CPU.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULT)
    parser.add_argument("--readme", action="store_true", help="print the README sentence of the "
                        "saved result and exit")
    args = parser.parse_args(argv)
    if args.readme:
        print(readme_line(json.loads(args.output.read_text())))
        return 0
    steps, repeats = (3, 3) if args.quick else (10, 7)
    key = jax.random.key(0)
    cell, params = _params(key)
    x, y = _data(jax.random.fold_in(key, 2))
    variants = {"map": _mapped(cell, 1), "map_unroll4": _mapped(cell, 4),
                "map_unroll8": _mapped(cell, 8), "vmap": _vmapped(cell, 1),
                "vmap_unroll8": _vmapped(cell, 8), "blockdiag": _blockdiag()}
    ref_loss, ref_grad = variants["map"](params, x, y)
    diffs = {}
    for name, fn in variants.items():  # compile, and check that every variant computes the same
        loss, grad = fn(params, x, y)
        loss = jnp.sum(loss) if name == "blockdiag" else loss
        ref = jnp.sum(ref_loss) if name == "blockdiag" else ref_loss
        diffs[name] = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
            jax.tree.leaves((loss, grad)), jax.tree.leaves((ref, ref_grad)), strict=True))
    times: dict[str, list[float]] = {n: [] for n in variants}
    for _ in range(repeats):  # interleaved, so that drifting load hits every variant alike
        for name, fn in variants.items():
            times[name] += _time(fn, (params, x, y), 1, steps)
    med = {n: statistics.median(t) for n, t in times.items()}
    result = {
        "machine": f"{jax.device_count()} {jax.default_backend()} device(s), jax {jax.__version__}",
        "shape": {"members": M, "hidden_size": H, "batch_size": B, "T": T, "cell": "lstm"},
        "variants": {n: {"member_updates_per_s": M / med[n], "ratio_to_map": med["map"] / med[n],
                         "max_difference_to_map": diffs[n]} for n in variants},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    for n, v in result["variants"].items():
        print(f"{n:14s} {v['member_updates_per_s']:8.1f} member-updates/s  "
              f"{v['ratio_to_map']:5.2f}x map  (max diff {v['max_difference_to_map']:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
