# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""SIGINT and SIGTERM during a TensorRT build: end the process at once, then give each signal back its action."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
from typing import Iterator

_SIGACTION_BYTES = 512  # room for the C library's struct sigaction (152 bytes with glibc on x86_64 and aarch64)


@contextlib.contextmanager
def signals_end_process() -> Iterator[None]:
    """Let SIGINT and SIGTERM end the process at once while TensorRT builds.

    Python handles signals only between bytecodes, so with its handlers a Ctrl-C would wait for the builder
    (minutes). Nothing is written during the build and the kernel releases the lock, so ending at once leaves no
    partial file. Only the main thread can change handlers; elsewhere this does nothing.

    Afterwards each signal gets back exactly the action it had, also one installed outside Python, which
    ``signal.getsignal`` cannot see (rclpy installs its SIGINT and SIGTERM handlers in C): the C library's
    ``sigaction`` saves and restores it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    actions = {number: ctypes.create_string_buffer(_SIGACTION_BYTES) for number in previous}
    saved = {number for number, action in actions.items() if libc.sigaction(number, None, action) == 0}
    # A signal that arrives while Python switches a handler can be lost (Python then finds no handler to run for it):
    # blocked meanwhile, it waits in the kernel and ends the process once the default action is in place.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, previous)
    try:
        try:
            for number in previous:
                signal.signal(number, signal.SIG_DFL)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)  # Python's record of its handler
            if number in saved:
                libc.sigaction(number, actions[number], None)  # the action itself, as it was
