"""Frame statistics of the node and their ``diagnostic_msgs/DiagnosticArray`` report."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Callable

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

LATENCY_WINDOW = 256  # latency percentiles are over the last this many published frames


@dataclasses.dataclass(frozen=True)
class StatisticsReport:
    """Counts since start, the publish rate since the previous report, latency percentiles over the window.

    Latency is from the image's arrival in the node to the publication of its keypoints, in seconds; NaN before
    the first frame. ``new_rejected``, ``new_failed`` and ``new_invalid_output`` count the frames since the previous
    report. ``invalid_output`` counts frames whose model outputs broke the contract (not published). ``lost`` counts
    frames that never reached the node (a full DDS queue, the network), seen as gaps in the publication sequence
    numbers while the topic has a single publisher.
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


class FrameStatistics:
    """Thread-safe counters of what happened to each frame (the executor counts arrivals, the worker the rest).

    received = published + dropped (replaced in the slot before the worker took them) + rejected (bad message)
    + failed (inference error) + invalid_output (outputs that break the contract) + frames in flight; frames a
    single publisher sent = received + lost.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts = collections.Counter[str]()
        self._latencies: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._previous_counts = collections.Counter[str]()
        self._previous_time = clock()

    def count(self, event: str, frames: int = 1) -> None:
        """Count ``frames`` (default one) ``received``, ``dropped``, ``lost``, ``rejected``, ``failed`` or
        ``invalid_output``."""
        with self._lock:
            self._counts[event] += frames

    def count_published(self, latency_s: float) -> None:
        with self._lock:
            self._counts["published"] += 1
            self._latencies.append(latency_s)

    def report(self) -> StatisticsReport:
        """The statistics now; starts the next rate period."""
        with self._lock:
            now = self._clock()
            counts, previous = self._counts.copy(), self._previous_counts
            latencies = np.array(self._latencies, dtype=np.float64)
            elapsed = now - self._previous_time
            self._previous_counts, self._previous_time = counts, now
        p50, p99 = np.percentile(latencies, [50, 99]) if latencies.size else (float("nan"), float("nan"))
        return StatisticsReport(
            received=counts["received"],
            published=counts["published"],
            dropped=counts["dropped"],
            lost=counts["lost"],
            rejected=counts["rejected"],
            failed=counts["failed"],
            invalid_output=counts["invalid_output"],
            rate_hz=(counts["published"] - previous["published"]) / elapsed if elapsed > 0 else 0.0,
            latency_p50_s=float(p50),
            latency_p99_s=float(p99),
            new_rejected=counts["rejected"] - previous["rejected"],
            new_failed=counts["failed"] - previous["failed"],
            new_invalid_output=counts["invalid_output"] - previous["invalid_output"],
        )


def diagnostic_array(
    report: StatisticsReport, stamp: Time, name: str, hardware_id: str, settings: dict[str, str]
) -> DiagnosticArray:
    """One DiagnosticStatus with ``settings`` (backend, model...) and the statistics as key/values.

    Level: ERROR when inference failed or gave outputs that break the contract since the previous report, WARN when
    images were rejected, else OK.
    """
    if report.new_failed:
        level, message = DiagnosticStatus.ERROR, f"inference failed on {report.new_failed} frames"
    elif report.new_invalid_output:
        level, message = (DiagnosticStatus.ERROR,
                          f"model outputs broke the contract on {report.new_invalid_output} frames (not published)")
    elif report.new_rejected:
        level, message = DiagnosticStatus.WARN, f"rejected {report.new_rejected} bad image messages"
    elif report.received == 0:
        level, message = DiagnosticStatus.OK, "waiting for images"
    else:
        level, message = DiagnosticStatus.OK, f"publishing keypoints at {report.rate_hz:.1f} Hz"
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
    }
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
