# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Device memory, pinned host buffers and one stream: the interface the TensorRT backend needs from CUDA.

The TensorRT backend needs little from CUDA: allocate device buffers once, copy a frame in and the results out
asynchronously on one stream, and wait for the stream; where the binding can, record that work once as a CUDA graph
and launch it per frame. :class:`CudaMemory` is that much and no more, with two
implementations: :class:`~.pycuda_memory.PyCudaMemory` (pycuda, the design card's choice; it ships with no wheels
and is built from source where the CUDA toolkit is installed) and :class:`~.cuda_python.CudaPythonMemory` (NVIDIA's
cuda-python, wheels on PyPI; the ``cuda.bindings.runtime`` layout of 12.x/13.x and the older ``cuda.cudart`` one).
:func:`~.cuda_bindings.open_cuda_memory` picks the one installed.

Every CUDA call's status is checked: a failure raises :class:`~disk_trt_ros.errors.CudaError` naming the call and
CUDA's own message. Allocations live until :meth:`CudaMemory.close`; pinned arrays must not be used after it.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
from typing import Callable, Iterator

import numpy as np


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """The GPU an engine runs on: TensorRT engines are specific to its name and compute capability."""

    index: int
    name: str
    compute_capability: tuple[int, int]

    @property
    def compute_capability_text(self) -> str:
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"


class CudaMemory(abc.ABC):
    """Device buffers, pinned host arrays and one stream on one GPU.

    Copies are asynchronous on :attr:`stream_handle`; call :meth:`synchronize` before reading a host array that a
    copy writes. Device buffers are plain addresses (``int``), as TensorRT takes them.
    """

    implementation: str

    def __init__(self) -> None:
        self._device_sizes: dict[int, int] = {}

    @abc.abstractmethod
    def device_info(self) -> DeviceInfo:
        """Name and compute capability of the GPU this object allocates on."""

    @property
    @abc.abstractmethod
    def stream_handle(self) -> int:
        """The stream's ``cudaStream_t`` as an integer (what TensorRT's ``execute_async_*`` take)."""

    @abc.abstractmethod
    def _allocate_device(self, nbytes: int) -> int: ...

    @abc.abstractmethod
    def pinned_array(self, shape: tuple[int, ...], dtype: np.dtype | str) -> np.ndarray:
        """A C-contiguous array in page-locked host memory (fast, truly asynchronous copies)."""

    @abc.abstractmethod
    def _copy_to_device(self, address: int, host: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _copy_to_host(self, host: np.ndarray, address: int) -> None: ...

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Wait until everything queued on the stream has finished."""

    @abc.abstractmethod
    def elapsed_ms(self, work: Callable[[], None]) -> float:
        """Run ``work`` (which queues GPU work on the stream) between two CUDA events; wait for the second and
        return the GPU time between them in milliseconds."""

    @abc.abstractmethod
    def close(self) -> None:
        """Free every buffer, graph and the stream; safe to call twice."""

    def capture(self, work: Callable[[], None]) -> Callable[[], None] | None:
        """Record ``work`` (which only queues copies and kernels on the stream) as a CUDA graph, without running it.

        Returns a callable that queues the whole recording on the stream with one launch (the same buffers, their
        contents as they are then), or None where this binding records no graphs; the caller then queues ``work``
        itself each time. Raises :class:`~disk_trt_ros.errors.CudaError` when CUDA refuses the recording (``work``
        synchronised, say).
        """
        return None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Make this object's GPU current in the calling thread for the duration (needed before CUDA calls from a
        thread other than the one that created the object)."""
        yield

    def device_buffer(self, nbytes: int) -> int:
        """Allocate ``nbytes`` of device memory; returns its address. Freed by :meth:`close`."""
        if nbytes <= 0:
            raise ValueError(f"device buffer size must be positive, got {nbytes}")
        address = self._allocate_device(nbytes)
        self._device_sizes[address] = nbytes
        return address

    def copy_to_device(self, address: int, host: np.ndarray) -> None:
        """Queue a copy of ``host`` (C-contiguous) to ``address``, the start of a device buffer or an address inside
        one (the copy must end inside it too)."""
        self._check_copy(address, host)
        self._copy_to_device(address, host)

    def copy_to_host(self, host: np.ndarray, address: int) -> None:
        """Queue a copy of ``host.nbytes`` bytes at ``address`` (as for :meth:`copy_to_device`) into ``host``
        (C-contiguous, writable)."""
        self._check_copy(address, host)
        if not host.flags.writeable:
            raise ValueError("the host array of a device-to-host copy must be writable")
        self._copy_to_host(host, address)

    def _check_copy(self, address: int, host: np.ndarray) -> None:
        """A copy must lie inside one device buffer (its start or any address within it)."""
        if not host.flags.c_contiguous:
            raise ValueError("host arrays must be C-contiguous for a CUDA copy")
        for start, size in self._device_sizes.items():
            if start <= address < start + size:
                if address + host.nbytes > start + size:
                    raise ValueError(
                        f"a copy of {host.nbytes} bytes at offset {address - start} overruns the device buffer of "
                        f"{size} bytes"
                    )
                return
        raise ValueError(f"0x{address:x} is not inside a device buffer allocated by this {type(self).__name__}")

    def __enter__(self) -> CudaMemory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
