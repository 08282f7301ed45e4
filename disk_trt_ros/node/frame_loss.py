# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Messages lost before a node's callback (the detector's frames, the matcher's Keypoints): counted two ways, and
explained.

- The middleware's report: the subscription's ``message_lost`` event counts messages that will never arrive whole
  (a fragment or a whole sample missing), from any number of publishers. It is what a large message over DDS loses.
- Gaps in the publication sequence numbers: DDS numbers each publisher's messages, but rclpy does not say which
  publisher sent one, so gaps are counted only while the topic has exactly one publisher. They also count messages
  that arrived but were overwritten in the subscription's queue (KEEP_LAST) before the executor took them, which the
  middleware does not report.

Each count misses some losses and neither counts one twice, so the node reports the larger (``lost_before_node``,
see :class:`~disk_trt_ros.node.diagnostics.StatisticsReport`). A node with several subscriptions (the matcher in
stereo mode) has one :class:`FrameLoss` per topic, all counting into the same statistics. :meth:`FrameLoss.explain`
names the likely cause and the fix (:func:`disk_trt_ros.middleware.loss_advice`).
"""

from __future__ import annotations

from typing import Any, Callable

from rclpy.event_handler import QoSMessageLostInfo
from rclpy.impl.rcutils_logger import RcutilsLogger

from disk_trt_ros.middleware import IMAGE_LOSS, LossWording, MiddlewareState, loss_advice, socket_receive_limit
from disk_trt_ros.node.diagnostics import FrameStatistics, StatisticsReport

LOSS_LOG_THROTTLE_S = 30.0  # the warning that messages are being lost is logged at most once per this many seconds


def image_bytes(message: Any) -> int:
    """Size of an image message's data (``sensor_msgs/Image`` or ``CompressedImage``), in bytes."""
    return len(message.data)


def keypoints_bytes(message: Any) -> int:
    """Size of a ``disk_trt_ros/msg/Keypoints`` message's float32 arrays, in bytes (about 1 MB at K=2048)."""
    return 4 * (len(message.keypoints) + len(message.scores) + len(message.descriptors))


class FrameLoss:
    """Counts the messages lost before the node on one topic into ``statistics`` (``lost_in_transport``,
    ``sequence_gaps``).

    Args:
        statistics: the node's counters.
        count_publishers: the number of publishers on the topic now.
        middleware: what configures the middleware of the node's process (for the cause of losses).
        wording: what the cause calls the messages and their sender (default: camera frames).
        message_bytes: the size of a message of the topic, in bytes (default: an image's data).
    """

    def __init__(
        self, statistics: FrameStatistics, count_publishers: Callable[[], int], middleware: MiddlewareState,
        wording: LossWording = IMAGE_LOSS, message_bytes: Callable[[Any], int] = image_bytes,
    ) -> None:
        self._statistics = statistics
        self._count_publishers = count_publishers
        self._middleware = middleware
        self.wording = wording
        self._message_bytes = message_bytes
        self._last_sequence: int | None = None
        self._single_publisher = False
        self._frame_bytes = 0  # of the latest message

    @property
    def frame_bytes(self) -> int:
        """Size of the latest message, in bytes (0 before the first)."""
        return self._frame_bytes

    def on_message_lost(self, info: QoSMessageLostInfo) -> None:
        """The subscription's ``message_lost`` event (called by the executor)."""
        self._statistics.count("lost_in_transport", info.total_count_change)

    def on_frame(self, message: Any, sequence: int | None) -> None:
        """A message arrived with the publication sequence number of its message info (None or 0: unknown)."""
        self._frame_bytes = self._message_bytes(message)
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
        """The likely cause of the messages lost since the previous report, and the fix; empty when none were lost."""
        if not report.new_lost:
            return ""
        in_transport = report.new_lost_in_transport > 0
        return loss_advice(self._middleware, self._frame_bytes, socket_receive_limit(), in_transport, self.wording)

    def explain(self, report: StatisticsReport, logger: RcutilsLogger) -> str:
        """:meth:`cause`, also logged as a warning (at most once per :data:`LOSS_LOG_THROTTLE_S`) when not empty."""
        loss_cause = self.cause(report)
        if loss_cause:
            logger.warning(
                f"{self.wording.messages} are being lost before the node ({report.lost} so far): {loss_cause}",
                throttle_duration_sec=LOSS_LOG_THROTTLE_S,
            )
        return loss_cause
