# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``disk_node``: subscribes to images, publishes DISK keypoints and descriptors.

Topics (all remappable):
    ``image`` (sensor_msgs/Image) or ``image/compressed`` (sensor_msgs/CompressedImage, JPEG or PNG), chosen by
        ``image_transport``; the subscription's reliability is ``qos_reliability`` (best effort by default).
    ``keypoints`` (disk_trt_ros/msg/Keypoints), reliable, so best-effort and reliable subscribers both receive it.
    ``~/debug_image`` (sensor_msgs/Image, bgr8) when ``debug_image`` is true and someone subscribes: the model
        input with its keypoints, at most ``debug_image_max_rate`` per second.
    ``/diagnostics`` (diagnostic_msgs/DiagnosticArray), once a second.

The executor thread only hands each message to one worker thread through a slot of depth one: when the worker is
busy, a newer frame replaces the waiting one (counted as dropped), so latency stays bounded under any input rate.
A message that cannot be converted (malformed, undecodable, over ``max_image_pixels``) is rejected; a frame whose
model outputs break the contract is not published (``invalid_output``); both are counted and logged, throttled.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from typing import Any, Generic, NamedTuple, Sequence, TypeVar

import rclpy
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
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
from disk_trt_ros.msg import Keypoints
from disk_trt_ros.node.debug_image import RateLimiter, bgr8_message, draw_keypoints
from disk_trt_ros.node.diagnostics import FrameStatistics, diagnostic_array
from disk_trt_ros.node.keypoints_message import keypoints_message

IMAGE_TRANSPORTS = ("raw", "compressed")
RELIABILITIES = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}
LOG_THROTTLE_S = 5.0
MAX_REPORTED_ENCODINGS = 32  # a publisher inventing encodings must not grow the node's memory

WORKER_JOIN_TIMEOUT_S = 1.5

T = TypeVar("T")


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


class _Parameter(NamedTuple):
    default: Any
    descriptor: ParameterDescriptor
    choices: tuple[str, ...]


def _parameter(default: Any, description: str, choices: Sequence[str] = (), **ranges: Any) -> _Parameter:
    """A read-only parameter (read once at start); ``choices`` are listed in the descriptor and enforced."""
    constraints = f"one of: {', '.join(choices)}" if choices else ""
    descriptor = ParameterDescriptor(
        description=description, additional_constraints=constraints, read_only=True, **ranges
    )
    return _Parameter(default, descriptor, tuple(choices))


_PARAMETERS: dict[str, _Parameter] = {
    "model": _parameter(
        "", "Exported ONNX model (python -m disk_trt_ros export); its metadata gives the input size, K and format"),
    "engine": _parameter(
        "", "TensorRT engine file built from the model (build_engine); empty: MODEL.<precision>.engine beside it"),
    "backend": _parameter(
        "auto", "Inference backend; auto picks TensorRT where it and a GPU are available, else ONNX Runtime",
        BackendName.values()),
    "precision": _parameter("fp16", "Inference precision of TensorRT, and of PyTorch on a GPU", Precision.values()),
    "image_transport": _parameter(
        "raw", "raw subscribes 'image' (sensor_msgs/Image), compressed 'image/compressed' (JPEG or PNG)",
        IMAGE_TRANSPORTS),
    "qos_reliability": _parameter(
        "best_effort", "Reliability of the image subscription (best_effort receives both kinds of publisher)",
        tuple(RELIABILITIES)),
    "debug_image": _parameter(False, "Publish ~/debug_image, the model input with the keypoints drawn"),
    "debug_image_max_rate": _parameter(
        5.0, "Most ~/debug_image messages per second (0: one per frame)",
        floating_point_range=[FloatingPointRange(from_value=0.0, to_value=1000.0)]),
    "threads": _parameter(
        0, "CPU threads of ONNX Runtime and PyTorch (0: the library's default)",
        integer_range=[IntegerRange(from_value=0, to_value=MAX_THREADS, step=1)]),
    "max_image_pixels": _parameter(
        DEFAULT_MAX_IMAGE_PIXELS, "Largest image accepted, width x height; larger ones (by their header, for JPEG and "
        "PNG) are rejected before decoding. Default: 8192x4320 (DCI 8K; covers 7680x4320)",
        integer_range=[IntegerRange(from_value=1, to_value=MAX_IMAGE_PIXELS_LIMIT, step=1)]),
}


def declare_settings(node: Node) -> NodeSettings:
    """Declare the node's parameters and return their checked values (a leading ``~`` in paths expanded).

    Raises:
        NodeConfigurationError: a value of the wrong type, out of range, not among the allowed choices, or no model.
    """
    values: dict[str, Any] = {}
    for name, parameter in _PARAMETERS.items():
        try:
            values[name] = node.declare_parameter(name, parameter.default, parameter.descriptor).value
        except (InvalidParameterTypeException, InvalidParameterValueException) as error:
            raise NodeConfigurationError(
                f"invalid parameter '{name}' ({parameter.descriptor.description}): {error}"
            ) from None
        if parameter.choices and values[name] not in parameter.choices:
            raise NodeConfigurationError(
                f"invalid parameter '{name}': {values[name]!r} is not one of {', '.join(parameter.choices)}"
            )
    for name in ("model", "engine"):
        values[name] = os.path.expanduser(values[name])
    if not values["model"]:
        raise NodeConfigurationError(
            "parameter 'model' is empty: set it to an exported ONNX model "
            "(python -m disk_trt_ros export --output disk.onnx), e.g. --ros-args -p model:=disk.onnx"
        )
    return NodeSettings(**values)


class LatestSlot(Generic[T]):
    """A hand-over of depth one between threads: a new item replaces the one not yet taken."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: T | None = None
        self._closed = False

    def put(self, item: T) -> bool:
        """Offer ``item``; returns True when it replaced an item nobody took (that one is dropped)."""
        with self._condition:
            replaced = self._item is not None
            self._item = item
            self._condition.notify()
        return replaced

    def take(self) -> T | None:
        """Wait for an item and take it; None once the slot is closed."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is not None or self._closed)
            if self._closed:
                return None
            item, self._item = self._item, None
        return item

    def close(self) -> None:
        """Wake the consumer; every later :meth:`take` returns None."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


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
        self._last_sequence: int | None = None
        self._single_publisher = False
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
        if self.settings.image_transport == "compressed":
            self._subscription = self.create_subscription(
                CompressedImage, "image/compressed", self._on_image, image_qos
            )
        else:
            self._subscription = self.create_subscription(Image, "image", self._on_image, image_qos)
        self._diagnostics_timer = self.create_timer(
            1.0, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )

        self._slot: LatestSlot[Frame] = LatestSlot()
        self._worker = threading.Thread(target=self._work, name="disk_inference", daemon=True)
        self._worker.start()
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
        self._count_lost(info.get("publication_sequence_number"))
        if self._slot.put(Frame(message, time.monotonic())):
            self._statistics.count("dropped")

    def _count_lost(self, sequence: int | None) -> None:
        """Count frames lost before the node from gaps in the publication sequence numbers.

        DDS numbers each publisher's messages, but rclpy does not say which publisher sent one, so gaps are counted
        only while the topic has exactly one publisher (checked when counting starts and once a second after).
        """
        if sequence and self._last_sequence is None:
            self._single_publisher = self.count_publishers(self._subscription.topic_name) == 1
        if not sequence or not self._single_publisher:
            self._last_sequence = None
            return
        if self._last_sequence is not None and sequence > self._last_sequence + 1:
            self._statistics.count("lost", sequence - self._last_sequence - 1)
        self._last_sequence = sequence

    def _work(self) -> None:
        while (frame := self._slot.take()) is not None:
            try:
                self._process(frame)
            except Exception as error:  # the worker must outlive any single frame
                if not rclpy.ok(context=self.context):
                    return  # shutting down: publishers are gone
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
        self._single_publisher = self.count_publishers(self._subscription.topic_name) == 1
        info = self._backend.info
        settings = {
            "backend": self._backend.describe(),
            "model": self.settings.model,
            "input_size": f"{info.width}x{info.height} {info.input_format.value}",
            "max_keypoints": str(info.max_keypoints),
            "image_topic": self._subscription.topic_name,
        }
        self._diagnostics_publisher.publish(
            diagnostic_array(
                self._statistics.report(),
                self.get_clock().now().to_msg(),
                name=f"{self.get_fully_qualified_name()}: DISK keypoints",
                hardware_id=str(self._backend.name),
                settings=settings,
            )
        )

    def destroy_node(self) -> None:
        """Stop the worker (waiting at most ``WORKER_JOIN_TIMEOUT_S`` for the frame in hand), free the backend."""
        self._slot.close()
        self._worker.join(WORKER_JOIN_TIMEOUT_S)
        if not self._worker.is_alive():
            self._backend.close()
        super().destroy_node()


def spin_until_shutdown(executor: Executor) -> None:
    """Spin until SIGINT/SIGTERM (rclpy's handlers) or Ctrl-C shut the context down."""
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:  # RCLError when the shutdown lands between two waits of the executor
        if executor.context.ok():
            raise


def _shutdown_requested(number: int, frame: Any) -> None:
    """Python's handler of SIGINT and SIGTERM under rclpy's: rclpy has already shut the context down."""


def main(args: Sequence[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM; returns 0, or 2 when it cannot start (the reason is logged).

    rclpy's signal handlers shut the context down and then call the handler that was there before them: Python's,
    which raises KeyboardInterrupt wherever the main thread is, also in the middle of the clean-up when a second SIGINT
    follows the first (Ctrl-C under ``ros2 launch`` reaches the node from the terminal and again from launch).
    Installed before ``rclpy.init``, :func:`_shutdown_requested` takes that place, so any number of signals only shut
    down, once. After the clean-up both signals are ignored: the interpreter's exit gives signals with Python handlers
    their default action back, and SIGINT's would end the process with status -2 while it exits.
    """
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, _shutdown_requested)
    rclpy.init(args=args)
    try:
        try:
            node = DiskNode()
        except NodeConfigurationError as error:
            rclpy.logging.get_logger(NODE_NAME).fatal(str(error))
            return 2
        except RuntimeError:  # RCLError: a signal shut the context down while the node was starting
            if rclpy.ok():
                raise
            return 0
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            spin_until_shutdown(executor)
        finally:
            executor.shutdown(timeout_sec=0.5)
            node.destroy_node()
    finally:
        rclpy.try_shutdown()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)
    return 0
