# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The pretend GPU behind both doubles: device and pinned allocations (numpy arrays) and streams of queued
operations that run when the stream is synchronized."""

from __future__ import annotations

import ctypes
from typing import Callable

import numpy as np


class CaptureError(RuntimeError):
    """What CUDA refuses while a stream is captured (synchronising it, say); it ends that stream's capture."""

    def __init__(self, stream: int) -> None:
        super().__init__(f"stream {stream} is being captured")
        self.stream = stream


class FakeGpu:
    """Device allocations, pinned host allocations and streams of one pretend GPU.

    Attributes:
        fail_next: cudart call name -> ``cudaError_t`` value that the next such call returns.
        pageable_copies: copies whose host side was not pinned memory (real CUDA allows them, slowly).
        recording: stream handle -> the operations queued on it since its capture began (they do not run).
        graph_launches: how many recorded graphs were launched.
    """

    def __init__(self, device_count: int = 1, name: str = "Fake GPU", compute_capability: tuple[int, int] = (8, 7)):
        self.device_count = device_count
        self.name = name
        self.compute_capability = compute_capability
        self.device: dict[int, np.ndarray] = {}
        self.pinned: dict[int, np.ndarray] = {}
        self.streams: dict[int, list[Callable[[], None]]] = {}
        self.fail_next: dict[str, int] = {}
        self.pageable_copies = 0
        self.recording: dict[int, list[Callable[[], None]]] = {}
        self.graph_launches = 0
        self._next_stream = 1

    @staticmethod
    def _allocate(registry: dict[int, np.ndarray], nbytes: int) -> int:
        buffer = np.full(nbytes, 0xA5, dtype=np.uint8)  # poisoned: unwritten output shows up as garbage
        registry[buffer.ctypes.data] = buffer
        return buffer.ctypes.data

    @staticmethod
    def _find(registry: dict[int, np.ndarray], address: int, nbytes: int) -> np.ndarray | None:
        for base, buffer in registry.items():
            if base <= address and address + nbytes <= base + buffer.nbytes:
                return buffer[address - base : address - base + nbytes]
        return None

    def device_view(self, address: int, nbytes: int) -> np.ndarray:
        view = self._find(self.device, address, nbytes)
        if view is None:
            raise ValueError(f"0x{address:x}+{nbytes} is not inside a device allocation")
        return view

    def host_view(self, address: int, nbytes: int) -> np.ndarray:
        if self._find(self.device, address, nbytes) is not None:
            raise ValueError(f"0x{address:x} is device memory, used as host memory")
        view = self._find(self.pinned, address, nbytes)
        if view is None:
            self.pageable_copies += 1
            view = np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(address))
        return view

    def create_stream(self) -> int:
        handle = self._next_stream
        self._next_stream += 1
        self.streams[handle] = []
        return handle

    def enqueue(self, handle: int, operation: Callable[[], None]) -> None:
        if handle not in self.streams:
            raise ValueError(f"stream handle {handle} was not created")
        self.recording.get(handle, self.streams[handle]).append(operation)

    def synchronize(self, handle: int) -> None:
        if handle in self.recording:
            raise CaptureError(handle)
        pending, self.streams[handle] = self.streams[handle], []
        for operation in pending:
            operation()
