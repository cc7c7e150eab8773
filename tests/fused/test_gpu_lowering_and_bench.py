"""Without a GPU: the fused kernels lower to Triton for CUDA (Pallas-level checks: tile sizes,
supported operations), and the benchmark runs at a tiny size."""

import json

import jax
import jax.numpy as jnp
import pytest

import rnnjax
from rnnjax.fused import fused_unroll
from rnnjax.fused.kernels import Config


@pytest.mark.slow
@pytest.mark.parametrize("name,H", [("lstm", 32), ("gru", 128), ("elman", 64)])
def test_forward_and_backward_lower_to_triton_kernels(name, H):
    cell = getattr(rnnjax.cells, name)(H)
    params = cell.init(jax.random.key(0), 4)
    lengths, resets = jnp.array([10, 0, 5]), jnp.zeros((3, 10), bool)

    def loss(p, xs, c0):
        _, ys = fused_unroll(cell, p, xs, c0, lengths=lengths, resets=resets, reset_carry=None,
                             reverse=True, return_carries=False, remat=False, cfg=Config())
        return jnp.sum(ys ** 2)

    f = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    text = f.trace(params, jnp.zeros((3, 10, 4)), cell.initial_carry(params, (3,))).lower(
        lowering_platforms=("cuda",)).as_text()
    assert text.count("__gpu$xla.gpu.triton") == 2  # the forward and the backward kernel


@pytest.mark.slow
def test_benchmark_smoke(tmp_path):
    from benchmarks import bench_fused
    out = tmp_path / "fused.json"
    assert bench_fused.main(["--smoke", "--cells", "elman", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    [row] = report["rows"]
    assert set(row["ms"]) >= {"scan", "fused", "flax"} and not row["errors"]
    assert row["max_rel_diff_vs_scan"]["fused"] < 1e-5
