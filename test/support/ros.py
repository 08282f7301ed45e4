# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""rclpy in tests: a node spun on its own executor thread."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator


@contextlib.contextmanager
def spinning(node: Any, context: Any, shutdown_timeout: float = 2.0) -> Iterator[Any]:
    """Spin an rclpy ``node`` on its own executor thread while the block runs; then stop it and destroy the node."""
    from rclpy.executors import SingleThreadedExecutor

    from disk_trt_ros.node.executor_thread import ExecutorThread

    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinning_thread = ExecutorThread(executor, f"spinning_{node.get_name()}")
    try:
        yield node
    finally:
        spinning_thread.stop(timeout_s=shutdown_timeout)
        node.destroy_node()
