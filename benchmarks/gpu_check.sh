#!/usr/bin/env bash
# One prepared command for a CUDA machine: GPU tests, then the image benchmark.
# Run from the repository root. If skorch/mlxtend are missing there, put their
# wheels in .whl/ first (pip download --no-deps skorch mlxtend -d .whl).
# Finishes in under 5 minutes on one H100/H200.
set -euo pipefail
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
status=0
python3 -m pytest -q -m gpu tests/test_gpu.py -p no:cacheprovider -o addopts="" || status=$?
python3 benchmarks/gpu_bench.py --epochs "${EPOCHS:-30}" --cpu-epochs 1 || status=$?
exit $status
