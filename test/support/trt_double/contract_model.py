# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A tiny model that follows the engine contract, for tests that need no real DISK: its outputs are computed from
slices of the input pixels, exactly reproducible in numpy, so the data flow through the TensorRT double (and a real
engine) can be checked exactly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def tiny_model_info(**overrides: Any) -> Any:
    """A :class:`~disk_trt_ros.contract.ModelInfo` for :func:`make_contract_onnx`: 32x32 rgb float32, K=8."""
    from disk_trt_ros.contract import InputFormat, ModelInfo, TrtCompat

    settings: dict[str, Any] = dict(
        height=32,
        width=32,
        max_keypoints=8,
        input_format=InputFormat.RGB,
        input_dtype="float32",
        nms_window=5,
        score_threshold=0.0,
        trt_compat=TrtCompat.TRT_8_2,
        weights="random:0",
        weights_sha256="ab" * 32,
        package_version="0.1.0",
    )
    settings.update(overrides)
    return ModelInfo(**settings)


# Ways to break the contract: the output changed, the operator and the constant applied to it.
VIOLATIONS: dict[str, tuple[str, str, float]] = {
    "non-finite descriptors": ("descriptors", "Mul", float("nan")),  # what a checkpoint with NaN biases gives
    "non-finite keypoints": ("keypoints", "Mul", float("inf")),
    "keypoints outside the frame": ("keypoints", "Mul", 2.0),  # only where a coordinate's pixel is above 127
    "ascending scores": ("scores", "Mul", -1.0),
    "descriptors not of unit length": ("descriptors", "Mul", 2.0),
    "count above K": ("num_keypoints", "Add", 1000.0),
}


def make_contract_onnx(path: str | os.PathLike[str], info: Any, violation: str | None = None) -> None:
    """Write an ONNX model with the contract's input and outputs and ``info``'s metadata whose outputs are computed
    from slices of the input pixels, so data flow can be checked exactly (:func:`expected_outputs`); with
    ``violation`` (a key of :data:`VIOLATIONS`), outputs that break the contract that way instead.

    With ``flat`` the input flattened to float32: ``keypoints = flat[:2K] * (min(H, W) - 1) / 255`` (inside the
    frame), ``scores`` = the K largest of ``flat[:K] / 255``, descending, ``descriptors`` = the rows of
    ``flat[:128K] + 1`` divided by their L2 norms (integer sums of squares below 2^24, so exact in any order),
    ``num_keypoints = min(flat[0], K)``. Needs ``H * W * C >= 128 * K``.
    """
    import onnx
    from onnx import TensorProto, helper

    from disk_trt_ros.contract import DESCRIPTOR_DIM, INPUT_NAME, OUTPUT_NAMES

    k = info.max_keypoints
    if info.height * info.width * info.input_format.channels < DESCRIPTOR_DIM * k:
        raise ValueError("make_contract_onnx needs H * W * C >= 128 * K")

    def constant(name: str, values: list[float] | list[int], dtype: Any) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, dtype, [len(values)], values))

    def take(output: str, count: int, shape: list[int]) -> list[onnx.NodeProto]:
        return [
            constant(f"{output}_end", [count], TensorProto.INT64),
            helper.make_node("Slice", ["flat", "zero", f"{output}_end", "one"], [f"{output}_flat"]),
            constant(f"{output}_shape", shape, TensorProto.INT64),
            helper.make_node("Reshape", [f"{output}_flat", f"{output}_shape"], [f"{output}_raw"]),
        ]

    elem_type = TensorProto.UINT8 if info.input_dtype == "uint8" else TensorProto.FLOAT
    nodes = [
        helper.make_node("Cast", [INPUT_NAME], ["pixels"], to=TensorProto.FLOAT),
        constant("flat_shape", [1, -1], TensorProto.INT64),
        helper.make_node("Reshape", ["pixels", "flat_shape"], ["flat"]),
        constant("zero", [0], TensorProto.INT64),
        constant("one", [1], TensorProto.INT64),
        constant("one_float", [1.0], TensorProto.FLOAT),
        constant("scale", [255.0], TensorProto.FLOAT),
        constant("to_frame", [keypoint_scale(info)], TensorProto.FLOAT),
        constant("k", [float(k)], TensorProto.FLOAT),
        constant("k_int", [k], TensorProto.INT64),
        *take("keypoints", 2 * k, [1, k, 2]),
        helper.make_node("Mul", ["keypoints_raw", "to_frame"], ["keypoints_valid"]),
        *take("scores", k, [1, k]),
        helper.make_node("Div", ["scores_raw", "scale"], ["scores_unsorted"]),
        helper.make_node("TopK", ["scores_unsorted", "k_int"], ["scores_valid", "scores_order"], axis=-1),
        *take("descriptors", DESCRIPTOR_DIM * k, [1, k, DESCRIPTOR_DIM]),
        helper.make_node("Add", ["descriptors_raw", "one_float"], ["descriptors_positive"]),
        helper.make_node("ReduceL2", ["descriptors_positive"], ["descriptor_norms"], axes=[-1], keepdims=1),
        helper.make_node("Div", ["descriptors_positive", "descriptor_norms"], ["descriptors_valid"]),
        *take("count", 1, [1]),
        helper.make_node("Min", ["count_raw", "k"], ["count_clipped"]),
        helper.make_node("Cast", ["count_clipped"], ["num_keypoints_valid"], to=TensorProto.INT32),
    ]
    broken, operator, value = VIOLATIONS[violation] if violation else ("", "", 0.0)
    for name in OUTPUT_NAMES:
        if name == broken:
            dtype = TensorProto.INT32 if name == "num_keypoints" else TensorProto.FLOAT
            nodes += [constant("violation", [int(value) if dtype == TensorProto.INT32 else value], dtype),
                      helper.make_node(operator, [f"{name}_valid", "violation"], [name])]
        else:
            nodes.append(helper.make_node("Identity", [f"{name}_valid"], [name]))
    outputs = [
        helper.make_tensor_value_info(name, dtype, list(shape))
        for name, dtype, shape in (
            ("keypoints", TensorProto.FLOAT, info.output_shapes()["keypoints"]),
            ("scores", TensorProto.FLOAT, info.output_shapes()["scores"]),
            ("descriptors", TensorProto.FLOAT, info.output_shapes()["descriptors"]),
            ("num_keypoints", TensorProto.INT32, info.output_shapes()["num_keypoints"]),
        )
    ]
    graph = helper.make_graph(
        nodes, "contract", [helper.make_tensor_value_info(INPUT_NAME, elem_type, list(info.input_shape))], outputs
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="trt_double")
    model.ir_version = 7
    for key, value in info.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    Path(path).write_bytes(model.SerializeToString())


def keypoint_scale(info: Any) -> float:
    """What the tiny model multiplies pixel values by to make keypoint coordinates: 255 lands on the frame's edge."""
    import numpy as np

    return float(np.float32(min(info.height, info.width) - 1) / np.float32(255))


def expected_outputs(image: Any, info: Any) -> tuple[Any, Any, Any]:
    """The keypoints, scores and descriptors :func:`make_contract_onnx`'s model gives for ``image``, its valid
    slots only, computed in numpy as the model computes them."""
    import numpy as np

    k = info.max_keypoints
    flat = image.reshape(-1).astype(np.float32)
    count = min(int(flat[0]), k)
    keypoints = (flat[: 2 * k] * np.float32(keypoint_scale(info))).reshape(k, 2)[:count]
    scores = np.sort(flat[:k] / np.float32(255))[::-1][:count]
    rows = flat[: 128 * k].reshape(k, 128) + np.float32(1)
    descriptors = (rows / np.sqrt(np.sum(rows * rows, axis=1, dtype=np.float32, keepdims=True)))[:count]
    return keypoints, scores, descriptors
