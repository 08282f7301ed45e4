# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The node under test as a child process: its output collected, its resources sampled from /proc, its shutdown
timed."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

from support.paths import REPO_ROOT


@dataclasses.dataclass(frozen=True)
class ResourceSample:
    """The node process at one moment: resident memory (KiB), open file descriptors, threads."""

    at_s: float
    frames_sent: int
    rss_kib: int
    fds: int
    threads: int


HARNESS_PARAMETERS = {"backend": "onnxruntime", "threads": "1", "qos_reliability": "reliable"}


class NodeProcess:
    """``python -m disk_trt_ros.node --ros-args ...`` as a child process, its output collected line by line.

    Args:
        model: exported ONNX model.
        namespace: the node's namespace (``__ns``).
        domain_id: ROS_DOMAIN_ID of the child.
        parameters: more ``-p name:=value`` (:data:`HARNESS_PARAMETERS` unless overridden, or unless
            ``harness_parameters`` is False: then the node's defaults).
        remaps: ``-r from:=to`` topic remappings.
        command: the interpreter command line before ``--ros-args`` (default: this Python, ``-m disk_trt_ros.node``).
        environment: variables set for the child, over this process's environment and ``ROS_DOMAIN_ID``.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        namespace: str,
        domain_id: int,
        parameters: dict[str, str] | None = None,
        remaps: dict[str, str] | None = None,
        command: Sequence[str] | None = None,
        environment: dict[str, str] | None = None,
        harness_parameters: bool = True,
    ) -> None:
        self.namespace = namespace
        settings = {"model": str(model), **(HARNESS_PARAMETERS if harness_parameters else {}), **(parameters or {})}
        arguments = ["--ros-args", "-r", f"__ns:={namespace}"]
        for source, target in (remaps or {}).items():
            arguments += ["-r", f"{source}:={target}"]
        for name, value in settings.items():
            arguments += ["-p", f"{name}:={value}"]
        # PYTHONFAULTHANDLER: a node killed by a fatal signal (SIGSEGV, SIGABRT) prints its threads' Python stacks.
        env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1",
               "RCUTILS_LOGGING_BUFFERED_STREAM": "0", **(environment or {})}
        self.process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "disk_trt_ros.node"]), *arguments], cwd=REPO_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def report(self) -> str:
        """For assertion messages: whether the node still runs or how it ended (its exit status, or the signal that
        killed it), then its output so far."""
        returncode = self.process.poll()
        if returncode is None:
            state = "still runs"
        elif returncode < 0:
            state = f"was ended by signal {-returncode} ({signal.strsignal(-returncode)})"
        else:
            state = f"exited with status {returncode}"
        return f"node {self.namespace} {state}; its output:\n{self.output}"

    def wait_for_line(self, needle: str, timeout: float) -> None:
        """Wait until a line of output contains ``needle``; AssertionError if the node ends or time runs out."""
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.2)  # let the reader catch the last lines
                raise AssertionError(f"no line with {needle!r}: {self.report}")
            time.sleep(0.05)

    def sample(self, frames_sent: int) -> ResourceSample:
        """Resident memory, file descriptors and threads of the node process now, from /proc."""
        proc = Path(f"/proc/{self.process.pid}")
        status = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line)
        return ResourceSample(
            at_s=time.monotonic(),
            frames_sent=frames_sent,
            rss_kib=int(status["VmRSS"].split()[0]),
            fds=len(os.listdir(proc / "fd")),
            threads=len(os.listdir(proc / "task")),
        )

    def stop(self, number: int = signal.SIGINT, timeout: float = 10.0,
             again_after_s: float | None = None) -> tuple[int | None, float]:
        """Send ``number`` (and, ``again_after_s`` seconds later, once more if the node still runs, as ``ros2 launch``
        passing Ctrl-C on does); returns the exit status (None if it had to be killed after ``timeout``) and the
        seconds it took to end after the first signal."""
        sent = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(number)
        if again_after_s is not None:
            time.sleep(again_after_s)
            if self.process.poll() is None:
                self.process.send_signal(number)
        try:
            self.process.wait(timeout=timeout)
            returncode: int | None = self.process.returncode
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
            returncode = None
        seconds = time.monotonic() - sent
        self._reader.join(timeout=2.0)  # the last lines of its output
        return returncode, seconds

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
