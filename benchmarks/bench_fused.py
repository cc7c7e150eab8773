"""Forward+backward of Elman / LSTM / GRU layers: rnnjax scan, rnnjax fused, cuDNN, Flax, PyTorch.

    python -m benchmarks.bench_fused              # the four shapes below, on the default device
    python -m benchmarks.bench_fused --smoke      # tiny shapes, one repeat (checks it runs)

At each ``(B, T, I, H)`` in {(16, 1000, 32, 32), (64, 128, 256, 256), (64, 1000, 2, 128),
(1, 10 000, 4, 64)} and for each cell, one jitted call computes the loss ``mean(ys²)`` of a
batch-first sequence and its gradient w.r.t. all parameters, for:

- ``scan``: ``rnnjax.unroll(method="scan")`` (``lax.scan``, input projection hoisted on GPU);
- ``fused``: ``rnnjax.unroll(method="fused")`` (the Pallas kernels of :mod:`rnnjax.fused`;
  interpret mode on CPU, so only ``--smoke`` makes sense there);
- ``cudnn``: ``rnnjax.unroll(method="cudnn")`` (LSTM, GPU only);
- ``flax``: ``flax.linen.RNN`` with ``OptimizedLSTMCell`` / ``GRUCell`` / ``SimpleCell``;
- ``torch``: ``torch.nn.LSTM`` / ``GRU`` / ``RNN(tanh)`` (cuDNN on a GPU) when torch is
  installed, batch-first, the same loss, ``backward()`` through the parameters.

The methods of a row are timed interleaved in one process (each reports the median of its
repeats, at most ``--repeats`` and fewer when the slowest method of the row would take over a
second), so a slow period of the machine hits all of them alike. All float32; matrix products
at full float32 precision (``jax.default_matmul_precision("highest")``, PyTorch with TF32 off),
so every method computes the same function. Each row also records the largest difference of
``fused`` and ``cudnn`` from ``scan`` (loss and every gradient, relative to the gradient's
largest entry) and, for a method that fails to compile or run, its error instead of a time.

Writes ``benchmarks/results/fused_<device>.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import rnnjax

ROW_SECONDS = 1.0  # repeats (at least 3) are cut so the slowest method of a row runs about this long
SHAPES = [(16, 1000, 32, 32), (64, 128, 256, 256), (64, 1000, 2, 128), (1, 10_000, 4, 64)]
SMOKE_SHAPES = [(2, 5, 3, 4)]
CELLS = {
    "lstm": (rnnjax.cells.lstm, nn.OptimizedLSTMCell, "LSTM"),
    "gru": (rnnjax.cells.gru, nn.GRUCell, "GRU"),
    "elman": (rnnjax.cells.elman, nn.SimpleCell, "RNN"),
}


def rnnjax_fn(name: str, H: int, xs, method: str):
    cell = CELLS[name][0](H)
    params = cell.init(jax.random.key(0), xs.shape[-1])
    loss = lambda p, xs: jnp.mean(rnnjax.unroll(cell, p, xs, method=method)[1] ** 2)
    f = jax.jit(jax.value_and_grad(loss))
    return (lambda: f(params, xs)), jax.block_until_ready


def flax_fn(name: str, H: int, xs):
    model = nn.RNN(CELLS[name][1](H))
    params = model.init(jax.random.key(0), xs)
    f = jax.jit(jax.value_and_grad(lambda p, xs: jnp.mean(model.apply(p, xs) ** 2)))
    return (lambda: f(params, xs)), jax.block_until_ready


def torch_fn(name: str, H: int, xs):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    layer = getattr(torch.nn, CELLS[name][2])(xs.shape[-1], H, batch_first=True).to(device)
    x = torch.from_numpy(np.asarray(xs)).to(device)

    def run():
        layer.zero_grad(set_to_none=True)
        loss = layer(x)[0].pow(2).mean()
        loss.backward()
        return loss

    def ready(_):
        if device == "cuda":
            torch.cuda.synchronize()

    return run, ready


def methods(name: str, H: int, xs, smoke: bool) -> dict:
    """Constructors of the callables to time, by method name."""
    gpu = jax.default_backend() == "gpu"
    out = {"scan": lambda: rnnjax_fn(name, H, xs, "scan"),
           "fused": lambda: rnnjax_fn(name, H, xs, "fused"),
           "flax": lambda: flax_fn(name, H, xs)}
    if name == "lstm" and gpu:
        out["cudnn"] = lambda: rnnjax_fn(name, H, xs, "cudnn")
    try:
        import torch  # noqa: F401
        out["torch"] = lambda: torch_fn(name, H, xs)
    except ImportError:
        pass
    if not gpu and not smoke:
        out.pop("fused")  # interpret mode: a correctness check, not a speed
    return out


def max_difference(reference, other) -> float:
    """Largest ``|a − b| / max|a|`` over the loss and every gradient leaf."""
    worst = 0.0
    for a, b in zip(jax.tree.leaves(reference), jax.tree.leaves(other), strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        worst = max(worst, float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30)))
    return worst


def row(name: str, shape, repeats: int, smoke: bool) -> dict:
    B, T, I, H = shape
    xs = jax.random.normal(jax.random.key(1), (B, T, I))
    result = {"cell": name, "B": B, "T": T, "I": I, "H": H, "ms": {}, "compile_s": {},
              "max_rel_diff_vs_scan": {}, "errors": {}}
    ready_fns, outputs = {}, {}
    for method, build in methods(name, H, xs, smoke).items():
        try:
            t0 = time.perf_counter()
            fn, ready = build()
            out = fn()
            ready(out)
            result["compile_s"][method] = time.perf_counter() - t0
            ready_fns[method], outputs[method] = (fn, ready), out
        except Exception as e:  # a kernel that does not compile here is a result, not a crash
            result["errors"][method] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
    for method in ("fused", "cudnn"):
        if method in outputs and "scan" in outputs:
            result["max_rel_diff_vs_scan"][method] = max_difference(outputs["scan"], outputs[method])
    times = {m: [] for m in ready_fns}
    for method, (fn, ready) in ready_fns.items():  # one timed call each sizes the repeats
        t0 = time.perf_counter()
        ready(fn())
        times[method].append(time.perf_counter() - t0)
    slowest = max((v[0] for v in times.values()), default=0.0)
    result["repeats"] = min(repeats, max(3, math.ceil(ROW_SECONDS / max(slowest, 1e-9))))
    for _ in range(result["repeats"] - 1):
        for method, (fn, ready) in ready_fns.items():
            t0 = time.perf_counter()
            ready(fn())
            times[method].append(time.perf_counter() - t0)
    result["ms"] = {m: 1e3 * statistics.median(v) for m, v in times.items()}
    ms = result["ms"]
    for base in ("flax", "torch", "cudnn", "scan"):
        if base in ms and "fused" in ms:
            result.setdefault("fused_speedup", {})[base] = ms[base] / ms["fused"]
    print(f"{name:5s} B={B} T={T} I={I} H={H}: "
          + "  ".join(f"{m} {t:.3f} ms" for m, t in ms.items())
          + "".join(f"  [{m} failed: {e}]" for m, e in result["errors"].items()), flush=True)
    return result


def device_name() -> str:
    return re.sub(r"[^a-z0-9]+", "_", jax.devices()[0].device_kind.lower()).strip("_")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, one repeat")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--budget-s", type=float, default=360.0,
                        help="skip the remaining rows once this much time has passed")
    parser.add_argument("--cells", default="lstm,gru,elman")
    parser.add_argument("--out", default=None, help="default benchmarks/results/fused_<device>.json")
    args = parser.parse_args(argv)
    cells = args.cells.split(",")
    if not set(cells) <= set(CELLS) or args.repeats < 1:
        parser.error(f"--cells must be a comma list of {sorted(CELLS)} and --repeats ≥ 1")
    shapes = SMOKE_SHAPES if args.smoke else SHAPES
    repeats = 1 if args.smoke else args.repeats
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    report = {"platform": jax.default_backend(), "device": jax.devices()[0].device_kind,
              "cpu_count": os.cpu_count(), "machine": platform.machine(), "jax": jax.__version__,
              "torch": torch_version, "precision": "highest (float32, no TF32)",
              "loss": "mean(ys**2), value and gradient w.r.t. all parameters",
              "smoke": args.smoke, "repeats": repeats, "rows": [], "skipped": []}
    out = Path(args.out or f"benchmarks/results/fused_{device_name()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with jax.default_matmul_precision("highest"):
        for shape in shapes:
            for name in cells:
                if time.perf_counter() - start > args.budget_s:
                    report["skipped"].append({"cell": name, "shape": list(shape)})
                else:
                    report["rows"].append(row(name, shape, repeats, args.smoke))
                out.write_text(json.dumps(report, indent=1) + "\n")  # kept if a later row hangs
    print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
