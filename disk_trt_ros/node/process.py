# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A node as a process (``ros2 run``, ``python -m``, ``ros2 launch``): the middleware configured for large messages
from same-host publishers, spin until SIGINT/SIGTERM, and a start-up error as one logged line and exit status 2."""

from __future__ import annotations

import signal
from typing import Any, Callable, Sequence

import rclpy
import rclpy.logging
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from disk_trt_ros.errors import NodeConfigurationError
from disk_trt_ros.middleware import configure_middleware


def spin_until_shutdown(executor: Executor) -> None:
    """Spin until SIGINT/SIGTERM (rclpy's handlers) or Ctrl-C shut the context down."""
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:  # RCLError when the shutdown lands between two waits of the executor
        if executor.context.ok():
            raise


def _shutdown_requested(number: int, frame: Any) -> None:
    """Python's handler of SIGINT and SIGTERM under rclpy's: rclpy has already shut the context down."""


def run_node(make_node: Callable[[], Node], name: str, args: Sequence[str] | None = None) -> int:
    """Run the node ``make_node()`` makes until SIGINT/SIGTERM; returns 0, or 2 when it cannot start (the reason is
    logged as ``name``'s fatal message).

    Before ``rclpy.init`` starts the middleware, :func:`~disk_trt_ros.middleware.configure_middleware` applies the
    package's Fast DDS profile unless the user configured the middleware, and the node's log says what is in force:
    with Fast DDS's defaults most VGA and larger frames of a same-host camera do not arrive (docs/dds.md).

    rclpy's signal handlers shut the context down and then call the handler that was there before them: Python's,
    which raises KeyboardInterrupt wherever the main thread is, also in the middle of the clean-up when a second SIGINT
    follows the first (Ctrl-C under ``ros2 launch`` reaches the node from the terminal and again from launch).
    Installed before ``rclpy.init``, :func:`_shutdown_requested` takes that place, so any number of signals only shut
    down, once. After the clean-up both signals are ignored: the interpreter's exit gives signals with Python handlers
    their default action back, and SIGINT's would end the process with status -2 while it exits.
    """
    logger = rclpy.logging.get_logger(name)
    try:
        logger.info(configure_middleware().description)
    except NodeConfigurationError as error:
        logger.fatal(str(error))
        return 2
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, _shutdown_requested)
    rclpy.init(args=args)
    try:
        try:
            node = make_node()
        except NodeConfigurationError as error:
            logger.fatal(str(error))
            return 2
        except RuntimeError:  # RCLError: a signal shut the context down while the node was starting
            if rclpy.ok():
                raise
            return 0
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            spin_until_shutdown(executor)
        finally:
            executor.shutdown(timeout_sec=0.5)
            node.destroy_node()
    finally:
        rclpy.try_shutdown()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)
    return 0
