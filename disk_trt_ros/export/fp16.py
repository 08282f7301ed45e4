# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A float16 copy of an exported model, for checking that the graph survives half precision.

TensorRT's fp16 mode picks per-layer precision itself; this converts every layer, the harsher case, so that
ONNX Runtime can show the graph relies on no value outside float16's range.
"""

from __future__ import annotations

import onnx


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every float tensor and constant in float16, with the contract's float32 inputs and outputs kept."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    return convert_float_to_float16(model, keep_io_types=True)
