# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""What the builder does to the parsed network before it builds: the model's precision policy, and a float32
image input bound as uint8 where TensorRT allows it (see :mod:`~disk_trt_ros.inference.tensorrt.builder`)."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

from disk_trt_ros.contract import INPUT_NAME, PrecisionPolicy


def apply_precision_policy(trt: ModuleType, network: Any, config: Any, policy: PrecisionPolicy) -> int:
    """Constrain the layers ``policy`` names and make TensorRT obey; returns how many were constrained to compute in
    float32.

    Only layers with a floating-point input are touched (layers of integers and constants are left alone). A layer
    of ``policy.fp32_layers`` (``fp16_layers``) computes in float32 (float16); the float32 layers and those of
    ``policy.fp32_outputs`` write their floating-point outputs as float32. A float16 layer that must write float32
    gets a cast after it instead (an identity layer whose output is float32, which its consumers then read):
    TensorRT 8.5 has no implementation of a float16 convolution writing float32 under obeyed constraints.
    """
    floats = (trt.float32, trt.float16)
    compute = [(re.compile(pattern), trt.float32) for pattern in policy.fp32_layers]
    compute += [(re.compile(pattern), trt.float16) for pattern in policy.fp16_layers]
    write = [re.compile(pattern) for pattern in policy.fp32_outputs]
    constrained = fp32_layers = 0
    for index in range(network.num_layers):  # the casts added below come after these and are not revisited
        layer = network.get_layer(index)
        inputs = [layer.get_input(i) for i in range(layer.num_inputs)]
        if layer.type == trt.LayerType.CONSTANT or not any(t is not None and t.dtype in floats for t in inputs):
            continue
        precision = next((dtype for pattern, dtype in compute if pattern.search(layer.name)), None)
        outputs_float32 = precision == trt.float32 or any(pattern.search(layer.name) for pattern in write)
        if precision is None and not outputs_float32:
            continue
        if precision is not None:
            layer.precision = precision
        for output in range(layer.num_outputs) if outputs_float32 else ():
            if layer.get_output(output).dtype not in floats:
                continue
            if precision == trt.float16:
                _cast_to_float32(trt, network, layer.get_output(output), f"{layer.name} to float32")
            else:
                layer.set_output_type(output, trt.float32)
        constrained += 1
        if precision == trt.float32:
            fp32_layers += 1
    if constrained:
        obey = getattr(trt.BuilderFlag, "OBEY_PRECISION_CONSTRAINTS", None)
        config.set_flag(obey if obey is not None else trt.BuilderFlag.STRICT_TYPES)
    return fp32_layers


def _cast_to_float32(trt: ModuleType, network: Any, tensor: Any, name: str) -> None:
    """Insert an identity layer writing ``tensor`` as float32 and make every other reader of ``tensor`` read it."""
    cast = network.add_identity(tensor)
    cast.name = name
    cast.set_output_type(0, trt.float32)
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        if layer.name == name:
            continue
        for position in range(layer.num_inputs):
            read = layer.get_input(position)
            if read is not None and read.name == tensor.name:
                layer.set_input(position, cast.get_output(0))


def bind_image_as_uint8(trt: ModuleType, network: Any) -> str:
    """A float32 ``image`` input made uint8 where TensorRT has uint8 I/O (8.5 on): its dtype (a matcher: float32)."""
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        if tensor.name != INPUT_NAME:
            continue
        if tensor.dtype == trt.float32 and hasattr(trt, "uint8"):
            tensor.dtype = trt.uint8
        return "uint8" if tensor.dtype == getattr(trt, "uint8", None) else "float32"
    return "float32"
