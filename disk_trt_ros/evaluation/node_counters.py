# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""What the node itself counted during a replay, from its /diagnostics: the frames it received, dropped while
inference was busy, rejected and failed, so that ``eval --node`` can tell frames lost in transport (published here,
never received by the node) from frames the node dropped.

The node publishes its counters (cumulative since it started) about once a second. The replay reads them before its
first frame and after its last one, each time from the second report that arrives after the moment that matters:
the first may have been made before it.
"""

from __future__ import annotations

import threading

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

# The node's diagnostics keys this module reads (disk_trt_ros/node/diagnostics.py writes them).
COUNTERS = ("received", "published", "dropped", "rejected", "inference_errors", "invalid_output", "lost_before_node")
REPORTS_TO_WAIT = 2
WAIT_S = 3.0  # two reports of a node publishing once a second, with room for a busy machine

Counters = dict[str, int]


class NodeCounters:
    """The latest counters of the node that subscribes ``image_topic`` (its diagnostics' ``image_topic`` value).

    Args:
        node: the rclpy node to subscribe ``/diagnostics`` with (spun by its owner).
        image_topic: the fully qualified image topic the replay publishes to.
    """

    def __init__(self, node: Node, image_topic: str) -> None:
        self._image_topic = image_topic
        self._condition = threading.Condition()
        self._latest: Counters | None = None
        self._reports = 0
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, reliable)

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            values = {value.key: value.value for value in status.values}
            if values.get("image_topic") == self._image_topic and all(key in values for key in COUNTERS):
                with self._condition:
                    self._latest = {key: int(values[key]) for key in COUNTERS}
                    self._reports += 1
                    self._condition.notify_all()

    def after_next_reports(self, reports: int = REPORTS_TO_WAIT, timeout: float = WAIT_S) -> Counters | None:
        """The counters once ``reports`` more reports have arrived; None when they do not within ``timeout``."""
        with self._condition:
            target = self._reports + reports
            if not self._condition.wait_for(lambda: self._reports >= target, timeout=timeout):
                return None
            return dict(self._latest or {})


def frame_accounting(
    published: int, unanswered: int, before: Counters | None, after: Counters | None
) -> dict[str, int | None]:
    """Why frames of a replay went ``unanswered`` (published here, no keypoints received here).

    From the node's counters ``before`` and ``after`` the replay (None where they are unknown):

    - ``lost_in_transport``: published here, never received by the node (DDS lost them, or the subscription's queue
      overflowed before the node's executor took them);
    - ``dropped``: received, then replaced by a newer frame while inference was busy;
    - ``rejected`` (bad image messages), ``inference_errors`` and ``invalid_output`` (outputs that broke the contract,
      not published);
    - ``lost_counted_by_node``: what the node itself noticed as lost (its ``lost_before_node``; at most
      ``lost_in_transport``);
    - ``unanswered``: as given.

    The node's counts are unknown without its diagnostics, or when it received more frames than this replay sent
    (another publisher on its topic).
    """
    change = {key: after[key] - before[key] for key in COUNTERS} if before and after else {}
    if change and change["received"] > published:
        change = {}
    return {
        "lost_in_transport": published - change["received"] if change else None,
        "dropped": change.get("dropped"),
        "rejected": change.get("rejected"),
        "inference_errors": change.get("inference_errors"),
        "invalid_output": change.get("invalid_output"),
        "lost_counted_by_node": change.get("lost_before_node"),
        "unanswered": unanswered,
    }
