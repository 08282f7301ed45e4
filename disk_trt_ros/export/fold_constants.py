# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Constant folding for exported graphs: TensorRT wants shapes, pads and axes as initializers, not subgraphs."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def fold_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace every node whose inputs are all constant by initializers holding its outputs.

    ``Constant`` nodes become initializers too. Graph outputs are never folded away. ``Slice`` bounds past int32
    (PyTorch writes INT64_MAX for "to the end") become int32's largest value, which slices the same, so that
    TensorRT, which holds indices in int32, has nothing to clamp. Returns a new model.
    """
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    graph = folded.graph
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    graph_outputs = {output.name for output in graph.output}
    opset = next(o.version for o in folded.opset_import if o.domain in ("", "ai.onnx"))
    kept: list[onnx.NodeProto] = []
    for node in graph.node:
        inputs = [name for name in node.input if name]
        foldable = node.domain in ("", "ai.onnx") and all(name in values for name in inputs)
        if foldable and not graph_outputs & set(node.output):
            for name, value in zip(node.output, _evaluate(node, [values[name] for name in inputs], opset)):
                values[name] = value
        else:
            kept.append(node)
    for node in kept:
        if node.op_type == "Slice":
            for name in node.input[1:3]:
                if name in values:
                    values[name] = np.clip(values[name], INT32_MIN, INT32_MAX).astype(values[name].dtype)
    used = {name for node in kept for name in node.input} | graph_outputs
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(
        numpy_helper.from_array(np.asarray(values[name]), name) for name in sorted(used & set(values))
    )
    del graph.value_info[:]
    return folded


def _evaluate(node: onnx.NodeProto, inputs: list[np.ndarray], opset: int) -> list[np.ndarray]:
    input_names = [name for name in node.input if name]
    single = onnx.helper.make_model(
        onnx.helper.make_graph(
            [node],
            "fold",
            [onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(value.dtype), value.shape)
             for name, value in zip(input_names, inputs)],
            [onnx.helper.make_empty_tensor_value_info(name) for name in node.output],
        ),
        opset_imports=[onnx.helper.make_opsetid("", opset)],
    )
    return ReferenceEvaluator(single).run(None, dict(zip(input_names, inputs)))
