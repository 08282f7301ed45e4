# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Newest wins: one worker thread fed through a slot of depth one, so that latency stays bounded at any input rate.

The executor thread offers each item (a frame, a pair of keypoint messages); while the worker is busy, a newer item
replaces the one waiting, which is dropped (the caller counts it).
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")
STOP_TIMEOUT_S = 1.5  # how long stopping waits for the item in hand before giving up on the thread


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


class NewestWorker(Generic[T]):
    """A thread that runs ``process`` on the newest item offered to it.

    Args:
        name: the thread's name.
        process: what to do with an item; an exception it raises goes to ``on_error`` and the worker goes on.
        on_error: told of each failed item, unless ``running()`` is False then (shutting down: the worker ends).
        running: whether the process is still running (its ROS context is ok).
    """

    def __init__(
        self,
        name: str,
        process: Callable[[T], None],
        on_error: Callable[[Exception], None],
        running: Callable[[], bool],
    ) -> None:
        self._slot: LatestSlot[T] = LatestSlot()
        self._process, self._on_error, self._running = process, on_error, running
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def offer(self, item: T) -> bool:
        """Hand ``item`` to the worker; True when it replaced an item the worker had not taken (dropped)."""
        return self._slot.put(item)

    def _work(self) -> None:
        while (item := self._slot.take()) is not None:
            try:
                self._process(item)
            except Exception as error:  # the worker must outlive any single item
                if not self._running():
                    return  # shutting down: publishers are gone
                self._on_error(error)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """Stop taking items and wait up to ``timeout_s`` for the one in hand; True when the thread has ended."""
        self._slot.close()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()
