# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""An rclpy executor spun on a thread of its own, and stopped in an order that rclpy 7.1 (ROS 2 Jazzy) survives.

rclpy 7.1's ``Executor.shutdown()`` sets its shutdown flag, wakes the executor and destroys the guard condition of
its wait set at once: it waits neither for a thread inside ``spin()`` to leave its wait (which then waits on a
destroyed object) nor, its own flag being set already, for callbacks still running. :class:`ExecutorThread` spins
with ``spin_once`` and a short timeout until :meth:`ExecutorThread.stop` asks it to end, joins it, and only then
shuts the executor down; the nodes are destroyed after that, by their owner.
"""

from __future__ import annotations

import threading

from rclpy.executors import Executor, ExternalShutdownException, ShutdownException

# How long one wait of the spinning thread lasts at most: how soon it sees a stop request when nothing else wakes it.
WAIT_S = 0.1


class ExecutorThread:
    """Spin ``executor`` on a daemon thread named ``name`` from construction until :meth:`stop`.

    The thread ends by itself when the executor's context shuts down.
    """

    def __init__(self, executor: Executor, name: str) -> None:
        self.executor = executor
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        context = self.executor.context
        while not self._stopping.is_set() and context.ok():
            try:
                self.executor.spin_once(timeout_sec=WAIT_S)
            except (ExternalShutdownException, ShutdownException):
                return
            except RuntimeError:  # RCLError when the context shuts down between two waits
                if context.ok():
                    raise
                return

    @property
    def running(self) -> bool:
        """Whether the thread is still spinning (or finishing a callback)."""
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 2.0) -> bool:
        """End the spinning (waiting up to ``timeout_s`` for a callback the thread runs; a ``MultiThreadedExecutor``
        runs its callbacks on a pool, which is not waited for), then shut the executor down.

        Returns:
            ``True`` when the thread had ended before the executor was shut down; ``False`` when it was still in a
            callback after ``timeout_s`` (the executor is shut down all the same).
        """
        self._stopping.set()
        self.executor.wake()
        self._thread.join(timeout_s)
        ended = not self.running
        self.executor.shutdown(timeout_sec=timeout_s)
        return ended
