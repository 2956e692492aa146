#!/usr/bin/env bash
# The GPU measurements in one run, for a machine with one NVIDIA GPU whose Python already has jax (with its CUDA
# plugin), flax, optax, orbax, pyarrow and rich but not zstandard: wheels in .whl/ are installed first, e.g.
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d .whl zstandard==0.25.0
# Writes mfu.json / mfu.log (gecko-1b, document masking, the first batch layout that fits) and mfu_causal.json /
# causal.log (plain causal attention, 16 rows, no remat) under $OUT (default benchmarks/out/gpu).
# Usage: bash benchmarks/gpu_check.sh      (about 4 to 8 minutes; each run has its own time limit)
set -u
cd "$(dirname "$0")/.."
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gecko-site \
        .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/gecko-site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
out="${OUT:-benchmarks/out/gpu}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import jax, flax, optax; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, jax.devices())"
timeout 330 python3 benchmarks/gpu_pretrain_mfu.py --json "$out/mfu.json" 2>&1 | grep -v '^\*\*\*\|^$' | tee "$out/mfu.log"
timeout 150 python3 benchmarks/gpu_pretrain_mfu.py --no-doc-mask --rows 16 --remat off --json "$out/mfu_causal.json" \
    2>&1 | grep -v '^\*\*\*\|^$' | tee "$out/causal.log"
