# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A node of the package in this process beside a probe node, in a namespace of its own, with inboxes for what it
publishes (:class:`NodeHarness`; the DiskNode's is :class:`NodeUnderTest`); and the image messages the tests send
it, stamped so that a Keypoints message names its frame."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Log
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from disk_trt_ros.msg import Keypoints
from disk_trt_ros.node.disk_node import DiskNode
from disk_trt_ros.node.executor_thread import ExecutorThread
from support.images import raw_message
from support.ros import stop_then_destroy
from support.waiting import wait_until

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
ROSOUT_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
BEST_EFFORT = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)


class Inbox:
    """Messages a subscription received, with their arrival times, for waiting on from the test thread."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.messages: list[tuple[float, Any]] = []

    def __call__(self, message: Any) -> None:
        with self._condition:
            self.messages.append((time.monotonic(), message))
            self._condition.notify_all()

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float, what: str) -> Any:
        with self._condition:
            found = self._condition.wait_for(
                lambda: next((m for _, m in self.messages if predicate(m)), None), timeout=timeout
            )
        if found is None:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        return found


def stamp_of(index: int) -> Time:
    return Time(sec=1_700_000_000 + index, nanosec=index)


def has_stamp(index: int) -> Callable[[Any], bool]:
    return lambda message: message.header.stamp == stamp_of(index)


class NodeHarness:
    """A node of the package and a probe node in one context, spun by an executor thread, with inboxes for what the
    node publishes, its diagnostics and its log. Each instance lives in its own namespace, so tests cannot hear each
    other.

    Args:
        context: the rclpy context.
        make: the node's class (it takes rclpy's ``context``, ``namespace`` and ``parameter_overrides``).
        node_name: its name (for its diagnostics and its log).
        parameters: its parameter overrides.
        outputs: the topics it publishes that the probe records, with their message types (``inboxes[topic]``); the
            first is its main output, which :meth:`input_publisher` waits for.
    """

    def __init__(
        self, context: Any, make: Callable[..., Any], node_name: str, parameters: dict[str, Any],
        outputs: dict[str, type],
    ) -> None:
        self.namespace = f"/t{uuid.uuid4().hex[:8]}"
        self.node_name = node_name
        overrides = [Parameter(name, value=value) for name, value in parameters.items()]
        self.node = make(context=context, namespace=self.namespace, parameter_overrides=overrides)
        self.probe = rclpy.create_node("probe", namespace=self.namespace, context=context)
        self.inboxes = {topic: Inbox() for topic in outputs}
        self._output_subscriptions = {
            topic: self.probe.create_subscription(message_type, topic, self.inboxes[topic], RELIABLE)
            for topic, message_type in outputs.items()
        }
        self.diagnostics = Inbox()
        self.probe.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, RELIABLE)
        self.log = Inbox()
        logger_name = f"{self.namespace[1:]}.{node_name}"
        self.probe.create_subscription(
            Log, "/rosout", lambda log: self.log(log) if log.name == logger_name else None, ROSOUT_QOS
        )
        self.executor = MultiThreadedExecutor(num_threads=2, context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)
        self._spinning = ExecutorThread(self.executor, f"harness{self.namespace}")

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            if status.name.startswith(f"{self.namespace}/{self.node_name}"):
                values = {value.key: value.value for value in status.values}
                self.diagnostics(values | {"level": status.level, "message": status.message})

    def input_publisher(self, message_type: type, topic: str, qos: QoSProfile = RELIABLE) -> Any:
        """A publisher on one of the node's input topics, returned once the node's subscription has matched it and
        the probe hears the node's main output."""
        publisher = self.probe.create_publisher(message_type, topic, qos)
        wait_until(publisher.get_subscription_count, 10.0, f"the node to subscribe {topic}")
        main, subscription = next(iter(self._output_subscriptions.items()))
        wait_until(subscription.get_publisher_count, 10.0, f"the node's {main} publisher")
        return publisher

    def wait_for_diagnostics(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        return self.diagnostics.wait_for(predicate, 10.0, f"diagnostics with {what}")

    def close(self) -> None:
        stop_then_destroy(self._spinning, [self.node, self.probe], timeout=2.0)


class NodeUnderTest(NodeHarness):
    """A DiskNode with inboxes for its keypoints and debug images."""

    def __init__(self, context: Any, parameters: dict[str, Any]) -> None:
        super().__init__(
            context, DiskNode, "disk_node", parameters, {"keypoints": Keypoints, "disk_node/debug_image": Image}
        )
        self.keypoints = self.inboxes["keypoints"]
        self.debug_images = self.inboxes["disk_node/debug_image"]

    def publisher(self, message_type: type, qos: QoSProfile = RELIABLE) -> Any:
        """A publisher on the node's image topic, returned once the node's subscription has matched it."""
        topic = "image/compressed" if message_type is CompressedImage else "image"
        return self.input_publisher(message_type, topic, qos)

    def wait_for_keypoints(self, index: int, timeout: float = 20.0) -> Keypoints:
        return self.keypoints.wait_for(has_stamp(index), timeout, f"keypoints of frame {index}")


def header_of(index: int) -> Header:
    return Header(stamp=stamp_of(index), frame_id="camera_optical")


def image_message(pixels: np.ndarray, encoding: str, index: int, padding: int = 0, bigendian: bool = False) -> Image:
    """An Image of ``pixels`` ([h, w, c] in the encoding's dtype) with the header of frame ``index``."""
    message = raw_message(pixels, encoding, padding, bigendian)
    message.header = header_of(index)
    return message


def compressed_message(data: bytes, image_format: str, index: int) -> CompressedImage:
    return CompressedImage(header=header_of(index), format=image_format, data=data)
