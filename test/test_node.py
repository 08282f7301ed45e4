# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The DISK node on real rclpy and Fast DDS: photos, encodings, bad messages, floods, debug image.

The node runs in this process beside a probe node, both spun by one executor thread; each test has its own
namespace (support/node_harness.py). Its parameters are test_node_parameters.py's, its parts on their own
test_node_parts.py's; shutdown on SIGINT/SIGTERM is tested on the node process in ``test_shutdown.py``.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from skimage import data as skimage_data  # noqa: E402

from disk_trt_ros.contract import InputFormat  # noqa: E402
from disk_trt_ros.image_conversion import keypoints_to_source  # noqa: E402
from disk_trt_ros.inference.base import Backend, Features  # noqa: E402
from disk_trt_ros.inference.registry import create_backend  # noqa: E402
from disk_trt_ros.middleware import loss_advice, middleware_state, socket_receive_limit  # noqa: E402
from disk_trt_ros.msg import Keypoints  # noqa: E402
from disk_trt_ros.node.debug_image import draw_keypoints  # noqa: E402
from disk_trt_ros.node.keypoints_message import features_from_message  # noqa: E402
from support.node_harness import (  # noqa: E402
    BEST_EFFORT,
    RELIABLE,
    NodeUnderTest,
    compressed_message,
    has_stamp,
    image_message,
)
from support.paths import shared_photo_paths  # noqa: E402
from support.waiting import wait_until  # noqa: E402

pytestmark = pytest.mark.ros

MODEL_SIZE = (160, 128)  # (width, height) of the test model


@pytest.fixture(scope="module")
def model_path(export_model: Callable[..., Any]) -> str:
    return str(export_model().path)


@pytest.fixture(scope="module")
def reference_backend(model_path: str) -> Backend:
    """The node's backend, called directly; one thread in both makes them agree bit for bit."""
    return create_backend("onnxruntime", model_path, precision="fp32", threads=1)


@pytest.fixture
def start_node(rclpy_context: Any, model_path: str) -> Iterator[Callable[..., NodeUnderTest]]:
    started: list[NodeUnderTest] = []

    def start(**parameters: Any) -> NodeUnderTest:
        started.append(NodeUnderTest(rclpy_context, {"model": model_path, "backend": "onnxruntime", "threads": 1,
                                                   **parameters}))
        return started[-1]

    yield start
    for node in started:
        node.close()


def expected_features(backend: Backend, rgb: np.ndarray) -> Features:
    """The backend called directly on the picture shrunk to the model's size, keypoints mapped back."""
    height, width = rgb.shape[:2]
    features = backend.run(cv2.resize(rgb, MODEL_SIZE, interpolation=cv2.INTER_AREA))
    return Features(keypoints_to_source(features.keypoints, (width, height), MODEL_SIZE), features.scores,
                    features.descriptors)


def assert_same_features(message: Keypoints, expected: Features) -> None:
    received = features_from_message(message)
    assert message.count == expected.count
    np.testing.assert_array_equal(received.keypoints, expected.keypoints)
    np.testing.assert_array_equal(received.scores, expected.scores)
    np.testing.assert_array_equal(received.descriptors, expected.descriptors)


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A real photograph (scikit-image's astronaut) cropped to 384x480: not the model's size, so it is resized."""
    return np.ascontiguousarray(skimage_data.astronaut()[64:448, 16:496])


# ---------------------------------------------------------------------------------------------- the node


def test_photos_give_one_keypoints_message_each_at_their_own_size(
    start_node: Callable[..., NodeUnderTest], reference_backend: Backend
) -> None:
    node = start_node()
    publisher = node.publisher(Image)
    for index, path in enumerate(shared_photo_paths()):
        rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        publisher.publish(image_message(rgb, "rgb8", index))
        message = node.wait_for_keypoints(index)

        assert message.header.frame_id == "camera_optical"
        assert (message.image_width, message.image_height) == (width, height)
        assert 0 < message.count <= 64 and message.descriptor_dim == 128
        features = features_from_message(message)
        assert np.all(features.keypoints >= -0.5) and np.all(features.keypoints <= [width - 0.5, height - 0.5])
        assert np.all(np.diff(features.scores) <= 0)
        np.testing.assert_allclose(np.linalg.norm(features.descriptors, axis=1), 1.0, atol=1e-5)
        assert_same_features(message, expected_features(reference_backend, rgb))
    assert len(node.keypoints.messages) == len(shared_photo_paths())


def colour_messages(rgb: np.ndarray) -> list[tuple[str, np.ndarray, int]]:
    """(encoding, pixels, row padding) for every colour encoding of ``rgb``."""
    return [
        ("rgb8", rgb, 0),
        ("bgr8", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 7),
        ("rgba8", cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA), 0),
        ("bgra8", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA), 4),
    ]


def test_every_raw_encoding_of_a_picture_gives_the_same_keypoints(
    start_node: Callable[..., NodeUnderTest], reference_backend: Backend, picture: np.ndarray
) -> None:
    node = start_node()
    publisher = node.publisher(Image)
    gray = cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY)[..., None]
    frames = [(encoding, pixels, padding, False, picture) for encoding, pixels, padding in colour_messages(picture)]
    frames += [
        ("mono8", gray, 3, False, np.repeat(gray, 3, axis=2)),
        ("mono16", gray.astype(np.uint16) << 8 | 0x5A, 0, False, np.repeat(gray, 3, axis=2)),
        ("mono16", gray.astype(np.uint16) << 8 | 0xA5, 2, True, np.repeat(gray, 3, axis=2)),
    ]
    for index, (encoding, pixels, padding, bigendian, seen_as) in enumerate(frames):
        publisher.publish(image_message(pixels, encoding, index, padding, bigendian))
        message = node.wait_for_keypoints(index)
        assert (message.image_width, message.image_height) == (480, 384), encoding
        assert_same_features(message, expected_features(reference_backend, seen_as))


def test_compressed_transport_gives_the_keypoints_of_the_decoded_picture(
    start_node: Callable[..., NodeUnderTest], reference_backend: Backend, picture: np.ndarray
) -> None:
    node = start_node(image_transport="compressed")
    publisher = node.publisher(CompressedImage)
    bgr = cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)
    jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    decoded_jpeg = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    png = cv2.imencode(".png", bgr)[1].tobytes()
    frames = [(jpeg, "rgb8; jpeg compressed bgr8", decoded_jpeg), (png, "png", picture)]
    for index, (data, image_format, seen_as) in enumerate(frames):
        publisher.publish(compressed_message(data, image_format, index))
        message = node.wait_for_keypoints(index)
        assert (message.image_width, message.image_height) == (480, 384)
        assert_same_features(message, expected_features(reference_backend, seen_as))


BAD_RAW_IMAGES = {
    "unknown encoding": Image(height=4, width=4, encoding="no_such_encoding", step=4, data=bytes(16)),
    "data shorter than step x height": Image(height=48, width=64, encoding="rgb8", step=192, data=bytes(9000)),
    "zero size": Image(height=0, width=0, encoding="rgb8", step=0, data=b""),
    "step below width x bytes per pixel": Image(height=48, width=64, encoding="rgb8", step=100, data=bytes(4800)),
}


def _corrupt_jpeg() -> bytes:
    jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 100, np.uint8))[1].tobytes()
    return jpeg[:3] + bytes(range(256)) * 2


BAD_COMPRESSED_IMAGES = {
    "corrupt jpeg": CompressedImage(format="jpeg", data=_corrupt_jpeg()),
    "empty data": CompressedImage(format="jpeg", data=b""),
    "neither jpeg nor png": CompressedImage(format="bmp", data=b"BM" + bytes(100)),
}


@pytest.mark.parametrize(
    ("image_transport", "message_type", "bad_messages", "first_logged"),
    [
        ("raw", Image, BAD_RAW_IMAGES, "image encoding 'no_such_encoding' is not supported"),
        ("compressed", CompressedImage, BAD_COMPRESSED_IMAGES, "could not be decoded"),
    ],
)
def test_each_bad_message_is_rejected_counted_and_the_next_frame_processed(
    start_node: Callable[..., NodeUnderTest],
    picture: np.ndarray,
    image_transport: str,
    message_type: type,
    bad_messages: dict[str, Any],
    first_logged: str,
) -> None:
    node = start_node(image_transport=image_transport)
    publisher = node.publisher(message_type)
    if image_transport == "raw":
        good = lambda index: image_message(picture, "rgb8", index)  # noqa: E731
    else:
        jpeg = cv2.imencode(".jpg", picture)[1].tobytes()
        good = lambda index: compressed_message(jpeg, "jpeg", index)  # noqa: E731
    for rejected, bad in enumerate(bad_messages.values(), start=1):
        publisher.publish(bad)
        count = str(rejected)
        node.wait_for_diagnostics(lambda values, count=count: values["rejected"] == count, f"{count} rejected")
        publisher.publish(good(rejected))
        node.wait_for_keypoints(rejected)
    node.log.wait_for(lambda log: log.msg.startswith("rejected image:") and first_logged in log.msg, 10.0,
                      f"a log naming '{first_logged}'")  # later rejections within 5 s are throttled
    final = node.wait_for_diagnostics(lambda values: values["published"] == str(len(bad_messages)), "all published")
    assert final["rejected"] == str(len(bad_messages))
    assert final["inference_errors"] == "0" and final["dropped"] == "0"


def test_a_best_effort_flood_is_received_and_thinned_to_what_inference_keeps_up_with(
    start_node: Callable[..., NodeUnderTest], picture: np.ndarray
) -> None:
    """Real time: the last frame of a flood waits for at most the inference in progress, not for a backlog.

    (``test_newest_frame_wins_while_inference_is_busy`` shows the mechanism without depending on timing.)
    """
    image = cv2.resize(picture, (320, 256), interpolation=cv2.INTER_AREA)
    node = start_node()
    publisher = node.publisher(Image, BEST_EFFORT)
    frames = 120
    published_at = []
    for index in range(frames):  # about 100 Hz for 1.2 s, far faster than inference
        published_at.append(time.monotonic())
        publisher.publish(image_message(image, "rgb8", index))
        time.sleep(0.01)
    node.wait_for_keypoints(frames - 1)  # the last frame is never replaced, so it is always processed

    outputs = [message.header.stamp.nanosec for _, message in node.keypoints.messages]
    assert outputs == sorted(set(outputs)), "frames were processed out of order or twice"
    assert 2 <= len(outputs) < frames / 2, f"processed {len(outputs)} of {frames} frames"
    arrivals = [arrived for arrived, _ in node.keypoints.messages]
    latencies = [arrived - published_at[index] for arrived, index in zip(arrivals, outputs)]
    inference_s = float(np.median(np.diff(arrivals)))  # the time per processed frame, under this machine's load
    assert latencies[-1] < 3 * inference_s + 0.5, f"last latency {latencies[-1]:.2f} s, {inference_s:.2f} s/frame"
    values = node.wait_for_diagnostics(
        lambda values: int(values["published"]) == len(outputs) and int(values["received"]) > len(outputs),
        "the flood counted",
    )
    assert int(values["received"]) == int(values["published"]) + int(values["dropped"])
    assert int(values["dropped"]) > 0
    # the node's own latency (arrival to publication) is part of the end-to-end latency measured here
    assert 0 < float(values["latency_p50_ms"]) <= float(values["latency_p99_ms"]) <= max(latencies) * 1e3 + 1
    assert values["backend"].startswith("onnxruntime") and values["input_size"] == "160x128 rgb"


class GatedBackend(Backend):
    """The real backend behind a gate: each run waits for ``release``, so a test decides when inference ends.

    Runs listed in ``failing_runs`` (0-based) raise instead of returning.
    """

    def __init__(self, inner: Backend, failing_runs: tuple[int, ...] = ()) -> None:
        super().__init__(inner.info, inner.precision)
        self.name = inner.name
        self.inner = inner
        self.failing_runs = failing_runs
        self.runs = 0
        self.started = threading.Event()
        self.release = threading.Event()

    def run(self, image: np.ndarray) -> Features:
        run, self.runs = self.runs, self.runs + 1
        self.started.set()
        assert self.release.wait(timeout=60)
        if run in self.failing_runs:
            raise RuntimeError(f"simulated inference failure on run {run}")
        return self.inner.run(image)


@pytest.fixture
def gate_backend(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[GatedBackend]]:
    """Makes the nodes started afterwards run their backend through a :class:`GatedBackend`."""
    import disk_trt_ros.node.disk_node as disk_node

    gated: list[GatedBackend] = []

    def install(failing_runs: tuple[int, ...] = ()) -> list[GatedBackend]:
        def create(*args: Any, **kwargs: Any) -> Backend:
            gated.append(GatedBackend(create_backend(*args, **kwargs), failing_runs))
            return gated[-1]

        monkeypatch.setattr(disk_node, "create_backend", create)
        return gated

    return install


def test_newest_frame_wins_while_inference_is_busy(
    start_node: Callable[..., NodeUnderTest], gate_backend: Callable[..., list[GatedBackend]], picture: np.ndarray
) -> None:
    """Frames arriving during inference are received (the executor is free) and replace each other: no backlog
    builds up, whatever the input rate, so the next frame processed is the newest."""
    gated = gate_backend()
    node = start_node(qos_reliability="reliable")  # no frame lost in transport: the node drops them itself
    (backend,) = gated
    publisher = node.publisher(Image)
    publisher.publish(image_message(picture, "rgb8", 0))
    assert backend.started.wait(20.0), "inference of frame 0 did not start"
    for index in range(1, 31):
        publisher.publish(image_message(picture, "rgb8", index))
        time.sleep(0.02)  # within the subscription's queue of 5
    node.wait_for_diagnostics(lambda values: values["received"] == "31", "31 frames received during inference")
    backend.release.set()
    node.wait_for_keypoints(30)
    values = node.wait_for_diagnostics(lambda values: values["published"] == "2", "2 frames published")
    assert [message.header.stamp.nanosec for _, message in node.keypoints.messages] == [0, 30]
    assert (values["dropped"], values["rejected"], values["inference_errors"]) == ("29", "0", "0")


def test_an_inference_failure_is_logged_counted_and_the_next_frame_processed(
    start_node: Callable[..., NodeUnderTest], gate_backend: Callable[..., list[GatedBackend]], picture: np.ndarray
) -> None:
    gated = gate_backend(failing_runs=(0,))
    node = start_node()
    gated[0].release.set()
    publisher = node.publisher(Image)
    publisher.publish(image_message(picture, "rgb8", 0))
    values = node.wait_for_diagnostics(lambda values: values["inference_errors"] == "1", "the failure counted")
    assert values["level"] == DiagnosticStatus.ERROR
    node.log.wait_for(lambda log: "simulated inference failure on run 0" in log.msg, 10.0, "the failure logged")
    publisher.publish(image_message(picture, "rgb8", 1))
    node.wait_for_keypoints(1)
    assert [message.header.stamp.nanosec for _, message in node.keypoints.messages] == [1]


def test_debug_image_shows_the_model_input_with_its_keypoints(
    start_node: Callable[..., NodeUnderTest], reference_backend: Backend, picture: np.ndarray
) -> None:
    node = start_node(debug_image=True, debug_image_max_rate=0.0)
    node.publisher(Image).publish(image_message(picture, "rgb8", 0))
    debug = node.debug_images.wait_for(has_stamp(0), 20.0, "the debug image")
    assert (debug.width, debug.height, debug.encoding, debug.step) == (*MODEL_SIZE, "bgr8", 3 * MODEL_SIZE[0])
    model_input = cv2.resize(picture, MODEL_SIZE, interpolation=cv2.INTER_AREA)
    expected = draw_keypoints(model_input, InputFormat.RGB, reference_backend.run(model_input).keypoints)
    canvas = np.frombuffer(debug.data, np.uint8).reshape(debug.height, debug.width, 3)
    np.testing.assert_array_equal(canvas, expected)
    assert np.any(canvas != cv2.cvtColor(model_input, cv2.COLOR_RGB2BGR)), "no keypoints drawn"


def test_debug_image_is_off_by_default(start_node: Callable[..., NodeUnderTest], picture: np.ndarray) -> None:
    node = start_node()
    node.publisher(Image).publish(image_message(picture, "rgb8", 0))
    node.wait_for_keypoints(0)
    assert node.probe.count_publishers(f"{node.namespace}/disk_node/debug_image") == 0


def test_frames_lost_before_the_node_are_counted_once_and_explained_in_diagnostics(
    start_node: Callable[..., NodeUnderTest], picture: np.ndarray
) -> None:
    """DDS cannot be made to lose frames on demand in this process: the node's loss counter is given what DDS would
    give, the message info's sequence numbers and the message_lost event (test_dds_delivery.py loses real frames)."""
    node = start_node()
    publisher = node.publisher(Image)
    frame = image_message(picture, "rgb8", 0)
    publisher.publish(frame)  # a real frame: sequence numbering starts from its info
    node.wait_for_keypoints(0)
    loss = node.node._loss
    first = loss._last_sequence
    assert first is not None and loss._single_publisher
    for offset in (1, 2, 5, 9):  # frames first+3, +4, +6, +7, +8 never arrived
        loss.on_frame(frame, first + offset)
    loss.on_message_lost(SimpleNamespace(total_count_change=3))  # the same losses, reported in part by DDS
    assert node.node._statistics.report().lost == 5, "the larger count, not the sum"
    loss.on_message_lost(SimpleNamespace(total_count_change=4))
    values = node.wait_for_diagnostics(lambda values: values["lost_before_node"] == "7", "lost frames in diagnostics")
    advice = loss_advice(middleware_state(), len(frame.data), socket_receive_limit(), in_transport=True)
    assert values["level"] == DiagnosticStatus.WARN
    assert values["message"].startswith("lost ") and values["message"].endswith(f" frames before the node: {advice}")
    node.log.wait_for(lambda log: "frames are being lost before the node" in log.msg, 10.0, "a warning")
    node.probe.create_publisher(Image, "image", RELIABLE)  # a second publisher: sequence numbers interleave
    wait_until(lambda: node.node.count_publishers(node.node._subscription.topic_name) == 2, 10.0, "two publishers")
    node.wait_for_diagnostics(
        lambda values: values["lost_before_node"] == "7" and values["level"] == DiagnosticStatus.OK, "OK again"
    )
    loss.on_frame(frame, first + 100)
    loss.on_frame(frame, first + 200)
    assert node.node._statistics.report().lost == 7
