# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
""":class:`~.cuda_memory.CudaMemory` over NVIDIA's cuda-python (``cuda.bindings.runtime`` of 12.x/13.x, or the older
``cuda.cudart``): every call returns a status first, and each is checked."""

from __future__ import annotations

import contextlib
import ctypes
import importlib
from types import ModuleType
from typing import Any, Callable, Iterator

import numpy as np

from disk_trt_ros.errors import CudaError, CudaUnavailableError
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory, DeviceInfo


class CudaPythonMemory(CudaMemory):
    """:class:`CudaMemory` over cuda-python's runtime API (``cudart``), which uses the device's primary context, as
    TensorRT does."""

    implementation = "cuda-python"

    def __init__(self, runtime: ModuleType, device: int = 0) -> None:
        super().__init__()
        self._runtime = runtime
        self._device = device
        self._pinned: list[int] = []
        self._stream: Any = None
        self._events: tuple[Any, Any] | None = None
        self._graphs: list[Any] = []
        count, problem = cuda_python_device_count(runtime)
        if not 0 <= device < count:
            raise CudaUnavailableError(f"CUDA device {device} does not exist ({problem or f'{count} visible'})")
        self._call("cudaSetDevice", device)
        (self._stream,) = self._call("cudaStreamCreate")

    def _call(self, name: str, *args: Any) -> tuple[Any, ...]:
        return check_cuda_python(self._runtime, name, getattr(self._runtime, name)(*args))

    def device_info(self) -> DeviceInfo:
        (properties,) = self._call("cudaGetDeviceProperties", self._device)
        name = properties.name
        if isinstance(name, bytes):
            name = name.split(b"\0", 1)[0].decode(errors="replace")
        return DeviceInfo(self._device, str(name), (int(properties.major), int(properties.minor)))

    @property
    def stream_handle(self) -> int:
        return int(self._stream)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        self._call("cudaSetDevice", self._device)
        yield

    def _allocate_device(self, nbytes: int) -> int:
        (address,) = self._call("cudaMalloc", nbytes)
        return int(address)

    def pinned_array(self, shape: tuple[int, ...], dtype: np.dtype | str) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes <= 0:
            raise ValueError(f"pinned array shape {shape} holds no elements")
        (address,) = self._call("cudaMallocHost", nbytes)
        address = int(address)
        self._pinned.append(address)
        raw = (ctypes.c_uint8 * nbytes).from_address(address)
        return np.frombuffer(raw, dtype=dtype).reshape(shape)

    def _copy_to_device(self, address: int, host: np.ndarray) -> None:
        kind = self._runtime.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call("cudaMemcpyAsync", address, host.ctypes.data, host.nbytes, kind, self._stream)

    def _copy_to_host(self, host: np.ndarray, address: int) -> None:
        kind = self._runtime.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call("cudaMemcpyAsync", host.ctypes.data, address, host.nbytes, kind, self._stream)

    def synchronize(self) -> None:
        self._call("cudaStreamSynchronize", self._stream)

    def elapsed_ms(self, work: Callable[[], None]) -> float:
        if self._events is None:
            self._events = (self._call("cudaEventCreate")[0], self._call("cudaEventCreate")[0])
        start, end = self._events
        self._call("cudaEventRecord", start, self._stream)
        work()
        self._call("cudaEventRecord", end, self._stream)
        self._call("cudaEventSynchronize", end)
        (milliseconds,) = self._call("cudaEventElapsedTime", start, end)
        return float(milliseconds)

    def capture(self, work: Callable[[], None]) -> Callable[[], None]:
        runtime = self._runtime
        thread_local = runtime.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._call("cudaStreamBeginCapture", self._stream, thread_local)
        try:
            work()
        except BaseException:
            ended = runtime.cudaStreamEndCapture(self._stream)  # leaves capture mode; a partial graph is discarded
            if int(ended[0]) == 0 and ended[1] is not None:
                runtime.cudaGraphDestroy(ended[1])
            raise
        (graph,) = self._call("cudaStreamEndCapture", self._stream)
        try:
            (graph_exec,) = self._call("cudaGraphInstantiateWithFlags", graph, 0)
        finally:
            self._call("cudaGraphDestroy", graph)
        self._graphs.append(graph_exec)
        stream = self._stream

        def launch() -> None:
            self._call("cudaGraphLaunch", graph_exec, stream)

        return launch

    def close(self) -> None:
        if self._stream is None:
            return
        self._call("cudaStreamSynchronize", self._stream)
        for graph_exec in self._graphs:
            self._call("cudaGraphExecDestroy", graph_exec)
        self._graphs.clear()
        for address in self._device_sizes:
            self._call("cudaFree", address)
        for address in self._pinned:
            self._call("cudaFreeHost", address)
        for event in self._events or ():
            self._call("cudaEventDestroy", event)
        self._call("cudaStreamDestroy", self._stream)
        self._events = None
        self._device_sizes.clear()
        self._pinned.clear()
        self._stream = None


def check_cuda_python(runtime: ModuleType, call: str, result: Any) -> tuple[Any, ...]:
    """Return the values after the status of a cuda-python result tuple; raise :class:`CudaError` on failure."""
    status, *values = result if isinstance(result, tuple) else (result,)
    if status != runtime.cudaError_t.cudaSuccess:
        _, name = runtime.cudaGetErrorName(status)
        _, description = runtime.cudaGetErrorString(status)
        raise CudaError(f"{call} failed: {_text(name)} ({_text(description)})")
    return tuple(values)


def cuda_python_device_count(runtime: ModuleType) -> tuple[int, str | None]:
    """Visible devices, and CUDA's error when it reports none (no GPU, no driver) instead of a count."""
    try:
        status, *values = runtime.cudaGetDeviceCount()
    except RuntimeError as error:  # cuda-python 11.x raises where there is no driver ("Failed to dlopen libcuda.so.1")
        return 0, f"cudaGetDeviceCount: {error}"
    if status != runtime.cudaError_t.cudaSuccess:
        return 0, f"cudaGetDeviceCount: {_text(runtime.cudaGetErrorName(status)[1])}"
    return int(values[0]), None


def import_cuda_python() -> ModuleType:
    """cuda-python's runtime module: ``cuda.bindings.runtime`` (12.x/13.x) or ``cuda.cudart`` (older)."""
    try:
        return importlib.import_module("cuda.bindings.runtime")
    except ImportError:
        return importlib.import_module("cuda.cudart")



def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
