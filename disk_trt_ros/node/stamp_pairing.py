# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Pairing two streams by stamp (the stereo matcher's left and right keypoints), from bounded queues; ROS-free.

The rule (python message_filters' ``ApproximateTimeSynchronizer``, for two streams, plus order): an arriving item
is paired with the queued item of the other stream whose stamp is nearest its own, when they differ by at most the
tolerance (0: equal stamps only); otherwise it waits in its stream's queue. A pair is never older than one already
made: when a pair forms, the items still queued before it on either side can only make older pairs, so they are
discarded and counted as unpaired, as are the items of the other stream that an arrival shows too old for any later
item, and the oldest item of a full queue. An item whose stamp is not newer than the last of its stream is refused
as out of order.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Pairing(Generic[T]):
    """What one arrival did.

    Attributes:
        pair: (stream 0's item, stream 1's item) when the arrival completed a pair, else None.
        unpaired: items discarded because they can no longer be paired (or a full queue dropped them).
        out_of_order: the item was refused: its stamp is not newer than the last one of its stream.
    """

    pair: tuple[T, T] | None = None
    unpaired: int = 0
    out_of_order: bool = False


class StampPairer(Generic[T]):
    """Pairs the items of streams 0 and 1 by stamp (see the module docstring); thread-safe.

    Args:
        tolerance_ns: the largest stamp difference of a pair, nanoseconds (0: equal stamps).
        queue_size: items kept per stream while they wait for a partner (at least 1).
    """

    def __init__(self, tolerance_ns: int, queue_size: int) -> None:
        if tolerance_ns < 0 or queue_size < 1:
            raise ValueError(f"tolerance_ns={tolerance_ns} must be >= 0 and queue_size={queue_size} >= 1")
        self._tolerance_ns = tolerance_ns
        self._queues: tuple[collections.deque[tuple[int, T]], ...] = (
            collections.deque(maxlen=queue_size), collections.deque(maxlen=queue_size),
        )
        self._latest: list[int | None] = [None, None]
        self._lock = threading.Lock()

    def add(self, stream: int, stamp_ns: int, item: T) -> Pairing[T]:
        """Offer ``item`` of ``stream`` (0 or 1) stamped ``stamp_ns``."""
        with self._lock:
            latest = self._latest[stream]
            if latest is not None and stamp_ns <= latest:
                return Pairing(out_of_order=True)
            self._latest[stream] = stamp_ns
            own, other = self._queues[stream], self._queues[1 - stream]
            nearest = min(range(len(other)), key=lambda index: abs(other[index][0] - stamp_ns), default=None)
            if nearest is None or abs(other[nearest][0] - stamp_ns) > self._tolerance_ns:
                unpaired = int(len(own) == own.maxlen)
                own.append((stamp_ns, item))  # a full deque drops its oldest item
                while other and other[0][0] < stamp_ns - self._tolerance_ns:  # too old for this stream's next items
                    other.popleft()
                    unpaired += 1
                return Pairing(unpaired=unpaired)
            for _ in range(nearest):
                other.popleft()
            _, partner = other.popleft()
            unpaired = nearest + len(own)
            own.clear()
            pair = (item, partner) if stream == 0 else (partner, item)
            return Pairing(pair=pair, unpaired=unpaired)
