"""A tiny model that follows the engine contract, for tests that need no real DISK: its outputs are slices of the
input pixels, so the data flow through the TensorRT double (and a real engine) can be checked exactly."""

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


def make_contract_onnx(path: str | os.PathLike[str], info: Any) -> None:
    """Write an ONNX model with the contract's input and outputs and ``info``'s metadata whose outputs are slices
    of the input pixels, so data flow can be checked exactly.

    With ``flat`` the input flattened to float32: ``keypoints = flat[:2K]``, ``scores = flat[:K] / 255``,
    ``descriptors = flat[:128K] / 255``, ``num_keypoints = min(flat[0], K)``. Needs ``H * W * C >= 128 * K``.
    """
    import onnx
    from onnx import TensorProto, helper

    from disk_trt_ros.contract import DESCRIPTOR_DIM, INPUT_NAME

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
        constant("scale", [255.0], TensorProto.FLOAT),
        constant("k", [float(k)], TensorProto.FLOAT),
        *take("keypoints", 2 * k, [1, k, 2]),
        helper.make_node("Identity", ["keypoints_raw"], ["keypoints"]),
        *take("scores", k, [1, k]),
        helper.make_node("Div", ["scores_raw", "scale"], ["scores"]),
        *take("descriptors", DESCRIPTOR_DIM * k, [1, k, DESCRIPTOR_DIM]),
        helper.make_node("Div", ["descriptors_raw", "scale"], ["descriptors"]),
        *take("count", 1, [1]),
        helper.make_node("Min", ["count_raw", "k"], ["count_clipped"]),
        helper.make_node("Cast", ["count_clipped"], ["num_keypoints"], to=TensorProto.INT32),
    ]
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
