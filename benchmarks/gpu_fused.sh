#!/usr/bin/env bash
# The fused recurrent kernels on a CUDA GPU, in one command from the repository root:
#
#     bash benchmarks/gpu_fused.sh [OUT_DIR]
#
# 1. tests/fused, every tier, on the GPU: the Pallas kernels compile with Triton and equal
#    method="scan" (values, carries, gradients; lengths 0, resets, reverse), and the cuDNN path
#    equals the scan (its tests skip on CPU);
# 2. benchmarks/bench_fused.py at the issue's four shapes (scan, fused, cudnn, flax, torch),
#    writing benchmarks/results/fused_<device>.json.
# Each step has a time limit (about 7 minutes in all); the benchmark skips the rows left when its
# budget runs out and records them. Logs and the report are also copied to OUT_DIR when given.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 JAX_PLATFORMS=cuda JAX_DEFAULT_MATMUL_PRECISION=highest
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # leave GPU memory to PyTorch as well
PY=${PYTHON:-python3}
OUT_DIR=${1:-}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
$PY -c "import jax, flax; print('jax', jax.__version__, jax.devices(), 'flax', flax.__version__)"

timeout 150 $PY -m pytest -q -p no:xdist -p no:cacheprovider tests/fused -m "slow or not slow" \
    2>&1 | tee /tmp/gpu_fused_tests.log
tests_status=${PIPESTATUS[0]}

timeout 300 $PY -m benchmarks.bench_fused --budget-s 230 2>&1 | tee /tmp/gpu_fused_bench.log
bench_status=${PIPESTATUS[0]}

if [ -n "$OUT_DIR" ]; then
    cp /tmp/gpu_fused_tests.log /tmp/gpu_fused_bench.log "$OUT_DIR"/
    cp benchmarks/results/fused_*.json "$OUT_DIR"/ 2>/dev/null || true
fi
echo "tests exit status: $tests_status, benchmark exit status: $bench_status"
[ "$tests_status" -eq 0 ] && [ "$bench_status" -eq 0 ]
