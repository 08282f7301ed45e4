# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""rclpy in tests: a node spun on an executor thread of its own, which is stopped and joined before the node is
destroyed."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from rclpy.executors import SingleThreadedExecutor

from disk_trt_ros.node.executor_thread import ExecutorThread


def stop_then_destroy(spinning: ExecutorThread, nodes: list[Any], timeout: float) -> None:
    """Stop ``spinning`` (:meth:`ExecutorThread.stop`), then destroy ``nodes``. AssertionError if its thread is still
    in a callback after ``timeout`` seconds: the nodes are left as they are, not destroyed under the thread (their
    entities' destruction would be deferred to that thread, which runs it holding the GIL: a destruction stuck there
    freezes every thread of the test process, and no Python-level timeout can fire)."""
    if not spinning.stop(timeout_s=timeout):
        raise AssertionError(f"the executor thread of {[node.get_name() for node in nodes]} did not stop within "
                             f"{timeout} s")
    for node in nodes:
        node.destroy_node()


class NodeSpinner:
    """Spin ``node`` on a SingleThreadedExecutor of its own on an :class:`ExecutorThread` until :meth:`close`, which
    stops the thread and only then destroys the node (:func:`stop_then_destroy`)."""

    def __init__(self, node: Any, context: Any) -> None:
        self.node = node
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        self._spinning = ExecutorThread(executor, f"spin {node.get_name()}")

    def close(self, timeout: float = 2.0) -> None:
        stop_then_destroy(self._spinning, [self.node], timeout)


@contextlib.contextmanager
def spinning(node: Any, context: Any, shutdown_timeout: float = 2.0) -> Iterator[Any]:
    """Spin an rclpy ``node`` on its own executor thread while the block runs; then stop it and destroy the node
    (:class:`NodeSpinner`)."""
    spinner = NodeSpinner(node, context)
    try:
        yield node
    finally:
        spinner.close(shutdown_timeout)
