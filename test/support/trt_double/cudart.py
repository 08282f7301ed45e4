# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A double of cuda-python's runtime module (``cuda.bindings.runtime``): every call returns a tuple whose first item
is a ``cudaError_t``, as the real one does."""

from __future__ import annotations

import enum
import time
from types import ModuleType, SimpleNamespace
from typing import Any, Callable

import numpy as np

from support.trt_double.gpu import CaptureError, FakeGpu


class cudaError_t(enum.IntEnum):  # noqa: N801 - cuda-python's names
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorNoDevice = 100
    cudaErrorInvalidDevice = 101
    cudaErrorInvalidResourceHandle = 400
    cudaErrorStreamCaptureUnsupported = 900
    cudaErrorStreamCaptureInvalidated = 901


class cudaStreamCaptureMode(enum.IntEnum):  # noqa: N801
    cudaStreamCaptureModeGlobal = 0
    cudaStreamCaptureModeThreadLocal = 1
    cudaStreamCaptureModeRelaxed = 2


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2
    cudaMemcpyDeviceToDevice = 3


class FakeStream:
    """cuda-python's ``cudaStream_t``: ``int()`` gives the handle."""

    def __init__(self, handle: int) -> None:
        self.handle = handle

    def __int__(self) -> int:
        return self.handle


class FakeGraph:
    """cuda-python's ``cudaGraph_t`` (and, instantiated, ``cudaGraphExec_t``): the operations a capture recorded."""

    def __init__(self, operations: list[Callable[[], None]]) -> None:
        self.operations = operations


class FakeEvent:
    """cuda-python's ``cudaEvent_t``: when it happened (host clock, seconds) once its stream reached it."""

    def __init__(self) -> None:
        self.stream: int | None = None
        self.at: float | None = None

    def happen(self) -> None:
        self.at = time.perf_counter()


def make_cudart(gpu: FakeGpu) -> ModuleType:
    """A ``cuda.bindings.runtime`` double over ``gpu``."""
    module = ModuleType("cuda.bindings.runtime")
    ok = cudaError_t.cudaSuccess

    def call(function: Callable[..., tuple[Any, ...]]) -> Callable[..., tuple[Any, ...]]:
        def wrapper(*args: Any) -> tuple[Any, ...]:
            failure = gpu.fail_next.pop(function.__name__, None)
            if failure is not None:
                return (cudaError_t(failure),)
            try:
                return function(*args)
            except ValueError:
                return (cudaError_t.cudaErrorInvalidValue,)
            except CaptureError as error:
                gpu.recording.pop(error.stream, None)  # CUDA invalidates the capture
                return (cudaError_t.cudaErrorStreamCaptureUnsupported,)

        wrapper.__name__ = function.__name__
        setattr(module, function.__name__, wrapper)
        return wrapper

    @call
    def cudaGetDeviceCount() -> tuple[Any, ...]:
        return (ok, gpu.device_count) if gpu.device_count else (cudaError_t.cudaErrorNoDevice, None)

    @call
    def cudaSetDevice(device: int) -> tuple[Any, ...]:
        return (ok,) if 0 <= device < gpu.device_count else (cudaError_t.cudaErrorInvalidDevice,)

    @call
    def cudaGetDeviceProperties(device: int) -> tuple[Any, ...]:
        if not 0 <= device < gpu.device_count:
            return (cudaError_t.cudaErrorInvalidDevice, None)
        name = gpu.name.encode().ljust(256, b"\0")
        return ok, SimpleNamespace(name=name, major=gpu.compute_capability[0], minor=gpu.compute_capability[1])

    # Device and pinned memory have the same pair of calls here, as in cuda-python: the double mirrors its API one
    # function per call, so the two pairs stay alike.
    @call
    def cudaMalloc(size: int) -> tuple[Any, ...]:
        return ok, gpu._allocate(gpu.device, size)

    @call
    def cudaFree(address: int) -> tuple[Any, ...]:
        return (ok,) if gpu.device.pop(int(address), None) is not None else (cudaError_t.cudaErrorInvalidValue,)

    @call
    def cudaMallocHost(size: int) -> tuple[Any, ...]:
        return ok, gpu._allocate(gpu.pinned, size)

    @call
    def cudaFreeHost(address: int) -> tuple[Any, ...]:
        return (ok,) if gpu.pinned.pop(int(address), None) is not None else (cudaError_t.cudaErrorInvalidValue,)

    @call
    def cudaStreamCreate() -> tuple[Any, ...]:
        return ok, FakeStream(gpu.create_stream())

    @call
    def cudaStreamDestroy(stream: FakeStream) -> tuple[Any, ...]:
        if gpu.streams.pop(int(stream), None) is None:
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        return (ok,)

    @call
    def cudaStreamSynchronize(stream: FakeStream) -> tuple[Any, ...]:
        if int(stream) not in gpu.streams:
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        gpu.synchronize(int(stream))
        return (ok,)

    @call
    def cudaMemcpyAsync(dst: int, src: int, count: int, kind: cudaMemcpyKind, stream: FakeStream) -> tuple[Any, ...]:
        if kind == cudaMemcpyKind.cudaMemcpyHostToDevice:
            target, source = gpu.device_view(int(dst), count), gpu.host_view(int(src), count)
        elif kind == cudaMemcpyKind.cudaMemcpyDeviceToHost:
            target, source = gpu.host_view(int(dst), count), gpu.device_view(int(src), count)
        else:
            return (cudaError_t.cudaErrorInvalidValue,)
        gpu.enqueue(int(stream), lambda: np.copyto(target, source))
        return (ok,)

    @call
    def cudaStreamBeginCapture(stream: FakeStream, mode: cudaStreamCaptureMode) -> tuple[Any, ...]:
        if int(stream) not in gpu.streams or int(stream) in gpu.recording:
            return (cudaError_t.cudaErrorInvalidValue,)
        gpu.recording[int(stream)] = []
        return (ok,)

    @call
    def cudaStreamEndCapture(stream: FakeStream) -> tuple[Any, ...]:
        if int(stream) not in gpu.recording:
            return cudaError_t.cudaErrorStreamCaptureInvalidated, None
        return ok, FakeGraph(gpu.recording.pop(int(stream)))

    @call
    def cudaGraphInstantiateWithFlags(graph: FakeGraph, flags: int) -> tuple[Any, ...]:
        return ok, FakeGraph(list(graph.operations))

    @call
    def cudaGraphLaunch(graph_exec: FakeGraph, stream: FakeStream) -> tuple[Any, ...]:
        for operation in graph_exec.operations:
            gpu.enqueue(int(stream), operation)
        gpu.graph_launches += 1
        return (ok,)

    @call
    def cudaGraphDestroy(graph: FakeGraph) -> tuple[Any, ...]:
        return (ok,)

    @call
    def cudaGraphExecDestroy(graph_exec: FakeGraph) -> tuple[Any, ...]:
        return (ok,)

    @call
    def cudaEventCreate() -> tuple[Any, ...]:
        return ok, FakeEvent()

    @call
    def cudaEventDestroy(event: FakeEvent) -> tuple[Any, ...]:
        return (ok,)

    @call
    def cudaEventRecord(event: FakeEvent, stream: FakeStream) -> tuple[Any, ...]:
        gpu.enqueue(int(stream), event.happen)
        event.stream = int(stream)
        return (ok,)

    @call
    def cudaEventSynchronize(event: FakeEvent) -> tuple[Any, ...]:
        if event.stream is None:
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        gpu.synchronize(event.stream)
        return (ok,)

    @call
    def cudaEventElapsedTime(start: FakeEvent, end: FakeEvent) -> tuple[Any, ...]:
        if start.at is None or end.at is None:
            return (cudaError_t.cudaErrorInvalidResourceHandle, None)
        return ok, (end.at - start.at) * 1e3

    def cudaGetErrorName(error: cudaError_t) -> tuple[Any, ...]:
        return ok, cudaError_t(error).name.encode()

    def cudaGetErrorString(error: cudaError_t) -> tuple[Any, ...]:
        return ok, f"fake CUDA error {int(error)}".encode()

    module.cudaGetErrorName = cudaGetErrorName
    module.cudaGetErrorString = cudaGetErrorString
    module.cudaError_t = cudaError_t
    module.cudaMemcpyKind = cudaMemcpyKind
    module.cudaStreamCaptureMode = cudaStreamCaptureMode
    module.cudaStream_t = FakeStream
    return module
