# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
""":class:`~.cuda_memory.CudaMemory` over pycuda's driver API (pycuda builds from source where the CUDA toolkit is
installed; on a Jetson it comes with JetPack's toolkit)."""

from __future__ import annotations

import contextlib
import importlib
from types import ModuleType
from typing import Any, Callable, Iterator

import numpy as np

from disk_trt_ros.errors import CudaError, CudaUnavailableError
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory, DeviceInfo


class PyCudaMemory(CudaMemory):
    """:class:`CudaMemory` over pycuda's driver API, in the device's primary context (shared with TensorRT)."""

    implementation = "pycuda"

    def __init__(self, driver: ModuleType, device: int = 0) -> None:
        super().__init__()
        self._driver = driver
        self._allocations: list[Any] = []
        self._host_allocations: list[np.ndarray] = []
        with self._errors("cuInit"):
            driver.init()
            count = driver.Device.count()
        if not 0 <= device < count:
            raise CudaUnavailableError(f"CUDA device {device} does not exist ({count} visible)")
        with self._errors("cuDevicePrimaryCtxRetain"):
            self._device = driver.Device(device)
            self._context = self._device.retain_primary_context()
        self._index = device
        with self.active(), self._errors("cuStreamCreate"):
            self._stream = driver.Stream()

    @contextlib.contextmanager
    def _errors(self, call: str) -> Iterator[None]:
        try:
            yield
        except self._driver.Error as error:
            raise CudaError(f"{call} failed: {error}") from error

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        with self._errors("cuCtxPushCurrent"):
            self._context.push()
        try:
            yield
        finally:
            with self._errors("cuCtxPopCurrent"):
                self._driver.Context.pop()

    def device_info(self) -> DeviceInfo:
        with self._errors("cuDeviceGetName"):
            name = self._device.name()
            major, minor = self._device.compute_capability()
        return DeviceInfo(self._index, name, (int(major), int(minor)))

    @property
    def stream_handle(self) -> int:
        return int(self._stream.handle)

    def _allocate_device(self, nbytes: int) -> int:
        with self.active(), self._errors("cuMemAlloc"):
            allocation = self._driver.mem_alloc(nbytes)
        self._allocations.append(allocation)
        return int(allocation)

    def pinned_array(self, shape: tuple[int, ...], dtype: np.dtype | str) -> np.ndarray:
        with self.active(), self._errors("cuMemHostAlloc"):
            array = self._driver.pagelocked_empty(shape, np.dtype(dtype))
        self._host_allocations.append(array)
        return array

    def _copy_to_device(self, address: int, host: np.ndarray) -> None:
        with self.active(), self._errors("cuMemcpyHtoDAsync"):
            self._driver.memcpy_htod_async(address, host, self._stream)

    def _copy_to_host(self, host: np.ndarray, address: int) -> None:
        with self.active(), self._errors("cuMemcpyDtoHAsync"):
            self._driver.memcpy_dtoh_async(host, address, self._stream)

    def synchronize(self) -> None:
        with self.active(), self._errors("cuStreamSynchronize"):
            self._stream.synchronize()

    def elapsed_ms(self, work: Callable[[], None]) -> float:
        with self._errors("timing with events"):
            start, end = self._driver.Event(), self._driver.Event()
            start.record(self._stream)
            work()
            end.record(self._stream)
            end.synchronize()
            return float(end.time_since(start))

    def close(self) -> None:
        if self._stream is None:
            return
        with self.active():
            with self._errors("cuStreamSynchronize"):
                self._stream.synchronize()
            with self._errors("cuMemFree"):
                for allocation in self._allocations:
                    allocation.free()
            with self._errors("cuMemFreeHost"):
                for array in self._host_allocations:
                    array.base.free()
        self._allocations.clear()
        self._host_allocations.clear()
        self._device_sizes.clear()
        self._stream = None
        self._context.detach()


def import_pycuda() -> ModuleType:
    """pycuda's driver module, imported when first needed."""
    return importlib.import_module("pycuda.driver")
