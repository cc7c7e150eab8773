"""The cells benchmark of this checkout against an older commit, interleaved in one process.

    python -m benchmarks.bench_vs_commit --old 44942fd            # the bench_cells shapes
    python -m benchmarks.bench_vs_commit --old HEAD~1 --quick     # a smoke run

On a shared, noisy machine absolute times drift from minute to minute, so two separate runs of
``benchmarks/bench_cells.py`` cannot show a 5 % change. Here the old package (``git archive`` of
``--old`` into a temporary directory) and the new one are imported side by side, and each
repeat times every variant once, one after the other; the table reports the median times and
the ratio ``t_new / t_old`` (below 1: the new code is faster). Each row is the forward and
backward pass of ``mean(ys²)`` as in ``bench_cells`` (not hoisted, and hoisted); a last row per
shape adds ``lengths`` (half the batch at ``T/2``), which the new code pads with the double where.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp

from benchmarks.bench_cells import time_interleaved

ROOT = Path(__file__).resolve().parents[1]


def load_package(path: Path | None):
    """Import ``rnnjax`` from ``path`` (the checkout when ``None``), then forget it in
    ``sys.modules`` so the next import loads a fresh copy; the returned module keeps working."""
    for name in [n for n in sys.modules if n == "rnnjax" or n.startswith("rnnjax.")]:
        del sys.modules[name]
    sys.path.insert(0, str(path or ROOT))
    try:
        module = importlib.import_module("rnnjax")
        importlib.import_module("rnnjax.cells")
    finally:
        sys.path.pop(0)
    for name in [n for n in sys.modules if n == "rnnjax" or n.startswith("rnnjax.")]:
        del sys.modules[name]
    return module


def archive(rev: str, into: Path) -> Path:
    """``rnnjax/`` at ``rev`` extracted under ``into``."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "rnnjax"],
                          check=True, capture_output=True).stdout
    tar_path = into / "old.tar"
    tar_path.write_bytes(data)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into


def grad_fn(rnnjax, name: str, H: int, xs, hoist: bool, lengths):
    cell = getattr(rnnjax.cells, name)(H)
    params = cell.init(jax.random.key(0), xs.shape[-1])

    def loss(p, xs):
        return jnp.mean(rnnjax.unroll(cell, p, xs, lengths=lengths, hoist=hoist)[1] ** 2)

    return jax.jit(jax.value_and_grad(loss)), params


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, help="the git revision to compare against")
    parser.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default="benchmarks/results/cells_vs_commit.json")
    args = parser.parse_args(argv)
    shapes = ([(8, 32, 16, 32)] if args.quick else [(64, 128, 256, 256), (64, 1000, 2, 128)])
    repeats = 2 if args.quick else args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        versions = {"old": load_package(archive(args.old, Path(tmp))), "new": load_package(None)}
        rows = []
        for B, T, I, H in shapes:
            xs = jax.random.normal(jax.random.key(1), (B, T, I))
            half = jnp.where(jnp.arange(B) % 2 == 0, T, T // 2)
            variants = [(c, False, None) for c in ("lstm", "gru", "elman")]
            variants += [(c, True, None) for c in ("lstm", "gru", "elman")]
            variants += [("lstm", False, half)]
            for name, hoist, lengths in variants:
                fns, fargs = {}, {}
                for label, package in versions.items():
                    fns[label], params = grad_fn(package, name, H, xs, hoist, lengths)
                    fargs[label] = (params, xs)
                t = time_interleaved(fns, fargs, repeats)
                rows.append({"cell": name, "hoist": hoist, "lengths": lengths is not None,
                             "B": B, "T": T, "I": I, "H": H, "old_ms": 1e3 * t["old"],
                             "new_ms": 1e3 * t["new"], "ratio": t["new"] / t["old"]})
                r = rows[-1]
                print(f"{name:6s} hoist={hoist!s:5s} lengths={r['lengths']!s:5s} "
                      f"(B, T, I, H)=({B}, {T}, {I}, {H}): old {r['old_ms']:8.1f} ms  "
                      f"new {r['new_ms']:8.1f} ms  new/old {r['ratio']:.3f}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"old": args.old, "jax": jax.__version__,
                                          "repeats": repeats, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
