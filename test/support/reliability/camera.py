# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""This process's side of one node: publishes frames, receives and checks keypoints, follows the node's
diagnostics."""

from __future__ import annotations

import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from disk_trt_ros.msg import Keypoints
from support.reliability.frames import index_of, keypoints_problems, stamp_of

RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


class Camera:
    """This process's side of one node: publishes frames, receives and checks keypoints, follows diagnostics.

    Args:
        probe: the rclpy node that owns the publisher and subscriptions.
        name: the camera's ``frame_id``.
        image_topic, keypoints_topic: the node's topics (absolute names).
        node_name: the node's fully qualified name (its diagnostics status starts with it).
        max_keypoints: the model's K.
        message_type: ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage``.
    """

    def __init__(self, probe: Node, name: str, image_topic: str, keypoints_topic: str, node_name: str,
                 max_keypoints: int, message_type: type = Image) -> None:
        self.name = name
        self.node_name = node_name
        self.max_keypoints = max_keypoints
        self._lock = threading.Lock()
        self.sent_at: dict[int, float] = {}
        self.source_sizes: dict[int, tuple[int, int] | None] = {}
        self.bad_sent = 0
        self.received_at: dict[int, float] = {}
        self.duplicates = 0
        self.foreign = 0
        self.invalid: list[str] = []
        self.diagnostics: dict[str, str] = {}
        self._received_changed_at = time.monotonic()
        self.publisher = probe.create_publisher(message_type, image_topic, RELIABLE)
        self.keypoints_subscription = probe.create_subscription(
            Keypoints, keypoints_topic, self._on_keypoints, RELIABLE
        )
        probe.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, RELIABLE)

    def send(self, index: int, message: Any, source_size: tuple[int, int] | None) -> None:
        """Publish ``message`` as frame ``index`` (stamp and frame_id are set here).

        ``source_size``: the (width, height) the node must report for it, or None for a message the node must
        reject (keypoints for it count as invalid).
        """
        message.header.stamp = stamp_of(index)
        message.header.frame_id = self.name
        with self._lock:
            self.sent_at[index] = time.monotonic()
            self.source_sizes[index] = source_size
            self.bad_sent += source_size is None
        self.publisher.publish(message)

    def _on_keypoints(self, message: Keypoints) -> None:
        arrived = time.monotonic()
        index = index_of(message.header.stamp)
        with self._lock:
            if index is None or index not in self.sent_at or message.header.frame_id != self.name:
                self.foreign += 1
                return
            if index in self.received_at:
                self.duplicates += 1
                return
            self.received_at[index] = arrived
            size = self.source_sizes[index]
        if size is None:
            problems = ["keypoints published for a message that must be rejected"]
        else:
            problems = keypoints_problems(message, *size, self.max_keypoints)
        with self._lock:
            self.invalid += [f"frame {index}: {problem}" for problem in problems]

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            if status.name.startswith(f"{self.node_name}:"):
                values = {value.key: value.value for value in status.values}
                with self._lock:
                    if values.get("received") != self.diagnostics.get("received"):
                        self._received_changed_at = time.monotonic()
                    self.diagnostics = values

    def node_receives(self) -> bool:
        """The node's image subscription has matched this side's publisher (its diagnostics say so). Frames sent
        before that are not delivered to a volatile reader, and the node cannot count them as lost."""
        with self._lock:
            return int(self.diagnostics.get("image_publishers_matched", "0")) > 0

    def node_counts(self) -> dict[str, int]:
        """The node's counters from its latest diagnostics, those it reports (none before the first)."""
        with self._lock:
            values = dict(self.diagnostics)
        keys = {"received": "received", "published": "published", "dropped": "dropped", "rejected": "rejected",
                "failed": "inference_errors", "invalid_output": "invalid_output", "lost": "lost_before_node"}
        return {name: int(values[key]) for name, key in keys.items() if key in values}

    def settled(self) -> bool:
        """The node has accounted for every frame it received, this side has every keypoints message it published,
        and the node received every frame sent, or nothing more for two diagnostics periods."""
        counts = self.node_counts()
        if not counts:
            return False
        done = sum(counts[outcome] for outcome in ("published", "dropped", "rejected", "failed", "invalid_output"))
        with self._lock:
            quiet = time.monotonic() - self._received_changed_at > 2.5
            return (counts["received"] == done and len(self.received_at) == counts["published"]
                    and (counts["received"] == len(self.sent_at) or quiet))
