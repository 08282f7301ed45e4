# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Model outputs that break the contract: every backend refuses them before they become Features, the node does
not publish them (it counts them as ``invalid_output`` and goes on), and export refuses weights that would make
them (NaN or infinite values, named by tensor).

The models that break the contract are the TensorRT double's tiny model with one output changed
(``support.trt_double.VIOLATIONS``), run by ONNX Runtime and through the TensorRT double; for PyTorch, DISK with
NaN descriptor biases, the checkpoint the hostile-input trial made the node publish 16,384 NaN values from.
"""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import io
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from disk_trt_ros.contract import DESCRIPTOR_DIM
from disk_trt_ros.errors import InvalidOutputError, WeightsError
from disk_trt_ros.inference.base import Features
from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
from disk_trt_ros.inference.registry import create_backend
from support import trt_double

# What each violation's error says.
MESSAGES = {
    "non-finite descriptors": "descriptors values are not finite",
    "non-finite keypoints": "keypoints values are not finite",
    "keypoints outside the frame": "keypoints lie outside the 32x32 model frame",
    "ascending scores": "scores rise",
    "descriptors not of unit length": "descriptor rows are not of unit length",
    "count above K": "num_keypoints=1004 is outside 0..8",
}


def bright_image(count: int = 4) -> np.ndarray:
    """A tiny-model input of ``count`` keypoints whose pixels are all different and bright (keypoints past the
    frame's middle)."""
    image = (128 + np.arange(32 * 32 * 3) % 127).astype(np.uint8).reshape(32, 32, 3)
    image[0, 0, 0] = count
    return image


def valid_outputs(count: int = 3, k: int = 8) -> list[np.ndarray]:
    """Contract outputs (batch of one) of a 32x32 model with ``count`` valid slots of ``k``."""
    rng = np.random.default_rng(0)
    keypoints = np.zeros((1, k, 2), np.float32)
    keypoints[0, :count] = rng.integers(0, 32, (count, 2))
    scores = np.zeros((1, k), np.float32)
    scores[0, :count] = np.sort(rng.random(count).astype(np.float32))[::-1]
    descriptors = np.zeros((1, k, DESCRIPTOR_DIM), np.float32)
    rows = rng.normal(size=(count, DESCRIPTOR_DIM)).astype(np.float32)
    descriptors[0, :count] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return [keypoints, scores, descriptors, np.array([count], np.int32)]


def test_valid_outputs_become_features_and_padding_slots_are_not_checked() -> None:
    outputs = valid_outputs()
    outputs[0][0, 5] = np.nan  # past the count: not part of the frame's features
    features = Features.from_outputs(*outputs, trt_double.tiny_model_info())
    assert features.count == 3 and np.isfinite(features.keypoints).all()


@pytest.mark.parametrize("change, message", [
    (lambda o: o[0].__setitem__((0, 1, 0), np.inf), "1 keypoints values are not finite"),
    (lambda o: o[1].__setitem__((0, 2), np.nan), "1 scores values are not finite"),
    (lambda o: o[2].__setitem__((0, 0, 7), np.nan), "1 descriptors values are not finite"),
    (lambda o: o[0].__setitem__((0, 2, 0), 32.0), r"1 keypoints lie outside the 32x32 model frame, the first at "
                                                  r"\(32, .*\) in slot 2"),
    (lambda o: o[0].__setitem__((0, 0, 1), -0.5), "1 keypoints lie outside"),
    (lambda o: o[1].__setitem__((0, 2), 2.0), "scores rise at 1 slots, the first from .* to 2 at slot 2"),
    (lambda o: o[2].__setitem__((0, 1), o[2][0, 1] * 1.02), "1 descriptor rows are not of unit length, the first of "
                                                            "norm 1.02 in slot 1"),
    (lambda o: o[2].__setitem__((0, 2, 0), 1e30), "1 descriptor rows are not of unit length, the first of norm inf "
                                                  "in slot 2"),  # finite, but its square overflows
    (lambda o: o[3].__setitem__(0, 9), "num_keypoints=9 is outside 0..8"),
    (lambda o: o[3].__setitem__(0, -1), "num_keypoints=-1 is outside 0..8"),
])
def test_each_break_of_the_contract_is_named(change: Any, message: str) -> None:
    outputs = valid_outputs()
    change(outputs)
    with pytest.raises(InvalidOutputError, match="the model's outputs break the contract: " + message):
        Features.from_outputs(*outputs, trt_double.tiny_model_info())


def test_descriptor_norms_within_fp16_rounding_are_accepted() -> None:
    outputs = valid_outputs()
    outputs[2][0, :3] *= np.array([[1.009], [0.991], [1.0]], np.float32)  # half precision's normalisation error
    assert Features.from_outputs(*outputs, trt_double.tiny_model_info()).count == 3


@pytest.fixture(params=sorted(trt_double.VIOLATIONS))
def broken_model(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    path = tmp_path / "broken.onnx"
    trt_double.make_contract_onnx(path, trt_double.tiny_model_info(), violation=request.param)
    yield path, request.param


def test_onnxruntime_refuses_outputs_that_break_the_contract(broken_model: tuple[Path, str]) -> None:
    path, violation = broken_model
    backend = OnnxRuntimeBackend(str(path), threads=1)
    with pytest.raises(InvalidOutputError, match=MESSAGES[violation]):
        backend.run(bright_image())


def test_tensorrt_refuses_outputs_that_break_the_contract(
    fake_gpu: trt_double.FakeGpu, broken_model: tuple[Path, str]
) -> None:
    path, violation = broken_model
    backend = create_backend("tensorrt", path, precision="fp32")
    try:
        with pytest.raises(InvalidOutputError, match=MESSAGES[violation]):
            backend.run(bright_image())
    finally:
        backend.close()


def nan_descriptor_disk() -> Any:
    """kornia's DISK (random weights, seed 0) with NaN biases on its 128 descriptor channels."""
    import torch

    from disk_trt_ros.export.weights import random_disk

    disk, _ = random_disk(0)
    with torch.no_grad():
        disk.unet.path_up[3].conv[3].bias[:DESCRIPTOR_DIM] = float("nan")
    return disk


def test_torch_refuses_nan_descriptors() -> None:
    pytest.importorskip("torch")
    from disk_trt_ros.export.pipeline import DiskPipeline
    from disk_trt_ros.inference.torch_backend import TorchBackend

    backend = TorchBackend(DiskPipeline(nan_descriptor_disk(), trt_double.tiny_model_info()), device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    with pytest.raises(InvalidOutputError, match=r"\d+ descriptors values are not finite"):
        backend.run(image)


def test_export_refuses_a_checkpoint_with_nan_weights_naming_the_tensor(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from disk_trt_ros.cli import run_command

    checkpoint = tmp_path / "nan.pth"
    torch.save({"extractor": nan_descriptor_disk().state_dict()}, checkpoint)
    output = tmp_path / "disk.onnx"
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", stderr)
        status = run_command("export", ["--weights", str(checkpoint), "--height", "32", "--width", "32",
                                        "--max-keypoints", "8", "--output", str(output)])
    assert status == 1 and not output.exists()
    assert stderr.getvalue().count("\n") == 1, stderr.getvalue()
    assert "'unet.path_up.3.conv.3.bias' (128 of 129 values)" in stderr.getvalue(), stderr.getvalue()


def test_every_non_finite_tensor_is_named() -> None:
    torch = pytest.importorskip("torch")
    from disk_trt_ros.export.weights import require_finite_weights

    weights = {"a.weight": torch.ones(3), "b.bias": torch.tensor([1.0, float("inf")]), "c": torch.tensor([np.nan]),
               "steps": torch.tensor([3])}
    with pytest.raises(WeightsError, match=r"in 2 tensors: 'b.bias' \(1 of 2 values\), 'c' \(1 of 1 values\)"):
        require_finite_weights(weights, "test.pth")
    require_finite_weights({"a.weight": torch.ones(3)}, "test.pth")


@pytest.mark.ros
def test_the_node_does_not_publish_outputs_that_break_the_contract_and_goes_on(
    rclpy_context: Any, tmp_path: Path
) -> None:
    """A model whose keypoints leave the frame for bright pixels: the bright frame is counted as invalid_output (not
    published, diagnostics ERROR, logged), the dark frame after it is published."""
    pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")
    from diagnostic_msgs.msg import DiagnosticStatus
    from sensor_msgs.msg import Image

    from support.node_harness import NodeUnderTest, image_message

    model = tmp_path / "outside.onnx"
    trt_double.make_contract_onnx(model, trt_double.tiny_model_info(), violation="keypoints outside the frame")
    node = NodeUnderTest(rclpy_context, {"model": str(model), "backend": "onnxruntime", "threads": 1})
    try:
        publisher = node.publisher(Image)
        publisher.publish(image_message(bright_image(), "rgb8", 0))
        values = node.wait_for_diagnostics(lambda values: values["invalid_output"] == "1", "the frame counted")
        assert values["level"] == DiagnosticStatus.ERROR and values["published"] == "0"
        node.log.wait_for(lambda log: log.msg.startswith("not published: the model's outputs break the contract: 4 "
                                                         "keypoints lie outside"), 10.0, "the frame logged")
        dark = bright_image() // 4
        dark[0, 0, 0] = 4
        publisher.publish(image_message(dark, "rgb8", 1))
        message = node.wait_for_keypoints(1)
        assert message.count == 4
        assert [keypoints.header.stamp.nanosec for _, keypoints in node.keypoints.messages] == [1]
    finally:
        node.close()
