#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
# The "TensorRT 8.5" table of docs/benchmarks.md in one call, on a GPU machine: kornia's DISK, the compiled fp16
# PyTorch backend and the TensorRT backend (fp32 and fp16) on every model of CHECK_DIR, one after the other on the
# same GPU.
#
# Usage: PY39=python-with-tensorrt PYTHON=python-with-torch-and-kornia \
#            scripts/tensorrt_table.sh CHECK_DIR OUT_DIR IMAGES_DIR [ITERS]
#   CHECK_DIR: what `scripts/tensorrt_check.py prepare` wrote (models, photographs and references);
#   OUT_DIR: gets torch.json, tensorrt.json, timing.cache, table.md (docs/benchmarks.md) and tensorrt.md
#            (docs/tensorrt.md);
#   ITERS: timed frames per figure (default 200).
# Where TensorRT's environment must not reach PyTorch's process (the bundle's /root/trt85/env.sh sets
# LD_LIBRARY_PATH), make PY39 a script that sources it and runs its Python (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=$1 OUT=$2 IMAGES=$3 ITERS=${4:-200}
PY39=${PY39:-python3} PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
"$PYTHON" scripts/benchmark_table.py torch "$CHECK" --out "$OUT/torch.json" --iters "$ITERS" --images "$IMAGES" 2>&1 \
    | { grep -v -E "AUTOTUNE|triton_|strides:|dtypes:|convolution |SingleProcess|Autotune|num_choices" || true; }
"$PY39" scripts/tensorrt_check.py run "$CHECK" --out "$OUT/tensorrt.json" --timing-cache "$OUT/timing.cache" \
    --iters "$ITERS"
"$PYTHON" scripts/benchmark_table.py render "$OUT/torch.json" "$OUT/tensorrt.json" | tee "$OUT/table.md"
"$PYTHON" scripts/tensorrt_check.py report "$OUT/tensorrt.json" > "$OUT/tensorrt.md"
