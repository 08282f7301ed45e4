#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
# GPU figures for docs/benchmarks.md ("GPU (H200)"), in one run on a CUDA machine:
#   1. export DISK at 480x640, K=2048 (random:0 weights: same network and cost as pretrained ones);
#   2. `bench --backend torch --compare kornia` in strict fp32 and fp16, each with an eager and a torch.compile'd
#      U-Net: the PyTorch-CUDA backend and kornia's DISK on the same GPU, same photos, same process;
#   3. the CUDA memory layer's tests with the CUDA bindings installed there (and the TensorRT double's tests).
#
# Usage (repository root): scripts/gpu_bench.sh [ITERS]. Results go to $OUT (default out/gpu_bench).
# Python packages missing on the machine (kornia, kornia-rs) may be brought as wheels in .whl/.
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${1:-300}
OUT=${OUT:-out/gpu_bench}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python3}

if compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi

{
    date -u +"date: %Y-%m-%dT%H:%M:%SZ"
    echo "host: $(hostname), $(nproc) CPU cores"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv,noheader
    "$PYTHON" -c 'import sys, torch, kornia, onnx; print(f"python {sys.version.split()[0]}, torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}), kornia {kornia.__version__}, onnx {onnx.__version__}")'
} | tee "$OUT/environment.txt"

MODEL="$OUT/disk_480x640_k2048.onnx"
"$PYTHON" -m disk_trt_ros export --weights random:0 --height 480 --width 640 --max-keypoints 2048 --output "$MODEL"

for run in fp32:eager fp16:eager fp32:compiled fp16:compiled; do
    precision=${run%%:*}
    variant=${run##*:}
    flags=()
    [ "$variant" = compiled ] && flags=(--torch-compile)
    echo "== torch backend, $precision, $variant U-Net vs kornia DISK"
    "$PYTHON" -m disk_trt_ros bench --backend torch --model "$MODEL" --precision "$precision" "${flags[@]}" \
        --iters "$ITERS" --warmup 30 --compare kornia --json "$OUT/bench_torch_${precision}_${variant}.json" 2>&1 \
        | grep -v -E "AUTOTUNE|triton_|strides:|dtypes:|convolution |SingleProcess|Autotune|num_choices"
done

echo "== CUDA memory layer and TensorRT-double tests"
"$PYTHON" -m pytest -q -rs -p no:cacheprovider test/test_cuda_memory.py test/test_tensorrt_backend.py \
    2>&1 | tee "$OUT/pytest.txt"
