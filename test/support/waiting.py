# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Waiting for a condition that another thread or process makes true: the one polling loop of the tests; and calling
something that must not hang."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float, what: str | None = None, poll: Callable[[], object] | None = None
) -> T | None:
    """Call ``condition`` until it returns something truthy, and return that; give up after ``timeout`` seconds.

    Args:
        condition: checked first at once, then after each ``poll``.
        timeout: seconds.
        what: on timeout, raise ``AssertionError("timed out after T s waiting for WHAT")``; without it, return None.
        poll: what to do between checks: by default sleep 10 ms; to drive an rclpy executor meanwhile, pass
            ``lambda: executor.spin_once(timeout_sec=0.05)``.
    """
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            if what is not None:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            return None
        if poll is None:
            time.sleep(0.01)
        else:
            poll()
    return result


def finishes_within(function: Callable[[], T], timeout: float, what: str) -> T:
    """``function()``'s result (or its exception, raised here), provided it ends within ``timeout`` seconds; an
    AssertionError naming ``what`` if it does not (it is left blocked on a daemon thread: a regression that hangs
    on a FIFO fails the test instead of hanging the suite)."""
    outcome: list[tuple[bool, Any]] = []

    def call() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as error:  # handed to the caller as it is
            outcome.append((False, error))

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise AssertionError(f"{what} did not end within {timeout} s")
    finished, value = outcome[0]
    if not finished:
        raise value
    return value
