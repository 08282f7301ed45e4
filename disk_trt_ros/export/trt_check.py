# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``check``: a static check of an ONNX model against a TensorRT ONNX parser's documented support.

The support data (``disk_trt_ros/data/tensorrt_onnx_support.json``) is derived by
``scripts/derive_trt_support.py`` from the parser's operator matrices. The check covers what a parse would reject
or what would stop the graph from being static: the opset, operators and their data types, binding types, dynamic
shapes, shape-dependent subgraphs, and the per-operator restrictions that matter for DISK (constant TopK K and its
limit, constant axes, initializer weights, Resize modes, MaxPool indices). Passing it is necessary, not
sufficient: only a real TensorRT build proves a model builds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from functools import cache
from importlib import resources
from typing import Any, Iterable

import numpy as np
import onnx
from onnx import numpy_helper

from disk_trt_ros.onnx_files import load_onnx_model

DATA_FILE = "tensorrt_onnx_support.json"
SHAPE_DEPENDENT_OPS = {"Shape", "Size", "NonZero", "Unique", "Compress", "Loop", "If", "Scan"}
# Inputs that must be constants, by operator: (input index, what it is).
CONSTANT_INPUTS = {
    "Conv": ((1, "weights W"),),
    "InstanceNormalization": ((1, "scale"), (2, "bias B")),
    "Slice": ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps")),
    "Squeeze": ((1, "axes"),),
    "Unsqueeze": ((1, "axes"),),
    "Pad": ((1, "pads"), (2, "constant_value")),
    "ReduceSum": ((1, "axes"),),
    "TopK": ((1, "K"),),
    "Reshape": ((1, "shape"),),
    "Expand": ((1, "shape"),),
    "ConstantOfShape": ((0, "shape"),),
}
# The tensor whose type the support matrix's "types" column describes (default: the first input).
TYPED_TENSOR = {"Where": ("input", 1), "ConstantOfShape": ("output", 0)}
RESIZE_COORDINATE_MODES = {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"}
RESIZE_MODES = {"nearest", "linear"}


@dataclasses.dataclass(frozen=True)
class Violation:
    """One reason the parser would reject the model (or the graph is not static)."""

    node: str
    op: str
    reason: str

    def __str__(self) -> str:
        return f"{self.node} ({self.op}): {self.reason}"


@cache
def support_data() -> dict[str, Any]:
    """The TensorRT ONNX operator support matrix shipped with the package (``data/tensorrt_onnx_support.json``)."""
    return json.loads(resources.files("disk_trt_ros").joinpath("data", DATA_FILE).read_text())


def parser_versions() -> list[str]:
    """The TensorRT versions the support matrix describes (``--trt`` choices)."""
    return sorted(support_data()["parsers"])


def check_model(model: onnx.ModelProto, trt: str = "8.2") -> list[Violation]:
    """Every violation of parser ``trt``'s documented rules in ``model`` (empty: none found)."""
    rules = support_data()["parsers"][trt]
    model = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    graph = model.graph
    constants = _constant_values(graph)
    types = _value_types(graph)
    violations = list(_check_opset(model, rules))
    violations += _check_bindings(graph, rules)
    for index, node in enumerate(graph.node):
        name = node.name or f"node_{index}"
        problems = _node_problems(node, rules, constants, types)
        violations += [Violation(name, node.op_type, reason) for reason in problems]
    return violations


def _check_opset(model: onnx.ModelProto, rules: dict[str, Any]) -> Iterable[Violation]:
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and not rules["opset_min"] <= opset.version <= rules["opset_max"]:
            yield Violation(
                "model", "opset",
                f"opset {opset.version} outside the parser's {rules['opset_min']}..{rules['opset_max']}",
            )


def _check_bindings(graph: onnx.GraphProto, rules: dict[str, Any]) -> Iterable[Violation]:
    initializers = {init.name for init in graph.initializer}
    for kind, values in (("input", graph.input), ("output", graph.output)):
        for value in values:
            if value.name in initializers:
                continue
            dtype = _type_name(value.type.tensor_type.elem_type)
            if dtype not in rules["binding_types"]:
                yield Violation(value.name, f"graph {kind}", f"binding type {dtype} not in {rules['binding_types']}")
            dims = value.type.tensor_type.shape.dim
            if not dims and kind == "input":
                yield Violation(value.name, f"graph {kind}", "shape unknown: a static engine needs fixed dimensions")
            for dim in dims:
                if not dim.HasField("dim_value") or dim.dim_value <= 0:
                    yield Violation(value.name, f"graph {kind}", "dynamic dimension: every dimension must be fixed")


def _node_problems(
    node: onnx.NodeProto, rules: dict[str, Any], constants: dict[str, np.ndarray], types: dict[str, str]
) -> Iterable[str]:
    if node.domain not in ("", "ai.onnx"):
        yield f"custom domain '{node.domain}' needs a TensorRT plugin"
        return
    entry = rules["operators"].get(node.op_type)
    if entry is None or not entry["supported"]:
        yield "operator not supported by this parser"
        return
    if node.op_type in SHAPE_DEPENDENT_OPS:
        yield "shape-dependent subgraph: the output depends on tensor shapes or data at run time"
    yield from _type_problems(node, entry, rules, types)
    for index, what in CONSTANT_INPUTS.get(node.op_type, ()):
        if index < len(node.input) and node.input[index] and node.input[index] not in constants:
            yield f"{what} (input {index}) must be an initializer or a constant"
    yield from _op_specific_problems(node, rules, constants)


def _type_problems(
    node: onnx.NodeProto, entry: dict[str, Any], rules: dict[str, Any], types: dict[str, str]
) -> Iterable[str]:
    side, index = TYPED_TENSOR.get(node.op_type, ("input", 0))
    tensors = node.input if side == "input" else node.output
    checked = [tensors[index]] if index < len(tensors) and tensors[index] else []
    if node.op_type == "Cast":
        checked += list(node.output)
    for name in checked:
        dtype = types.get(name)
        if dtype is None or not entry["types"]:
            continue
        effective = rules["cast_down"].get(dtype, dtype)
        if effective not in entry["types"]:
            yield f"tensor '{name}' is {dtype}; this operator takes {', '.join(entry['types'])}"


def _op_specific_problems(
    node: onnx.NodeProto, rules: dict[str, Any], constants: dict[str, np.ndarray]
) -> Iterable[str]:
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "TopK" and len(node.input) > 1 and node.input[1] in constants:
        k = int(np.asarray(constants[node.input[1]]).reshape(-1)[0])
        if k > rules["topk_max_k"]:
            yield f"K={k} exceeds the TopK layer's limit of {rules['topk_max_k']}"
    if node.op_type == "MaxPool" and len([o for o in node.output if o]) > 1:
        yield "the Indices output is not supported"
    if node.op_type in ("MaxPool", "AveragePool", "Conv") and len(attributes.get("kernel_shape", [0, 0])) not in (2, 3):
        yield "only 2D and 3D kernels are supported"
    if node.op_type == "Resize":
        mode = _text(attributes.get("mode", b"nearest"))
        coordinates = _text(attributes.get("coordinate_transformation_mode", b"half_pixel"))
        if mode not in RESIZE_MODES:
            yield f"resize mode '{mode}' not supported"
        if coordinates not in RESIZE_COORDINATE_MODES:
            yield f"coordinate transformation mode '{coordinates}' not supported"


def _constant_values(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attribute.t)
                elif attribute.name in ("value_int", "value_ints", "value_float", "value_floats"):
                    values[node.output[0]] = np.asarray(onnx.helper.get_attribute_value(attribute))
    return values


def _value_types(graph: onnx.GraphProto) -> dict[str, str]:
    types = {}
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        if value.type.tensor_type.elem_type:
            types[value.name] = _type_name(value.type.tensor_type.elem_type)
    for init in graph.initializer:
        types[init.name] = _type_name(init.data_type)
    return types


def _type_name(elem_type: int) -> str:
    if elem_type == onnx.TensorProto.BFLOAT16:
        return "bfloat16"
    return str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``check``'s arguments to ``parser`` (called by :mod:`disk_trt_ros.cli`'s registry)."""
    parser.add_argument("model", help="ONNX model to check")
    parser.add_argument("--trt", choices=parser_versions(), default="8.2", help="TensorRT parser version (default 8.2)")


def main(args: argparse.Namespace) -> int:
    """Run ``check`` with the parsed ``args``; the exit status."""
    model = load_onnx_model(args.model)
    violations = check_model(model, args.trt)
    for violation in violations:
        print(violation)
    print("ok" if not violations else f"{len(violations)} violation(s) for the TensorRT {args.trt} ONNX parser")
    return 0 if not violations else 1
