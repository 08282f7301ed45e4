# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""rclpy in tests: a node spun on an executor thread of its own, which is stopped and joined before the node is
destroyed."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

SPIN_WAIT_S = 0.1  # one wait of the executor thread: the longest it takes to notice that it must stop


class NodeSpinner:
    """Spin ``node`` on a SingleThreadedExecutor of its own, on a daemon thread, one wait of at most
    :data:`SPIN_WAIT_S` at a time, until :meth:`close`; that stops and joins the thread, and only then shuts the
    executor down and destroys the node.

    Not ``executor.spin()`` then ``executor.shutdown()``: rclpy 7.1's (Jazzy) ``shutdown()`` returns without waiting
    for a thread inside ``spin()`` (its ``timeout_sec`` goes unused), so destroying the node right after it races that
    thread's wait set. The wait set holds the node's entities, so their destruction is deferred to the executor
    thread, which runs it holding the GIL: a destruction stuck there freezes every thread of the test process, and
    no Python-level timeout (pytest-timeout's) can fire.
    """

    def __init__(self, node: Any, context: Any) -> None:
        self.node = node
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=f"spin {node.get_name()}", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            while not self._stop.is_set() and self._executor.context.ok():
                self._executor.spin_once(timeout_sec=SPIN_WAIT_S)
        except ExternalShutdownException:  # the context was shut down during a wait
            pass

    def close(self, timeout: float = 2.0) -> None:
        """Stop spinning, wait up to ``timeout`` seconds for the executor thread to end, then shut the executor down
        and destroy the node. AssertionError if the thread is still in a callback then: the node is left as it is,
        not destroyed under the thread."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the executor thread of {self.node.get_name()} did not stop within {timeout} s")
        self._executor.shutdown()
        self.node.destroy_node()


@contextlib.contextmanager
def spinning(node: Any, context: Any, shutdown_timeout: float = 2.0) -> Iterator[Any]:
    """Spin an rclpy ``node`` on its own executor thread while the block runs; then stop it and destroy the node
    (:class:`NodeSpinner`)."""
    spinner = NodeSpinner(node, context)
    try:
        yield node
    finally:
        spinner.close(shutdown_timeout)
