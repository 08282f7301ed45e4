# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m disk_trt_ros export``: weights loading, settings errors, metadata, atomic output."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("kornia", reason="kornia is not installed (pip install kornia)")

import dataclasses
import hashlib
import re
import socket
import subprocess
import sys
from pathlib import Path

import onnx
import torch

from disk_trt_ros.cli import main
from disk_trt_ros.contract import (
    METADATA_PREFIX,
    PRECISION_POLICY_KEY,
    Fp16Policy,
    InstanceNorm,
    ModelInfo,
    read_onnx_metadata,
    read_onnx_model_info,
)
from disk_trt_ros.errors import ContractError, WeightsError
from disk_trt_ros.export.pipeline import FP16_POLICIES
from disk_trt_ros.export.weights import load_disk, random_disk
from support.paths import REPO_ROOT


def export(*arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "disk_trt_ros", "export", "--height", "64", "--width", "96", *arguments]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple:
    disk, _ = random_disk(5)
    path = tmp_path_factory.mktemp("weights") / "disk-save.pth"
    torch.save({"extractor": disk.state_dict()}, path)
    return path, disk


def test_checkpoint_formats_load_and_report_the_file_sha256(checkpoint, tmp_path):
    path, disk = checkpoint
    loaded, sha256 = load_disk(str(path))
    assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    for name, tensor in disk.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    bare = tmp_path / "bare.pth"
    torch.save(disk.state_dict(), bare)
    name = "unet.path_up.0.conv.3.weight"
    assert torch.equal(load_disk(str(bare))[0].state_dict()[name], disk.state_dict()[name])


def test_bad_checkpoints_name_the_problem(checkpoint, tmp_path):
    _, disk = checkpoint
    state = dict(disk.state_dict())
    state.pop("unet.path_down.0.1.3.weight")
    state["head.extra"] = torch.zeros(3)
    state["unet.path_up.0.conv.3.bias"] = torch.zeros(7)
    broken = tmp_path / "broken.pth"
    torch.save({"extractor": state}, broken)
    with pytest.raises(WeightsError) as raised:
        load_disk(str(broken))
    message = str(raised.value)
    assert "missing keys (1): unet.path_down.0.1.3.weight" in message
    assert "unexpected keys (1): head.extra" in message
    assert "unet.path_up.0.conv.3.bias: checkpoint (7,)" in message
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="not a readable PyTorch checkpoint"):
        load_disk(str(garbage))
    with pytest.raises(WeightsError, match="no such file"):
        load_disk(str(tmp_path / "missing.pth"))
    with pytest.raises(WeightsError, match="seed"):
        load_disk("random:x")


def test_export_command_writes_a_model_that_describes_itself(checkpoint, tmp_path):
    path, _ = checkpoint
    output = tmp_path / "model.onnx"
    result = export("--weights", str(path), "--max-keypoints", "32", "--input-format", "bgr", "--output", str(output))
    assert result.returncode == 0, result.stderr
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"sha256 {sha256}" in result.stdout
    assert "TensorRT 8.2 support check: ok" in result.stdout
    info = read_onnx_model_info(str(output))
    assert (info.height, info.width, info.max_keypoints, info.input_format.value) == (64, 96, 32, "bgr")
    assert (info.input_dtype, info.trt_compat.value, info.weights_sha256) == ("float32", "8.2", sha256)
    model = onnx.load(output)
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["keypoints", "scores", "descriptors", "num_keypoints"]
    assert max(o.version for o in model.opset_import) <= 13


@pytest.mark.parametrize(
    "arguments,status,message",
    [
        (["--width", "100"], 1, "width=100 must be a positive multiple of 16"),
        (["--nms-window", "4"], 1, "nms_window=4 must be odd"),
        (["--max-keypoints", "0"], 2, "argument --max-keypoints: must be an integer from 1 to 65536, got '0'"),
        (["--score-threshold", "1e9"], 1, "inside float16's range"),
        (["--weights", "nowhere.pth"], 1, "no such file"),
        (["--instance-norm", "fused"], 2, "argument --instance-norm: invalid choice: 'fused'"),
        (["--fp16-policy", "fp16"], 2, "argument --fp16-policy: invalid choice: 'fp16'"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(tmp_path, arguments, status, message):
    """Status 2: refused while the arguments are parsed (cli_arguments); 1: by the settings' own check."""
    output = tmp_path / "model.onnx"
    output.write_bytes(b"previous model")
    result = export("--weights", "random:0", *arguments, "--output", str(output))
    assert result.returncode == status
    assert "export: error: " in result.stderr and message in result.stderr
    assert output.read_bytes() == b"previous model"
    assert list(tmp_path.iterdir()) == [output]


def test_decomposed_instance_norms_are_written_and_recorded(tmp_path):
    output = tmp_path / "model.onnx"
    result = export("--weights", "random:0", "--max-keypoints", "32", "--instance-norm", "decomposed",
                    "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "instance norms decomposed" in result.stdout and "TensorRT 8.2 support check: ok" in result.stdout
    assert read_onnx_model_info(str(output)).instance_norm is InstanceNorm.DECOMPOSED
    assert not [node for node in onnx.load(output).graph.node if node.op_type == "InstanceNormalization"]


def test_models_exported_before_the_instance_norm_choice_read_as_onnx(export_model):
    info = export_model().info
    metadata = info.to_metadata()
    assert metadata[METADATA_PREFIX + "instance_norm"] == '"onnx"'
    older = {key: value for key, value in metadata.items() if key != METADATA_PREFIX + "instance_norm"}
    assert ModelInfo.from_metadata(older) == info
    decomposed = {**metadata, METADATA_PREFIX + "instance_norm": '"decomposed"'}
    assert ModelInfo.from_metadata(decomposed).instance_norm is InstanceNorm.DECOMPOSED
    with pytest.raises(ContractError, match="invalid value"):
        ModelInfo.from_metadata({**metadata, METADATA_PREFIX + "instance_norm": '"fused"'})


def test_the_fp16_policy_is_written_and_recorded(tmp_path):
    output = tmp_path / "model.onnx"
    result = export("--weights", "random:0", "--max-keypoints", "32", "--fp16-policy", "fp16-unet",
                    "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert "fp16 policy fp16-unet" in result.stdout and "TensorRT 8.2 support check: ok" in result.stdout
    assert read_onnx_model_info(str(output)).fp16_policy is Fp16Policy.FP16_UNET
    policy = FP16_POLICIES[Fp16Policy.FP16_UNET].to_metadata()[PRECISION_POLICY_KEY]
    assert read_onnx_metadata(str(output))[PRECISION_POLICY_KEY] == policy


def test_the_default_fp16_policy_keeps_every_layer_in_float32(export_model):
    metadata = read_onnx_metadata(export_model().path)
    assert metadata[METADATA_PREFIX + "fp16_policy"] == '"fp32-detector"'
    assert metadata[PRECISION_POLICY_KEY] == (
        '{"fp32_layers": ["^"], "fp16_layers": [], "fp32_outputs": [], "tf32": false}'
    )


def test_models_exported_before_the_fp16_policy_choice_read_as_fp32_detector(export_model):
    info = export_model().info
    metadata = info.to_metadata()
    assert info.fp16_policy is Fp16Policy.FP32_DETECTOR
    older = {key: value for key, value in metadata.items() if key != METADATA_PREFIX + "fp16_policy"}
    assert ModelInfo.from_metadata(older) == info
    for policy in Fp16Policy:
        chosen = dataclasses.replace(info, fp16_policy=policy)
        assert ModelInfo.from_metadata(chosen.to_metadata()) == chosen
    with pytest.raises(ContractError, match=re.escape(f"'{METADATA_PREFIX}fp16_policy' holds an invalid value")):
        ModelInfo.from_metadata({**metadata, METADATA_PREFIX + "fp16_policy": '"fp16"'})


def test_metadata_from_another_export_version_is_refused(export_model):
    info = export_model().info
    metadata = info.to_metadata()
    assert ModelInfo.from_metadata(metadata) == info
    with pytest.raises(ContractError, match="contract version 0"):
        ModelInfo.from_metadata({**metadata, METADATA_PREFIX + "contract_version": "0"})
    with pytest.raises(ContractError, match="lacks 'disk_trt_ros.height'"):
        ModelInfo.from_metadata({k: v for k, v in metadata.items() if not k.endswith("height")})
    with pytest.raises(ContractError, match="not valid JSON"):
        ModelInfo.from_metadata({**metadata, METADATA_PREFIX + "width": "{"})


def test_atomic_writes_are_readable_by_others_and_keep_a_replaced_files_mode(tmp_path):
    from disk_trt_ros.atomic import atomic_write_bytes

    fresh = tmp_path / "fresh.onnx"
    atomic_write_bytes(fresh, b"model")
    assert fresh.stat().st_mode & 0o777 == 0o644
    kept = tmp_path / "kept.engine"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    atomic_write_bytes(kept, b"new")
    assert kept.read_bytes() == b"new" and kept.stat().st_mode & 0o777 == 0o640


def test_pretrained_weights_without_network_fail_at_once_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    recwarn: pytest.WarningsRecorder,
) -> None:
    def no_network(address: tuple[str, int], timeout: float) -> socket.socket:
        raise OSError(f"[Errno -2] Name or service not known: {address[0]}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # nothing downloaded yet
    output = tmp_path / "m.onnx"
    status = main(["export", "--weights", "depth", "--height", "64", "--width", "96", "--output", str(output)])
    stderr = capsys.readouterr().err
    assert status == 1
    assert stderr.count("\n") == 1 and stderr.startswith("export: error: "), stderr
    assert "cannot be reached" in stderr and "depth-save.pth" in stderr
    assert [str(warning.message) for warning in recwarn] == []  # none of the downloader's retry warnings
    assert not output.exists()

