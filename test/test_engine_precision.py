# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The precision an engine is built with: which layers an fp16 build constrains to which type, and the builder flags.

A real exported random-weight DISK model is parsed by the TensorRT double, whose network has one layer per ONNX node
(named after it, as TensorRT's parser names layers) and one Constant layer per initializer, with the tensor types of
ONNX shape inference. Its builder records the layers constrained to float32 or float16, those whose outputs were set
to float32, and the flags set.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from disk_trt_ros.contract import PRECISION_POLICY_KEY, Fp16Policy, InstanceNorm, PrecisionPolicy
from disk_trt_ros.errors import ContractError, EngineCacheError
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import EngineRecord
from support import trt_double

# fp32-detector (the default): every layer that computes on floats computes in float32. fp16-unet: the U-Net's
# layers but its heatmap head's in float16, its last activations' outputs (one per part of the last block's input)
# cast to float32 for the two heads.
DESCRIPTOR_HEAD = "/descriptor_head/Conv"
HEATMAP_HEAD = "/unet/heatmap_head/"
LAST_ACTIVATIONS = ("/unet/last_gate/activations.0/PRelu", "/unet/last_gate/activations.1/PRelu")


def build(model: Path, engine: Path, precision: str) -> tuple[EngineRecord, dict[str, Any]]:
    """Build with the installed double; the sidecar's record and the double's header of the build."""
    record = ensure_engine(model, engine, BuildSettings(precision), progress=Progress(lambda line: None))
    return record, sys.modules["tensorrt"].builds[-1]


CASTS = {f"{activation} to float32" for activation in LAST_ACTIVATIONS}


def float_nodes(model: Path) -> tuple[set[str], set[str]]:
    """Names of the nodes that read a floating-point tensor, and of those that also write one (ONNX shape
    inference's types)."""
    import onnx

    graph = onnx.shape_inference.infer_shapes(onnx.load(str(model))).graph
    values = (*graph.input, *graph.value_info, *graph.output)
    types = {value.name: value.type.tensor_type.elem_type for value in values}
    types.update({initializer.name: initializer.data_type for initializer in graph.initializer})
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
    reading = {node.name for node in graph.node if any(types.get(name) in floats for name in node.input if name)}
    writing = {node.name for node in graph.node if any(types.get(name) in floats for name in node.output)}
    return reading, reading & writing


def test_fp16_build_of_the_default_policy_computes_everything_in_float32(
    monkeypatch: pytest.MonkeyPatch, export_model, tmp_path: Path
) -> None:
    exported = export_model()
    trt_double.install(monkeypatch, "8.5.3.1")
    record, header = build(exported.path, tmp_path / "disk.engine", "fp16")
    reading, reading_and_writing = float_nodes(exported.path)
    assert {"/Cast", "/unet/path_down.0/path_down.0.1/path_down.0.1.3/Conv",
            "/unet/last_gate/norms.0/InstanceNormalization", "/unet/heatmap_head/Conv", "/TopK", "/Div_2",
            DESCRIPTOR_HEAD, "/descriptor_head/Gather"} <= reading, (
        "the network's layers are found"
    )
    assert "/Gather" not in reading, "a gather of integer indices has no float input"
    assert header["fp32_layers"] == sorted(reading) and header["fp16_layers"] == []
    assert header["fp32_outputs"] == sorted(reading_and_writing)
    assert header["flags"] == ["FP16", "OBEY_PRECISION_CONSTRAINTS"], "FP16 with the constraints obeyed, no TF32"
    assert record.fp32_layers == len(reading), "the layers computing in float32"
    assert record.builder_flags == ["FP16"] and record.input_dtype == "uint8"


def constraints_of(header: dict[str, Any], layer: str) -> tuple[bool, bool, bool]:
    """Whether ``layer`` was constrained to compute in float32, in float16, and to write float32."""
    return tuple(layer in header[key] for key in ("fp32_layers", "fp16_layers", "fp32_outputs"))  # type: ignore


def test_fp16_build_constrains_each_decomposed_norm_as_its_instance_normalization(
    monkeypatch: pytest.MonkeyPatch, export_model, tmp_path: Path
) -> None:
    """The policy's patterns name module paths; a decomposed norm's nodes are named under the replaced norm's path,
    so each gets the constraints its InstanceNormalization node gets (float32 for all under fp32-detector)."""
    import onnx

    trt_double.install(monkeypatch, "8.5.3.1")
    plugin_model = export_model()
    decomposed_model = export_model(instance_norm=InstanceNorm.DECOMPOSED)
    _, plugin_header = build(plugin_model.path, tmp_path / "plugin.engine", "fp16")
    _, header = build(decomposed_model.path, tmp_path / "decomposed.engine", "fp16")
    norms = [node.name for node in onnx.load(str(plugin_model.path)).graph.node
             if node.op_type == "InstanceNormalization"]
    decomposed_nodes = onnx.load(str(decomposed_model.path)).graph.node
    assert len(norms) == 9, "kornia's 8, the last one as one per part of its input"
    for norm in norms:
        scope = norm.rsplit("/", 1)[0] + "/"
        parts = [node for node in decomposed_nodes if node.name.startswith(scope)]
        assert sorted(node.op_type for node in parts) == ["Add", "AveragePool", "AveragePool", "Div", "Div", "Mul",
                                                          "ReduceMean", "ReduceMean", "Sqrt", "Sub", "Sub"], norm
        expected = constraints_of(plugin_header, norm)
        assert expected == (True, False, True), f"{norm}: fp32-detector keeps it in float32"
        assert all(constraints_of(header, node.name) == expected for node in parts), norm


def test_fp32_build_constrains_nothing(monkeypatch: pytest.MonkeyPatch, export_model, tmp_path: Path) -> None:
    exported = export_model()
    trt_double.install(monkeypatch, "8.5.3.1")
    record, header = build(exported.path, tmp_path / "disk.engine", "fp32")
    assert (header["fp32_layers"], header["fp16_layers"], header["fp32_outputs"]) == ([], [], [])
    assert header["flags"] == [], "no FP16, and TF32 (on by default) cleared"
    assert (record.fp32_layers, record.builder_flags) == (0, [])


@pytest.mark.parametrize(
    "version, constraint_flag",
    [
        ("8.2.1.8", "STRICT_TYPES"),
        ("8.4.3.1", "OBEY_PRECISION_CONSTRAINTS"),
        ("8.6.1.6", "OBEY_PRECISION_CONSTRAINTS"),
        ("10.0.1", "OBEY_PRECISION_CONSTRAINTS"),
    ],
)
def test_each_version_gets_its_precision_constraint_flag(
    monkeypatch: pytest.MonkeyPatch, export_model, tmp_path: Path, version: str, constraint_flag: str
) -> None:
    """STRICT_TYPES where OBEY_PRECISION_CONSTRAINTS does not exist (the double's 8.2 and 8.3), never TF32."""
    exported = export_model()
    trt_double.install(monkeypatch, version)
    _, header = build(exported.path, tmp_path / "disk.engine", "fp16")
    assert header["flags"] == sorted(["FP16", constraint_flag])
    assert header["fp16_layers"] == [] and {"/unet/heatmap_head/Conv", DESCRIPTOR_HEAD} <= set(header["fp32_layers"])
    _, header = build(exported.path, tmp_path / "disk.fp32.engine", "fp32")
    assert header["flags"] == []


def test_the_double_models_layers_as_the_parser_makes_them(monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> None:
    """Constant nodes and initializers are CONSTANT layers, int64 tensors int32, and a missing optional input None;
    precision and output types are recorded as set."""
    import onnx
    from onnx import helper

    trt_double.install(monkeypatch, "8.5.3.1")
    trt = sys.modules["tensorrt"]
    model = onnx.load(str(tiny_model))
    model.graph.initializer.append(helper.make_tensor("sizes", onnx.TensorProto.INT64, [4], [1, 1, 64, 64]))
    model.graph.node.append(helper.make_node("Reshape", ["pixels", "flat_shape"], ["square"], name="square"))
    model.graph.node.append(helper.make_node("Resize", ["pixels", "", "", "sizes"], ["resized"], name="resize"))
    network = trt.Builder(trt.Logger()).create_network(1)
    assert trt.OnnxParser(network, trt.Logger()).parse(model.SerializeToString())
    layers = {network.get_layer(index).name: network.get_layer(index) for index in range(network.num_layers)}
    assert layers["sizes"].type == trt.LayerType.CONSTANT and layers["sizes"].get_output(0).dtype == trt.int32
    assert sum(layer.type == trt.LayerType.CONSTANT for layer in layers.values()) == 1 + sum(
        node.op_type == "Constant" for node in model.graph.node
    )
    resize = layers["resize"]
    assert resize.type != trt.LayerType.CONSTANT and resize.num_inputs == 4
    assert resize.get_input(0).dtype == trt.float32 and resize.get_input(1) is None
    cast = next(layer for layer in layers.values() if layer.num_outputs and layer.get_output(0).name == "pixels")
    assert cast.name.startswith("(Unnamed Layer* ") and cast.name.endswith(") [Cast]"), "TensorRT's name for it"
    assert resize.get_input(0) is cast.get_output(0), "one tensor object from producer to consumer"
    assert network.get_input(0).dtype == trt.float32
    resize.precision = trt.float16
    layers["square"].set_output_type(0, trt.float32)
    assert resize.precision_is_set and not layers["square"].precision_is_set
    assert (network.layers_computing_in(trt.float16), network.layers_computing_in(trt.float32)) == (["resize"], [])
    assert network.layers_with_float32_outputs() == ["square"]
    with pytest.raises(TypeError):
        resize.precision = "float32"


def test_a_float16_layer_writing_float32_does_not_build(
    monkeypatch: pytest.MonkeyPatch, export_model, tmp_path: Path
) -> None:
    """What the cast avoids: TensorRT 8.5 found no implementation for an fp16 convolution with a float32 output type
    under obeyed constraints (the descriptor head of earlier exports, seen on an H200); the double refuses any float16
    layer writing float32 the same way, here fp16-unet's last activations."""
    import disk_trt_ros.inference.tensorrt.network_setup as network_setup

    monkeypatch.setattr(network_setup, "_cast_to_float32", lambda trt, network, tensor, name: None)
    trt_double.install(monkeypatch, "8.5.3.1")
    original = network_setup.apply_precision_policy

    def policy_with_the_output_type_on_the_layer(trt, network, config, policy):
        constrained = original(trt, network, config, policy)
        for index in range(network.num_layers):
            layer = network.get_layer(index)
            if layer.name in LAST_ACTIVATIONS:
                layer.set_output_type(0, trt.float32)
        return constrained

    monkeypatch.setattr(
        "disk_trt_ros.inference.tensorrt.builder.apply_precision_policy", policy_with_the_output_type_on_the_layer
    )
    with pytest.raises(EngineCacheError, match="could not build"):
        build(export_model(fp16_policy=Fp16Policy.FP16_UNET).path, tmp_path / "disk.engine", "fp16")


@pytest.mark.parametrize("precision, flags", [("fp16", ["FP16", "OBEY_PRECISION_CONSTRAINTS", "TF32"]), ("fp32", [])])
def test_tf32_detector_sets_tf32_in_fp16_builds_only(
    monkeypatch: pytest.MonkeyPatch, export_model, tmp_path: Path, precision: str, flags: list[str]
) -> None:
    """tf32-detector constrains the layers fp32-detector constrains, and lets the float32 ones run in TF32."""
    trt_double.install(monkeypatch, "8.5.3.1")
    _, default_header = build(export_model().path, tmp_path / "default.engine", precision)
    model = export_model(fp16_policy=Fp16Policy.TF32_DETECTOR).path
    record, header = build(model, tmp_path / "tf32.engine", precision)
    assert header["flags"] == flags
    assert record.builder_flags == [flag for flag in flags if flag != "OBEY_PRECISION_CONSTRAINTS"]
    for key in ("fp32_layers", "fp16_layers", "fp32_outputs"):
        assert header[key] == default_header[key], f"{key}: the same layers as fp32-detector's"
    if precision == "fp16":
        assert header["fp16_layers"] == []


def test_fp16_unet_computes_the_unet_but_its_heatmap_head_in_float16(
    monkeypatch: pytest.MonkeyPatch, export_model, tmp_path: Path
) -> None:
    """fp16-unet: every /unet/ layer but the heat-map head's in float16; the heat-map head and everything outside
    the U-Net (pre- and post-processing, the descriptor head) in float32, which may run as TF32; the last activations'
    outputs, which both heads read, cast to float32."""
    exported = export_model(fp16_policy=Fp16Policy.FP16_UNET)
    trt_double.install(monkeypatch, "8.5.3.1")
    record, header = build(exported.path, tmp_path / "disk.engine", "fp16")
    reading, reading_and_writing = float_nodes(exported.path)
    unet = {name for name in reading if name.startswith("/unet/") and not name.startswith(HEATMAP_HEAD)}
    float32 = reading - unet
    heatmap_head = {name for name in reading if name.startswith(HEATMAP_HEAD)}
    assert {*LAST_ACTIVATIONS, "/unet/last_gate/norms.1/InstanceNormalization",
            "/unet/path_down.0/path_down.0.1/path_down.0.1.3/Conv"} <= unet, "the U-Net's layers are found"
    assert "/unet/heatmap_head/Conv" in heatmap_head and {"/Cast", "/TopK", "/Div_2", DESCRIPTOR_HEAD} <= float32
    assert header["fp16_layers"] == sorted(unet)
    assert header["fp32_layers"] == sorted(float32) and heatmap_head <= set(header["fp32_layers"])
    # only the last activations' float16 outputs are cast; the U-Net's other float16 outputs stay float16
    assert header["fp32_outputs"] == sorted(reading_and_writing & float32 | CASTS)
    assert not set(LAST_ACTIVATIONS) & set(header["fp32_outputs"])
    assert header["flags"] == ["FP16", "OBEY_PRECISION_CONSTRAINTS", "TF32"]
    assert record.builder_flags == ["FP16", "TF32"]
    assert record.fp32_layers == len(float32), "the sidecar counts the layers computing in float32 only"


def exported_policies() -> dict[Fp16Policy, PrecisionPolicy]:
    """The exporter's policies (its module needs PyTorch: skipped without it, as in the colcon test)."""
    pytest.importorskip("torch", reason="the exporter's policies live beside its PyTorch pipeline")
    from disk_trt_ros.export.pipeline import FP16_POLICIES

    return FP16_POLICIES


def test_a_precision_policy_round_trips_and_older_metadata_reads_as_strict_float32() -> None:
    policies = exported_policies()
    fp32_detector = policies[Fp16Policy.FP32_DETECTOR]
    for policy in policies.values():
        assert PrecisionPolicy.from_metadata(policy.to_metadata()) == policy
    assert policies[Fp16Policy.TF32_DETECTOR] == dataclasses.replace(fp32_detector, tf32=True)
    older = {key: value for key, value in json.loads(fp32_detector.to_metadata()[PRECISION_POLICY_KEY]).items()
             if key != "tf32"}
    assert PrecisionPolicy.from_metadata({PRECISION_POLICY_KEY: json.dumps(older)}) == fp32_detector
    assert PrecisionPolicy.from_metadata({}) == PrecisionPolicy()


@pytest.mark.parametrize("value", ['{"fp32_layers": [], "fp16_layers": [], "fp32_outputs": [], "tf32": "yes"}',
                                   '{"fp32_layers": [1], "fp16_layers": [], "fp32_outputs": []}',
                                   '{"fp32_layers": []}', '[]', "not json"])
def test_a_malformed_precision_policy_is_a_contract_error(value: str) -> None:
    with pytest.raises(ContractError, match=PRECISION_POLICY_KEY):
        PrecisionPolicy.from_metadata({PRECISION_POLICY_KEY: value})
