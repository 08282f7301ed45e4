# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Progress lines of an engine build, with a heartbeat while TensorRT's builder is silent."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

HEARTBEAT_SECONDS = 30.0


class Progress:
    """Build progress as ``[  12.3 s] message`` lines, elapsed time counted from construction."""

    def __init__(self, emit: Callable[[str], None] | None = None) -> None:
        self._emit = emit or (lambda line: print(line, flush=True))
        self._start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def __call__(self, message: str) -> None:
        self._emit(f"[{self.elapsed:7.1f} s] {message}")

    @contextlib.contextmanager
    def heartbeat(self, what: str, interval: float = HEARTBEAT_SECONDS) -> Iterator[None]:
        """Report ``still <what>`` every ``interval`` seconds while the body runs (the builder is silent for
        minutes on a Jetson)."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(interval):
                self(f"still {what}")

        thread = threading.Thread(target=beat, name="build-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
