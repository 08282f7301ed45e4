# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The static TensorRT check: clean on our exports, and it does catch what the parser rejects."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from disk_trt_ros.contract import InputFormat, InstanceNorm, TrtCompat
from disk_trt_ros.export.trt_check import check_model, support_data
from support.paths import REPO_ROOT, SHARED_DIR


def small_model(nodes, inputs, outputs, initializers=(), opset=13) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def float_input(name="x", shape=(1, 8)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


@pytest.mark.parametrize("instance_norm", list(InstanceNorm), ids=lambda n: n.value)
@pytest.mark.parametrize("input_format", list(InputFormat), ids=lambda f: f.value)
@pytest.mark.parametrize("max_keypoints", [64, 8192])
def test_trt82_exports_have_no_violations_for_either_parser(export_model, input_format, max_keypoints, instance_norm):
    model = onnx.load(
        export_model(max_keypoints=max_keypoints, input_format=input_format, instance_norm=instance_norm).path
    )
    assert check_model(model, "8.2") == []
    assert check_model(model, "10") == []
    assert max(n.op_type == "TopK" for n in model.graph.node)
    assert not {"Mod", "NonZero", "Shape"} & {n.op_type for n in model.graph.node}
    norms = sum(n.op_type == "InstanceNormalization" for n in model.graph.node)
    assert norms == (9 if instance_norm is InstanceNorm.ONNX else 0), "DISK's 8 instance norms, the last one per part"


def test_trt10_export_is_clean_for_10_and_rejected_by_82(export_model):
    model = onnx.load(export_model(trt_compat=TrtCompat.TRT_10).path)
    assert check_model(model, "10") == []
    reasons = " ".join(str(v) for v in check_model(model, "8.2"))
    assert "opset 17" in reasons and "binding type uint8" in reasons


def test_mod_is_reported():
    divisor = helper.make_tensor("d", TensorProto.INT32, [1], [7])
    model = small_model(
        [helper.make_node("Mod", ["x", "d"], ["y"], name="wrap")],
        [helper.make_tensor_value_info("x", TensorProto.INT32, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 8])],
        [divisor],
    )
    violations = check_model(model, "8.2")
    assert [(v.node, v.op) for v in violations] == [("wrap", "Mod")]
    assert "not supported" in violations[0].reason


def test_topk_limits_dynamic_k_dynamic_shapes_and_shape_ops_are_reported():
    k_big = helper.make_tensor("k", TensorProto.INT64, [1], [5000])
    nodes = [
        helper.make_node("TopK", ["x", "k"], ["v", "i"], name="big_topk"),
        helper.make_node("TopK", ["x", "kk"], ["v2", "i2"], name="dynamic_topk"),
        helper.make_node("Shape", ["x"], ["s"], name="shape_of_x"),
    ]
    model = small_model(
        nodes,
        [float_input("x", ("n", 8000)), helper.make_tensor_value_info("kk", TensorProto.INT64, [1])],
        [float_input("v", (1, 5000)), float_input("v2", (1, 5))],
        [k_big],
    )
    reasons = {v.node: v.reason for v in check_model(model, "8.2")}
    assert "exceeds" in reasons["big_topk"]
    assert "K (input 1) must be an initializer" in reasons["dynamic_topk"]
    assert "shape-dependent" in reasons["shape_of_x"]
    assert "dynamic dimension" in reasons["x"]


def test_check_command_prints_ok_or_the_violations(export_model, tmp_path):
    clean = export_model()
    command = [sys.executable, "-m", "disk_trt_ros", "check"]
    result = subprocess.run(command + [str(clean.path)], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "ok"
    bad = small_model(
        [helper.make_node("NonZero", ["x"], ["y"], name="nz")],
        [float_input()],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [2, 8])],
    )
    path = tmp_path / "bad.onnx"
    onnx.save(bad, path)
    result = subprocess.run(command + [str(path), "--trt", "8.2"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 1
    assert "nz (NonZero): operator not supported by this parser" in result.stdout
    missing = subprocess.run(command + [str(tmp_path / "none.onnx")], capture_output=True, text=True, cwd=REPO_ROOT)
    assert missing.returncode == 1 and "check: error: " in missing.stderr and "no such file" in missing.stderr


def test_support_data_is_derived_from_the_shared_reference():
    reference = SHARED_DIR / "reference"
    if not (reference / "tensorrt-8.2-onnx-operators.csv").is_file():
        pytest.skip("../shared/reference is absent")
    script = REPO_ROOT / "scripts" / "derive_trt_support.py"
    spec = importlib.util.spec_from_file_location("derive_trt_support", script)
    assert spec is not None and spec.loader is not None
    derive_trt_support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive_trt_support)

    assert derive_trt_support.derive(reference) == support_data()
    assert json.dumps(support_data())  # plain JSON data
    assert not support_data()["parsers"]["8.2"]["operators"]["Mod"]["supported"]
    assert support_data()["parsers"]["10"]["operators"]["Mod"]["supported"]


def test_exported_constants_fit_float16(export_model):
    """No -1e9 style sentinels: every floating-point constant of the graph is finite and inside float16's range."""
    model = onnx.load(export_model(max_keypoints=5000, score_threshold=-100.0).path)
    for initializer in model.graph.initializer:
        values = onnx.numpy_helper.to_array(initializer)
        if values.dtype.kind == "f":
            assert np.isfinite(values).all() and np.abs(values).max(initial=0) <= 65504, initializer.name
