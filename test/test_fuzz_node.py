# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing the node itself: parameter values, and Image / CompressedImage messages sent to a running node process.

Every parameter set either starts the node or is refused with a NodeConfigurationError that names the parameter.
Every message is published (keypoints inside its image, finite, count <= K, unit descriptors), dropped or rejected
and counted; none crashes the node, none makes it publish for a message it cannot convert.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from disk_trt_ros.errors import ImageConversionError, NodeConfigurationError  # noqa: E402
from disk_trt_ros.image_conversion import ImageConverter  # noqa: E402
from disk_trt_ros.node.disk_node import _PARAMETERS, DiskNode  # noqa: E402
from support.fuzz import compressed_data, malformed_images, well_formed_images  # noqa: E402
from support.paths import REPO_ROOT  # noqa: E402
from support.reliability.camera import Camera  # noqa: E402
from support.reliability.node_process import NodeProcess  # noqa: E402
from support.ros import NodeSpinner  # noqa: E402
from support.waiting import wait_until  # noqa: E402

pytestmark = pytest.mark.ros

NODE_FUZZ = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SEND_INTERVAL_S = 0.01  # slower than the executor takes messages, so that every one reaches the node
frame_numbers = itertools.count()


@pytest.fixture(scope="module")
def model(export_model: Any) -> Any:
    return export_model(height=64, width=96)


# ---------------------------------------------------------------------------------------------- parameters


def parameter_values(name: str, model_path: str) -> st.SearchStrategy[Any]:
    """Values for one parameter: the sensible ones often, anything rclpy can carry otherwise."""
    sensible = {
        "model": st.sampled_from([model_path, "", "/nonexistent/disk.onnx", str(REPO_ROOT / "README.md")]),
        "engine": st.sampled_from(["", "/nonexistent/disk.engine"]),
        "backend": st.sampled_from(["auto", "onnxruntime", "tensorrt", "tensorflow", "ONNXRUNTIME", ""]),
        "precision": st.sampled_from(["fp16", "fp32", "int8", ""]),
        "image_transport": st.sampled_from(["raw", "compressed", "theora"]),
        "qos_reliability": st.sampled_from(["best_effort", "reliable", "sometimes"]),
        "debug_image": st.booleans(),
        "debug_image_max_rate": st.sampled_from([0.0, 5.0, 1000.0, 1000.5, -1.0, float("nan"), float("inf")]),
        "threads": st.sampled_from([0, 1, 2, -1, 1025, 2**62]),
        "max_image_pixels": st.sampled_from([1, 640 * 480, 8192 * 4320, 0, -1, 2**30, 2**30 + 1, 2**62]),
    }[name]
    anything = st.one_of(st.text(max_size=12), st.integers(-2**63, 2**63 - 1), st.floats(), st.booleans(),
                         st.lists(st.integers(-5, 5), max_size=3), st.lists(st.text(max_size=3), max_size=3))
    return st.one_of(sensible, sensible, anything)


@st.composite
def parameter_sets(draw: st.DrawFn, model_path: str) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(_PARAMETERS)), max_size=4, unique=True))
    values = {"model": model_path, "backend": "onnxruntime", "threads": 1}
    values.update({name: draw(parameter_values(name, model_path)) for name in names})
    return values


@given(data=st.data())
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
def test_any_parameter_values_start_the_node_or_are_refused_by_name(
    rclpy_context: Any, model: Any, data: st.DataObject
) -> None:
    values = data.draw(parameter_sets(str(model.path)))
    overrides = [Parameter(name, value=value) for name, value in values.items()]
    try:
        node = DiskNode(context=rclpy_context, namespace=f"/p{uuid.uuid4().hex[:8]}", parameter_overrides=overrides)
    except NodeConfigurationError as error:
        assert any(f"'{name}'" in str(error) for name in _PARAMETERS) or str(model.path) in str(error), str(error)
        event(f"refused: {str(error).split(':')[0]}")
        return
    event("started")
    try:
        assert node.settings.backend in ("auto", "onnxruntime", "torch", "tensorrt")
        assert node.settings.image_transport in ("raw", "compressed")
    finally:
        node.destroy_node()


# ---------------------------------------------------------------------------------------------- messages


class FuzzedNode:
    """A node process on one transport with this process's Camera side; :meth:`send` checks each batch."""

    def __init__(self, context: Any, model: Any, transport: str) -> None:
        self.message_type = CompressedImage if transport == "compressed" else Image
        self.converter = ImageConverter(model.info.height, model.info.width, model.info.input_format)
        self.node = NodeProcess(model.path, f"/f{uuid.uuid4().hex[:8]}", context.get_domain_id(),
                                parameters={"image_transport": transport})
        self.probe = rclpy.create_node(f"fuzz_probe_{transport}", context=context)
        topic = "image/compressed" if transport == "compressed" else "image"
        self.camera = Camera(self.probe, "camera", f"{self.node.namespace}/{topic}", f"{self.node.namespace}/keypoints",
                             f"{self.node.namespace}/disk_node", model.info.max_keypoints, self.message_type)
        self.spinner = NodeSpinner(self.probe, context)
        self.node.wait_for_line("ready:", timeout=120.0)
        assert wait_until(lambda: self.camera.publisher.get_subscription_count() > 0, 20.0), self.node.output

    def expected_size(self, message: Any) -> tuple[int, int] | None:
        """The source size the node must report for ``message``, or None when it must reject it."""
        try:
            converted = (self.converter.from_compressed(message) if self.message_type is CompressedImage
                         else self.converter.from_image(message))
        except ImageConversionError:
            return None
        return converted.source_width, converted.source_height

    def send(self, messages: list[Any]) -> None:
        """Publish ``messages``, wait until the node has accounted for them, check everything it published."""
        for message in messages:
            size = self.expected_size(message)
            event("convertible" if size else "must be rejected")
            self.camera.send(next(frame_numbers), message, size)
            time.sleep(SEND_INTERVAL_S)
        wait_until(self.camera.settled, 20.0)
        assert self.node.process.poll() is None, f"the node ended:\n{self.node.output}"
        counts, sent = self.camera.node_counts(), len(self.camera.sent_at)
        assert counts["received"] == sent, (counts, sent)
        assert counts["published"] + counts["dropped"] + counts["rejected"] == sent, counts
        assert counts["failed"] == counts["invalid_output"] == 0, counts
        assert not self.camera.invalid and not self.camera.foreign and not self.camera.duplicates, (
            self.camera.invalid[:5], self.camera.foreign, self.camera.duplicates)
        assert "Traceback" not in self.node.output, self.node.output

    def close(self) -> None:
        returncode, seconds = self.node.stop()
        self.spinner.close(timeout=1.0)
        assert returncode == 0, self.node.output


@pytest.fixture(scope="module")
def raw_node(rclpy_context: Any, model: Any) -> Iterator[FuzzedNode]:
    fuzzed = FuzzedNode(rclpy_context, model, "raw")
    yield fuzzed
    fuzzed.close()


@pytest.fixture(scope="module")
def compressed_node(rclpy_context: Any, model: Any) -> Iterator[FuzzedNode]:
    fuzzed = FuzzedNode(rclpy_context, model, "compressed")
    yield fuzzed
    fuzzed.close()


@given(messages=st.lists(st.one_of(malformed_images(), well_formed_images()), min_size=1, max_size=25))
@NODE_FUZZ
def test_fuzzed_images_never_crash_the_node_or_make_it_publish_garbage(
    raw_node: FuzzedNode, messages: list[Image]
) -> None:
    raw_node.send(messages)


@given(messages=st.lists(
    st.builds(lambda data, image_format: CompressedImage(format=image_format, data=data), compressed_data,
              st.sampled_from(["jpeg", "png", "rgb8; jpeg compressed bgr8"]) | st.text(max_size=10)),
    min_size=1, max_size=25,
))
@NODE_FUZZ
def test_fuzzed_compressed_images_never_crash_the_node_or_make_it_publish_garbage(
    compressed_node: FuzzedNode, messages: list[CompressedImage]
) -> None:
    compressed_node.send(messages)
