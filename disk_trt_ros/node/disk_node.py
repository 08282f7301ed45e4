# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``disk_node``: subscribes to images, publishes DISK keypoints and descriptors.

Topics (all remappable):
    ``image`` (sensor_msgs/Image) or ``image/compressed`` (sensor_msgs/CompressedImage, JPEG or PNG), chosen by
        ``image_transport``; the subscription's reliability is ``qos_reliability`` (best effort by default).
    ``keypoints`` (disk_trt_ros/msg/Keypoints), reliable, so best-effort and reliable subscribers both receive it.
    ``~/debug_image`` (sensor_msgs/Image, bgr8) when ``debug_image`` is true and someone subscribes: the model
        input with its keypoints, at most ``debug_image_max_rate`` per second.
    ``/diagnostics`` (diagnostic_msgs/DiagnosticArray), once a second; WARN with the likely cause and the fix while
        frames are lost before the node.

The executor thread only hands each message to one worker thread through a slot of depth one
(:class:`~disk_trt_ros.node.newest_worker.NewestWorker`): when the worker is busy, a newer frame replaces the
waiting one (counted as dropped), so latency stays bounded under any input rate. A message that cannot be converted
(malformed, undecodable, over ``max_image_pixels``) is rejected; a frame whose model outputs break the contract is
not published (``invalid_output``); both are counted and logged, throttled. Frames lost before the node are counted
and explained (:class:`~disk_trt_ros.node.frame_loss.FrameLoss`); ``main`` configures the middleware first
(:func:`~disk_trt_ros.node.process.run_node`, docs/dds.md).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Sequence

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import FloatingPointRange, IntegerRange
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from disk_trt_ros.contract import NODE_NAME, BackendName, Precision
from disk_trt_ros.errors import (
    ImageConversionError,
    InvalidOutputError,
    NodeConfigurationError,
    UnsupportedEncodingError,
)
from disk_trt_ros.image_conversion import DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_LIMIT, ImageConverter
from disk_trt_ros.inference.base import MAX_THREADS, Backend
from disk_trt_ros.inference.registry import create_backend, resolve_backend_name
from disk_trt_ros.middleware import middleware_state
from disk_trt_ros.msg import Keypoints
from disk_trt_ros.node.debug_image import RateLimiter, bgr8_message, draw_keypoints
from disk_trt_ros.node.diagnostics import LOG_THROTTLE_S, FrameStatistics, diagnostic_array
from disk_trt_ros.node.frame_loss import FrameLoss
from disk_trt_ros.node.keypoints_message import keypoints_message
from disk_trt_ros.node.newest_worker import NewestWorker
from disk_trt_ros.node.parameters import RELIABILITIES, Parameter, declare_parameters, parameter
from disk_trt_ros.node.process import run_node

IMAGE_TRANSPORTS = ("raw", "compressed")
MAX_REPORTED_ENCODINGS = 32  # a publisher inventing encodings must not grow the node's memory


@dataclasses.dataclass(frozen=True)
class NodeSettings:
    """The node's parameters, checked (see :data:`_PARAMETERS` for their meaning)."""

    model: str
    engine: str
    backend: str
    precision: str
    image_transport: str
    qos_reliability: str
    debug_image: bool
    debug_image_max_rate: float
    threads: int
    max_image_pixels: int


_PARAMETERS: dict[str, Parameter] = {
    "model": parameter(
        "", "Exported ONNX model (python -m disk_trt_ros export); its metadata gives the input size, K and format"),
    "engine": parameter(
        "", "TensorRT engine file built from the model (build_engine); empty: MODEL.<precision>.engine beside it"),
    "backend": parameter(
        "auto", "Inference backend; auto picks TensorRT where it and a GPU are available, else ONNX Runtime",
        BackendName.values()),
    "precision": parameter("fp16", "Inference precision of TensorRT, and of PyTorch on a GPU", Precision.values()),
    "image_transport": parameter(
        "raw", "raw subscribes 'image' (sensor_msgs/Image), compressed 'image/compressed' (JPEG or PNG)",
        IMAGE_TRANSPORTS),
    "qos_reliability": parameter(
        "best_effort", "Reliability of the image subscription (best_effort receives both kinds of publisher)",
        tuple(RELIABILITIES)),
    "debug_image": parameter(False, "Publish ~/debug_image, the model input with the keypoints drawn"),
    "debug_image_max_rate": parameter(
        5.0, "Most ~/debug_image messages per second (0: one per frame)",
        floating_point_range=[FloatingPointRange(from_value=0.0, to_value=1000.0)]),
    "threads": parameter(
        0, "CPU threads of ONNX Runtime and PyTorch (0: the library's default)",
        integer_range=[IntegerRange(from_value=0, to_value=MAX_THREADS, step=1)]),
    "max_image_pixels": parameter(
        DEFAULT_MAX_IMAGE_PIXELS, "Largest image accepted, width x height; larger ones (by their header, for JPEG and "
        "PNG) are rejected before decoding. Default: 8192x4320 (DCI 8K; covers 7680x4320)",
        integer_range=[IntegerRange(from_value=1, to_value=MAX_IMAGE_PIXELS_LIMIT, step=1)]),
}


def declare_settings(node: Node) -> NodeSettings:
    """Declare the node's parameters and return their checked values (a leading ``~`` in paths expanded).

    Raises:
        NodeConfigurationError: a value of the wrong type, out of range, not among the allowed choices, or no model.
    """
    values = declare_parameters(node, _PARAMETERS)
    for name in ("model", "engine"):
        values[name] = os.path.expanduser(values[name])
    if not values["model"]:
        raise NodeConfigurationError(
            "parameter 'model' is empty: set it to an exported ONNX model "
            "(python -m disk_trt_ros export --output disk.onnx), e.g. --ros-args -p model:=disk.onnx"
        )
    return NodeSettings(**values)


@dataclasses.dataclass(frozen=True)
class Frame:
    """An image message and when it arrived (``time.monotonic()`` seconds)."""

    message: Image | CompressedImage
    received_at: float


class DiskNode(Node):
    """DISK keypoints for every image the worker can keep up with; see the module docstring for the topics."""

    def __init__(self, **node_options: Any) -> None:
        super().__init__(NODE_NAME, **node_options)
        try:
            self.settings = declare_settings(self)
            self._backend = self._load_backend(self.settings)
        except NodeConfigurationError:
            super().destroy_node()
            raise
        info = self._backend.info
        self._converter = ImageConverter(info.height, info.width, info.input_format, self.settings.max_image_pixels)
        self._statistics = FrameStatistics()
        self._reported_encodings: set[str] = set()
        self._loss = FrameLoss(
            self._statistics, lambda: self.count_publishers(self._subscription.topic_name), middleware_state()
        )
        self._debug_rate = RateLimiter(self.settings.debug_image_max_rate)

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._keypoints_publisher = self.create_publisher(Keypoints, "keypoints", reliable)
        self._debug_publisher = (
            self.create_publisher(Image, "~/debug_image", reliable) if self.settings.debug_image else None
        )
        self._diagnostics_publisher = self.create_publisher(DiagnosticArray, "/diagnostics", reliable)
        image_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=5,
            reliability=RELIABILITIES[self.settings.qos_reliability],
            durability=DurabilityPolicy.VOLATILE,
        )
        events = SubscriptionEventCallbacks(message_lost=self._loss.on_message_lost)
        if self.settings.image_transport == "compressed":
            self._subscription = self.create_subscription(
                CompressedImage, "image/compressed", self._on_image, image_qos, event_callbacks=events
            )
        else:
            self._subscription = self.create_subscription(
                Image, "image", self._on_image, image_qos, event_callbacks=events
            )
        self._diagnostics_timer = self.create_timer(
            1.0, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )

        self._worker: NewestWorker[Frame] = NewestWorker(
            "disk_inference", self._process, self._on_failure, lambda: rclpy.ok(context=self.context)
        )
        self.get_logger().info(
            f"ready: {self._backend.describe()}; subscribed to {self._subscription.topic_name} "
            f"({self.settings.qos_reliability}), publishing {self._keypoints_publisher.topic_name}"
        )

    def _load_backend(self, settings: NodeSettings) -> Backend:
        try:
            backend_name, reason = resolve_backend_name(settings.backend)
            self.get_logger().info(f"backend {backend_name}: {reason}")
            return create_backend(
                backend_name,
                settings.model,
                precision=settings.precision,
                threads=settings.threads or None,
                engine_path=settings.engine or None,
                report=self.get_logger().info,
            )
        except Exception as error:  # any failure to load is a start-up error with its own message
            raise NodeConfigurationError(
                f"cannot load model '{settings.model}' with backend {settings.backend} (parameter 'model'): {error}"
            ) from error

    def _on_image(self, message: Image | CompressedImage, info: dict[str, Any]) -> None:
        self._statistics.count("received")
        self._loss.on_frame(message, info.get("publication_sequence_number"))
        if self._worker.offer(Frame(message, time.monotonic())):
            self._statistics.count("dropped")

    def _on_failure(self, error: Exception) -> None:
        self._statistics.count("failed")
        self.get_logger().error(f"processing a frame failed: {error!r}", throttle_duration_sec=LOG_THROTTLE_S)

    def _process(self, frame: Frame) -> None:
        message = frame.message
        try:
            if isinstance(message, CompressedImage):
                model_input = self._converter.from_compressed(message)
            else:
                model_input = self._converter.from_image(message)
        except ImageConversionError as error:
            self._statistics.count("rejected")
            self._report_rejection(error)
            return
        try:
            features = self._backend.run(model_input.image)
        except InvalidOutputError as error:  # the model, not the frame: nothing of it is published
            self._statistics.count("invalid_output")
            self.get_logger().error(f"not published: {error}", throttle_duration_sec=LOG_THROTTLE_S)
            return
        self._keypoints_publisher.publish(keypoints_message(features, model_input, message.header))
        self._statistics.count_published(time.monotonic() - frame.received_at)
        debug = self._debug_publisher
        if debug is not None and debug.get_subscription_count() and self._debug_rate.ready():
            canvas = draw_keypoints(model_input.image, self._converter.input_format, features.keypoints)
            debug.publish(bgr8_message(canvas, message.header))

    def _report_rejection(self, error: ImageConversionError) -> None:
        """Log a rejected image: once per unsupported encoding (for the first few encodings seen), else throttled."""
        if isinstance(error, UnsupportedEncodingError) and len(self._reported_encodings) < MAX_REPORTED_ENCODINGS:
            if error.encoding not in self._reported_encodings:
                self._reported_encodings.add(error.encoding)
                self.get_logger().error(f"rejected image: {error} (reported once per encoding)")
            return
        self.get_logger().error(f"rejected image: {error}", throttle_duration_sec=LOG_THROTTLE_S)

    def _publish_diagnostics(self) -> None:
        self._loss.check_publishers()
        info = self._backend.info
        settings = {
            "backend": self._backend.describe(),
            "model": self.settings.model,
            "input_size": f"{info.width}x{info.height} {info.input_format.value}",
            "max_keypoints": str(info.max_keypoints),
            "image_topic": self._subscription.topic_name,
            "image_publishers_matched": str(self._subscription.get_publisher_count()),
        }
        report = self._statistics.report()
        loss_cause = self._loss.explain(report, self.get_logger())
        self._diagnostics_publisher.publish(
            diagnostic_array(
                report,
                self.get_clock().now().to_msg(),
                name=f"{self.get_fully_qualified_name()}: DISK keypoints",
                hardware_id=str(self._backend.name),
                settings=settings,
                loss_cause=loss_cause,
            )
        )

    def destroy_node(self) -> None:
        """Stop the worker (waiting a little for the frame in hand), free the backend."""
        if self._worker.stop():
            self._backend.close()
        super().destroy_node()


def main(args: Sequence[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM; returns 0, or 2 when it cannot start (the reason is logged)."""
    return run_node(DiskNode, NODE_NAME, args)
