# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""This process's view of one node over DDS: when each frame's Keypoints arrived, and the node's /diagnostics."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

from disk_trt_ros.contract import NODE_NAME
from disk_trt_ros.msg import Keypoints
from support.dds.camera import qos_profile
from support.dds.environment import middleware_environment
from support.reliability.frames import index_of
from support.ros import NodeSpinner


class Probe:
    """Receives one node's Keypoints (arrival per frame index) and its latest /diagnostics, on a context of its own.

    Args:
        domain_id: the run's ROS domain.
        middleware: middleware variables of this participant (e.g. LARGE_DATA, whose peers must use it too).
        namespace: the node's namespace ("" for none).
        keypoints_qos: reliability of the Keypoints subscription (a VO front end may well use best effort).

    ``keypoints[index]`` holds ``time.time()`` seconds of the Keypoints callback (``callback``) and the DDS source
    and reception timestamps of the message (``source``, ``received``); ``diagnostics`` the node's latest status:
    its values, with ``level`` and ``message`` added; ``last_warning`` the message of its latest WARN status.
    """

    def __init__(self, domain_id: int, middleware: dict[str, str] | None = None, namespace: str = "",
                 keypoints_qos: str = "reliable") -> None:
        self.namespace = namespace
        self.node_name = f"{namespace}/{NODE_NAME}"
        with middleware_environment(middleware or {}):
            self.context = rclpy.Context()
            rclpy.init(context=self.context, domain_id=domain_id)
            self.node = rclpy.create_node(f"probe_{os.getpid()}", namespace=namespace or None, context=self.context)
        self.node.create_subscription(Keypoints, "keypoints", self._on_keypoints, qos_profile(keypoints_qos, 100))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics,
                                      qos_profile("reliable", 10))
        self.lock = threading.Lock()
        self.keypoints: dict[int, dict[str, float]] = {}
        self.diagnostics: dict[str, Any] = {}
        self.last_warning = ""
        self._diagnostics_count = 0
        self._spinner = NodeSpinner(self.node, self.context)

    def _on_keypoints(self, message: Keypoints, info: dict[str, Any]) -> None:
        index = index_of(message.header.stamp)
        if index is not None:
            arrival = {"callback": time.time(), "source": info["source_timestamp"] * 1e-9,
                       "received": info["received_timestamp"] * 1e-9}
            with self.lock:
                self.keypoints[index] = arrival

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            if status.name.startswith(f"{self.node_name}:"):
                values = {value.key: value.value for value in status.values}
                with self.lock:
                    self.diagnostics = {**values, "level": status.level, "message": status.message}
                    self._diagnostics_count += 1
                    if status.level == DiagnosticStatus.WARN:
                        self.last_warning = status.message

    def reset(self) -> None:
        with self.lock:
            self.keypoints, self.diagnostics, self.last_warning = {}, {}, ""

    def counts(self) -> dict[str, int]:
        """The node's counters from its latest diagnostics (empty before the first)."""
        with self.lock:
            values = dict(self.diagnostics)
        keys = ("received", "published", "dropped", "lost_before_node", "rejected")
        return {key: int(values[key]) for key in keys if key in values}

    def wait_for_node(self, node: Any, timeout: float) -> bool:
        """Until the node (a ``subprocess.Popen``) has its keypoints publisher and image subscription matched here
        and its first diagnostics arrived; False if it ends or time runs out."""
        deadline = time.monotonic() + timeout
        keypoints, image = self.node.resolve_topic_name("keypoints"), self.node.resolve_topic_name("image")
        while time.monotonic() < deadline and node.poll() is None:
            if self.node.count_publishers(keypoints) and self.node.count_subscribers(image) and self.diagnostics:
                return True
            time.sleep(0.1)
        return False

    def next_diagnostics(self, count: int = 2, timeout: float = 5.0) -> dict[str, int]:
        """The node's counters after ``count`` more diagnostics (the node publishes once a second: the second one
        was made after everything before this call); empty if they do not come within ``timeout``."""
        with self.lock:
            target = self._diagnostics_count + count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self._diagnostics_count >= target:
                    break
            time.sleep(0.05)
        else:
            return {}
        return self.counts()

    def close(self) -> None:
        self._spinner.close(timeout=1.0)
        rclpy.try_shutdown(context=self.context)
