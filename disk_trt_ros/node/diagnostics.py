# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Frame statistics of a node (the detector's frames, the matcher's pairs) and their ``diagnostic_msgs/DiagnosticArray``
report."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Callable

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

LOG_THROTTLE_S = 5.0  # a repeated warning or error is logged at most once per this many seconds
LATENCY_WINDOW = 256  # latency percentiles (and mean sizes) are over the last this many published messages
STANDARD_EVENTS = (
    "received", "published", "dropped", "lost_in_transport", "sequence_gaps", "rejected", "failed", "invalid_output"
)


@dataclasses.dataclass(frozen=True)
class StatisticsReport:
    """Counts since start, the publish rate since the previous report, latency percentiles over the window.

    Latency is from the image's arrival in the node to the publication of its keypoints, in seconds; NaN before
    the first frame. ``new_rejected``, ``new_failed``, ``new_invalid_output`` and ``new_lost`` count the frames since
    the previous report. ``invalid_output`` counts frames whose model outputs broke the contract (not published).
    ``lost`` counts frames that never reached the node's callback, at least: the larger of the frames the middleware
    reported lost (``lost_in_transport``: the subscription's message_lost event, frames that did not arrive whole,
    from any number of publishers) and the gaps in the publication sequence numbers while the topic has a single
    publisher (these also count frames that arrived but were overwritten in the subscription's queue before the
    executor took them); ``new_lost_in_transport`` counts the middleware's reports since the previous report. The
    matcher counts its Keypoints messages the same way, summed over its topics (:mod:`disk_trt_ros.node.frame_loss`).
    ``size_mean`` is the mean size of the published messages over the window (keypoints or matches each; NaN when
    none was given), ``others`` the counts of other events (the matcher's ``out_of_order``, ``unpaired``, ``empty``).
    """

    received: int
    published: int
    dropped: int
    lost: int
    rejected: int
    failed: int
    invalid_output: int
    rate_hz: float
    latency_p50_s: float
    latency_p99_s: float
    new_rejected: int
    new_failed: int
    new_invalid_output: int
    new_lost: int
    new_lost_in_transport: int
    size_mean: float = float("nan")
    others: dict[str, int] = dataclasses.field(default_factory=dict)


class FrameStatistics:
    """Thread-safe counters of what happened to each frame (the executor counts arrivals, the worker the rest).

    received = published + dropped (replaced in the slot before the worker took them) + rejected (bad message)
    + failed (inference error) + invalid_output (outputs that break the contract) + frames in flight; frames sent to
    the node = received + lost (at least ``lost``: see :class:`StatisticsReport`).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts = collections.Counter[str]()
        self._latencies: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._sizes: collections.deque[int] = collections.deque(maxlen=LATENCY_WINDOW)
        self._previous_counts = collections.Counter[str]()
        self._previous_time = clock()

    def count(self, event: str, frames: int = 1) -> None:
        """Count ``frames`` (default one) ``received``, ``dropped``, ``rejected``, ``failed``, ``invalid_output``,
        ``lost_in_transport`` (reported by the middleware), ``sequence_gaps`` (missing from a single publisher's
        sequence numbers), or another event (reported under its name)."""
        with self._lock:
            self._counts[event] += frames

    def count_published(self, latency_s: float, size: int | None = None) -> None:
        """Count a published message, its latency and, when given, its size (keypoints or matches)."""
        with self._lock:
            self._counts["published"] += 1
            self._latencies.append(latency_s)
            if size is not None:
                self._sizes.append(size)

    def report(self) -> StatisticsReport:
        """The statistics now; starts the next rate period."""
        with self._lock:
            now = self._clock()
            counts, previous = self._counts.copy(), self._previous_counts
            latencies = np.array(self._latencies, dtype=np.float64)
            size_mean = float(np.mean(self._sizes)) if self._sizes else float("nan")
            elapsed = now - self._previous_time
            self._previous_counts, self._previous_time = counts, now
        p50, p99 = np.percentile(latencies, [50, 99]) if latencies.size else (float("nan"), float("nan"))
        lost, previous_lost = _lost(counts), _lost(previous)
        return StatisticsReport(
            received=counts["received"],
            published=counts["published"],
            dropped=counts["dropped"],
            lost=lost,
            rejected=counts["rejected"],
            failed=counts["failed"],
            invalid_output=counts["invalid_output"],
            rate_hz=(counts["published"] - previous["published"]) / elapsed if elapsed > 0 else 0.0,
            latency_p50_s=float(p50),
            latency_p99_s=float(p99),
            new_rejected=counts["rejected"] - previous["rejected"],
            new_failed=counts["failed"] - previous["failed"],
            new_invalid_output=counts["invalid_output"] - previous["invalid_output"],
            new_lost=lost - previous_lost,
            new_lost_in_transport=counts["lost_in_transport"] - previous["lost_in_transport"],
            size_mean=size_mean,
            others={event: count for event, count in sorted(counts.items()) if event not in STANDARD_EVENTS},
        )


def _lost(counts: collections.Counter[str]) -> int:
    """Frames lost before the node, at least: both counts miss some losses and neither counts one twice."""
    return max(counts["lost_in_transport"], counts["sequence_gaps"])


def diagnostic_array(
    report: StatisticsReport,
    stamp: Time,
    name: str,
    hardware_id: str,
    settings: dict[str, str],
    output: str = "keypoints",
    source: str = "image",
    waiting_for: str = "images",
    loss_cause: str = "",
    lost_messages: str = "frames",
) -> DiagnosticArray:
    """One DiagnosticStatus with ``settings`` (backend, model...) and the statistics as key/values; ``output``,
    ``source``, ``waiting_for`` and ``lost_messages`` word what the node publishes and receives (the matcher:
    ``matches``, ``keypoints``, ``keypoints``, ``Keypoints messages``).

    Level: ERROR when inference failed or gave outputs that break the contract since the previous report, WARN when
    messages were rejected or lost before the node (the message then says so, with ``loss_cause``: the likely cause
    and the fix), else OK.
    """
    warnings = []
    if report.new_rejected:
        warnings.append(f"rejected {report.new_rejected} bad {source} messages")
    if report.new_lost:
        warnings.append(f"lost {report.new_lost} {lost_messages} before the node"
                        + (f": {loss_cause}" if loss_cause else ""))
    if report.new_failed:
        level, message = DiagnosticStatus.ERROR, f"inference failed on {report.new_failed} frames"
    elif report.new_invalid_output:
        level, message = (DiagnosticStatus.ERROR,
                          f"model outputs broke the contract on {report.new_invalid_output} frames (not published)")
    elif warnings:
        level, message = DiagnosticStatus.WARN, "; ".join(warnings)
    elif report.received == 0:
        level, message = DiagnosticStatus.OK, f"waiting for {waiting_for}"
    else:
        level, message = DiagnosticStatus.OK, f"publishing {output} at {report.rate_hz:.1f} Hz"
    values = {
        **settings,
        "rate_hz": f"{report.rate_hz:.2f}",
        "latency_p50_ms": f"{report.latency_p50_s * 1e3:.1f}",
        "latency_p99_ms": f"{report.latency_p99_s * 1e3:.1f}",
        "received": str(report.received),
        "published": str(report.published),
        "dropped": str(report.dropped),
        "lost_before_node": str(report.lost),
        "rejected": str(report.rejected),
        "inference_errors": str(report.failed),
        "invalid_output": str(report.invalid_output),
        **{event: str(count) for event, count in report.others.items()},
    }
    if not np.isnan(report.size_mean):
        values[f"{output}_per_message_mean"] = f"{report.size_mean:.1f}"
    status = DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=key, value=value) for key, value in values.items()],
    )
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
