# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The heat-map head of an exported DISK graph, rewritten for TensorRT as a sum of taps.

The U-Net's heat-map head is one 5x5 convolution with a single output channel. TensorRT 8.5 runs a convolution with
one output channel on a kernel that wastes most of its tiles: in float32 at 480x640 it took 0.73 ms of a 3.4 ms fp16
engine (docs/tensorrt.md). Written as a 1x1 convolution with one output channel per tap, ``[k*k, C, 1, 1]`` over the
input padded by ``k // 2``, and the sum of each tap's map shifted into place (a Slice each, then Adds, then the
bias), the same products are summed in another order. The graph is otherwise unchanged, the head's nodes keep its
name prefix (``/unet/heatmap_head/``, so the fp16 precision policy treats them as it treated the convolution), and
ONNX Runtime and the PyTorch backend compute what they computed, within float32 rounding (test_heat_head.py).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

HEAT_HEAD = "/unet/heatmap_head/Conv"


def heat_head_as_taps(model: onnx.ModelProto, height: int, width: int) -> onnx.ModelProto:
    """Return a copy of ``model`` whose heat-map head (the node :data:`HEAT_HEAD`, a ``k x k`` convolution with one
    output channel, "same" padding, over a ``[1, C, height, width]`` map) is a ``[k*k, C, 1, 1]`` convolution and the
    sum of its taps; the head's weight and bias initializers are replaced."""
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    graph = rewritten.graph
    position = next((i for i, node in enumerate(graph.node) if node.name == HEAT_HEAD), None)
    if position is None:
        raise ValueError(f"the model has no node {HEAT_HEAD}: not a DISK graph of this exporter")
    head = graph.node[position]
    initializers = {initializer.name: initializer for initializer in graph.initializer}
    weight, bias = (numpy_helper.to_array(initializers[name]) for name in head.input[1:3])
    if weight.shape[0] != 1 or weight.shape[2] != weight.shape[3] or weight.shape[2] % 2 != 1:
        raise ValueError(
            f"{HEAT_HEAD} has weights {weight.shape}; expected one output channel and an odd square kernel"
        )
    kernel = weight.shape[2]
    radius = kernel // 2

    def constant(name: str, value: np.ndarray) -> str:
        graph.initializer.append(numpy_helper.from_array(value, name))
        return name

    taps = np.ascontiguousarray(weight[0].transpose(1, 2, 0).reshape(kernel * kernel, weight.shape[1], 1, 1))
    nodes = [
        helper.make_node(
            "Conv", [head.input[0], constant("heat_w_taps", taps)], ["heat_taps"], name=HEAT_HEAD,
            kernel_shape=[1, 1], pads=[radius] * 4, strides=[1, 1], dilations=[1, 1], group=1,
        )
    ]
    total = ""
    for tap in range(kernel * kernel):
        row, column = divmod(tap, kernel)
        starts = constant(f"ht_s{tap}", np.array([tap, row, column], np.int64))
        ends = constant(f"ht_e{tap}", np.array([tap + 1, row + height, column + width], np.int64))
        axes = constant("ht_a0", np.array([1, 2, 3], np.int64)) if tap == 0 else "ht_a0"
        nodes.append(helper.make_node(
            "Slice", ["heat_taps", starts, ends, axes], [f"heat_tap{tap}"], name=f"/unet/heatmap_head/Slice_{tap}"
        ))
        if tap:
            nodes.append(helper.make_node(
                "Add", [total, f"heat_tap{tap}"], [f"heat_sum{tap}"], name=f"/unet/heatmap_head/Add_{tap}"
            ))
        total = f"heat_sum{tap}" if tap else f"heat_tap{tap}"
    nodes.append(helper.make_node(
        "Add", [total, constant("heat_bias", bias.reshape(1, 1, 1, 1))], [head.output[0]],
        name="/unet/heatmap_head/Add_bias",
    ))
    del graph.node[position]
    for node in reversed(nodes):
        graph.node.insert(position, node)
    for name in head.input[1:3]:
        graph.initializer.remove(initializers[name])
    onnx.checker.check_model(rewritten)
    return rewritten
