# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Frames lost before the node's image callback: counted two ways, and explained.

- The middleware's report: the subscription's ``message_lost`` event counts frames that will never arrive whole
  (a fragment or a whole sample missing), from any number of publishers. It is what a large frame over DDS loses.
- Gaps in the publication sequence numbers: DDS numbers each publisher's messages, but rclpy does not say which
  publisher sent one, so gaps are counted only while the topic has exactly one publisher. They also count frames that
  arrived but were overwritten in the subscription's queue (KEEP_LAST 5) before the executor took them, which the
  middleware does not report.

Each count misses some losses and neither counts one twice, so the node reports the larger (``lost_before_node``,
see :class:`~disk_trt_ros.node.diagnostics.StatisticsReport`). :meth:`FrameLoss.cause` names the likely cause and
the fix (:func:`disk_trt_ros.middleware.loss_advice`).
"""

from __future__ import annotations

from typing import Any, Callable

from rclpy.event_handler import QoSMessageLostInfo

from disk_trt_ros.middleware import MiddlewareState, loss_advice, socket_receive_limit
from disk_trt_ros.node.diagnostics import FrameStatistics, StatisticsReport


class FrameLoss:
    """Counts the frames lost before the node into ``statistics`` (``lost_in_transport``, ``sequence_gaps``).

    Args:
        statistics: the node's counters.
        count_publishers: the number of publishers on the image topic now.
        middleware: what configures the middleware of the node's process (for the cause of losses).
    """

    def __init__(
        self, statistics: FrameStatistics, count_publishers: Callable[[], int], middleware: MiddlewareState
    ) -> None:
        self._statistics = statistics
        self._count_publishers = count_publishers
        self._middleware = middleware
        self._last_sequence: int | None = None
        self._single_publisher = False
        self._frame_bytes = 0  # of the latest image message's data

    def on_message_lost(self, info: QoSMessageLostInfo) -> None:
        """The subscription's ``message_lost`` event (called by the executor)."""
        self._statistics.count("lost_in_transport", info.total_count_change)

    def on_frame(self, message: Any, sequence: int | None) -> None:
        """An image message arrived with the publication sequence number of its message info (None or 0: unknown)."""
        self._frame_bytes = len(message.data)
        if sequence and self._last_sequence is None:
            self.check_publishers()
        if not sequence or not self._single_publisher:
            self._last_sequence = None
            return
        if self._last_sequence is not None and sequence > self._last_sequence + 1:
            self._statistics.count("sequence_gaps", sequence - self._last_sequence - 1)
        self._last_sequence = sequence

    def check_publishers(self) -> None:
        """Whether the topic has a single publisher (when counting starts, and once a second after)."""
        self._single_publisher = self._count_publishers() == 1

    def cause(self, report: StatisticsReport) -> str:
        """The likely cause of the frames lost since the previous report, and the fix; empty when none were lost."""
        if not report.new_lost:
            return ""
        in_transport = report.new_lost_in_transport > 0
        return loss_advice(self._middleware, self._frame_bytes, socket_receive_limit(), in_transport)
