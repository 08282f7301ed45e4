"""Test doubles of TensorRT's Python API and of cuda-python's runtime module, over numpy "device" memory.

They implement only documented signatures:
    TensorRT 8.2-8.6 (``__version__`` "8.x"): ``ICudaEngine.num_bindings``, ``get_binding_name/index``,
        ``binding_is_input``, ``get_binding_shape/dtype``, ``IExecutionContext.execute_async_v2(bindings,
        stream_handle)``; 8.5+ adds the named-tensor calls; ``IBuilderConfig.max_workspace_size`` (removed in 10),
        ``set_memory_pool_limit`` (8.4+).
    TensorRT 10.x: ``num_io_tensors``, ``get_tensor_name/mode/shape/dtype``, ``set_tensor_address``,
        ``execute_async_v3(stream_handle)``, ``IProgressMonitor``; no binding-index calls.
    cuda-python (``cuda.bindings.runtime``): every call returns a tuple whose first item is a ``cudaError_t``.

A "serialized engine" is the ONNX model plus a header; executing it runs the model with onnxruntime, reading its
input from and writing its outputs to the fake device memory at the bound addresses, when the stream is
synchronized (so a missing synchronize or a wrong address shows up as wrong results or an error).

Run as a script (``python test/trt_double.py COMMAND ...``) it installs the doubles and runs
``python -m disk_trt_ros COMMAND ...``: tests start real processes that way. Environment for that mode:
``TRT_DOUBLE_VERSION`` (TensorRT version), ``TRT_DOUBLE_BUILD_SECONDS`` (build duration),
``TRT_DOUBLE_BUILD_LOG`` (file that gets one line per build).
"""

from __future__ import annotations

import ctypes
import enum
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Callable

import numpy as np
import pytest

ENGINE_MAGIC = b"TRTDOUBLE1"
TIMING_CACHE_MAGIC = b"TIMINGDOUBLE1"


# ---------------------------------------------------------------------------------------------------------------
# The fake GPU: memory and streams shared by both doubles.


class FakeGpu:
    """Device allocations, pinned host allocations and streams of one pretend GPU.

    Attributes:
        fail_next: cudart call name -> ``cudaError_t`` value that the next such call returns.
        pageable_copies: copies whose host side was not pinned memory (real CUDA allows them, slowly).
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
        self.streams[handle].append(operation)

    def synchronize(self, handle: int) -> None:
        pending, self.streams[handle] = self.streams[handle], []
        for operation in pending:
            operation()


# ---------------------------------------------------------------------------------------------------------------
# cuda-python's runtime module.


class cudaError_t(enum.IntEnum):  # noqa: N801 - cuda-python's names
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorNoDevice = 100
    cudaErrorInvalidDevice = 101
    cudaErrorInvalidResourceHandle = 400


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

    def cudaGetErrorName(error: cudaError_t) -> tuple[Any, ...]:
        return ok, cudaError_t(error).name.encode()

    def cudaGetErrorString(error: cudaError_t) -> tuple[Any, ...]:
        return ok, f"fake CUDA error {int(error)}".encode()

    module.cudaGetErrorName = cudaGetErrorName
    module.cudaGetErrorString = cudaGetErrorString
    module.cudaError_t = cudaError_t
    module.cudaMemcpyKind = cudaMemcpyKind
    module.cudaStream_t = FakeStream
    return module


# ---------------------------------------------------------------------------------------------------------------
# TensorRT.


class DataType(enum.Enum):
    FLOAT = np.float32
    HALF = np.float16
    INT8 = np.int8
    INT32 = np.int32
    BOOL = np.bool_
    UINT8 = np.uint8


class TensorIOMode(enum.Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class BuilderFlag(enum.IntEnum):
    FP16 = 0
    INT8 = 1
    TF32 = 6


class MemoryPoolType(enum.IntEnum):
    WORKSPACE = 0


class NetworkDefinitionCreationFlag(enum.IntEnum):
    EXPLICIT_BATCH = 0


class Dims(tuple):
    """``trt.Dims``: iterable sizes."""


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def make_tensorrt(gpu: FakeGpu, version: str = "10.0.1") -> ModuleType:
    """A ``tensorrt`` double over ``gpu`` exposing the API of TensorRT ``version`` (8.2 to 10.x)."""
    major_minor = _version_tuple(version)
    trt = ModuleType("tensorrt")
    trt.__version__ = version
    trt.DataType = DataType
    trt.BuilderFlag = BuilderFlag
    trt.NetworkDefinitionCreationFlag = NetworkDefinitionCreationFlag
    trt.builds = []  # not TensorRT: what the double was asked to build, for assertions

    def nptype(data_type: DataType) -> type:
        if not isinstance(data_type, DataType):
            raise TypeError(f"not a DataType: {data_type!r}")
        return data_type.value

    trt.nptype = nptype

    class Logger:
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

        def __init__(self, min_severity: int = 2) -> None:
            self.min_severity = min_severity
            self.messages: list[str] = []

        def log(self, severity: int, msg: str) -> None:
            self.messages.append(msg)
            if severity <= self.min_severity:
                print(f"[TensorRT double] {msg}", file=sys.stderr)

    trt.Logger = Logger

    if major_minor >= (8, 4):
        trt.MemoryPoolType = MemoryPoolType
    if major_minor >= (8, 5):
        trt.TensorIOMode = TensorIOMode
    if major_minor >= (10, 0):

        class IProgressMonitor:
            def __init__(self) -> None:
                pass

        trt.IProgressMonitor = IProgressMonitor

    class HostMemory(bytes):
        """``IHostMemory``: exposes the buffer protocol."""

    class TimingCache:
        def __init__(self, entries: list[str]) -> None:
            self.entries = entries

        def serialize(self) -> HostMemory:
            return HostMemory(TIMING_CACHE_MAGIC + json.dumps(self.entries).encode())

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.onnx: bytes | None = None

    class ParserError:
        def __init__(self, node: int, desc: str) -> None:
            self._node, self._desc = node, desc

        def node(self) -> int:
            return self._node

        def desc(self) -> str:
            return self._desc

        def code(self) -> int:
            return 1

    class OnnxParser:
        """Accepts what onnx can load, except uint8 inputs before 8.5 and ``Mod`` nodes before 10."""

        def __init__(self, network: Network, logger: Logger) -> None:
            self._network, self._errors = network, []

        @property
        def num_errors(self) -> int:
            return len(self._errors)

        def get_error(self, index: int) -> ParserError:
            return self._errors[index]

        def parse(self, model: bytes, path: str | None = None) -> bool:
            import onnx

            self._errors = []
            if major_minor < (10, 0) and not self._network.flags & (
                1 << int(NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
            ):
                self._errors.append(ParserError(-1, "the ONNX parser only supports networks with an explicit batch"))
                return False
            try:
                graph = onnx.load_from_string(bytes(model)).graph
            except Exception as error:  # noqa: BLE001 - protobuf's DecodeError and friends
                self._errors.append(ParserError(-1, f"failed to parse ONNX model: {error}"))
                return False
            for tensor in graph.input:
                if tensor.type.tensor_type.elem_type == onnx.TensorProto.UINT8 and major_minor < (8, 5):
                    self._errors.append(ParserError(-1, f"input '{tensor.name}' has unsupported type UINT8"))
            for index, node in enumerate(graph.node):
                if node.op_type == "Mod" and major_minor < (10, 0):
                    self._errors.append(ParserError(index, f"no importer registered for op: {node.op_type}"))
            self._network.onnx = bytes(model)
            return not self._errors

    class BuilderConfig:
        def __init__(self) -> None:
            self.flags: set[BuilderFlag] = {BuilderFlag.TF32}  # TensorRT's default
            self.pool_limits: dict[MemoryPoolType, int] = {}
            self.timing_cache: TimingCache | None = None
            if major_minor >= (10, 0):
                self.progress_monitor = None

        def set_flag(self, flag: BuilderFlag) -> None:
            self.flags.add(flag)

        def clear_flag(self, flag: BuilderFlag) -> None:
            self.flags.discard(flag)

        def get_flag(self, flag: BuilderFlag) -> bool:
            return flag in self.flags

        def create_timing_cache(self, serialized_timing_cache: bytes) -> TimingCache | None:
            data = bytes(serialized_timing_cache)
            if not data:
                return TimingCache([])
            if not data.startswith(TIMING_CACHE_MAGIC):
                return None
            return TimingCache(json.loads(data[len(TIMING_CACHE_MAGIC) :]))

        def set_timing_cache(self, cache: TimingCache, ignore_mismatch: bool) -> bool:
            self.timing_cache = cache
            return True

        def get_timing_cache(self) -> TimingCache | None:
            return self.timing_cache

    if major_minor < (10, 0):

        def _get_workspace(config: BuilderConfig) -> int:
            return config.pool_limits.get(MemoryPoolType.WORKSPACE, 0)

        def _set_workspace(config: BuilderConfig, size: int) -> None:
            config.pool_limits[MemoryPoolType.WORKSPACE] = size

        BuilderConfig.max_workspace_size = property(_get_workspace, _set_workspace)
    if major_minor >= (8, 4):

        def set_memory_pool_limit(config: BuilderConfig, pool: MemoryPoolType, pool_size: int) -> None:
            config.pool_limits[pool] = pool_size

        BuilderConfig.set_memory_pool_limit = set_memory_pool_limit

    class Builder:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger
            self.platform_has_fast_fp16 = True

        def create_network(self, flags: int = 0) -> Network:
            return Network(flags)

        def create_builder_config(self) -> BuilderConfig:
            return BuilderConfig()

        def build_serialized_network(self, network: Network, config: BuilderConfig) -> HostMemory | None:
            if network.onnx is None:
                self.logger.log(Logger.ERROR, "network has no layers")
                return None
            monitor = getattr(config, "progress_monitor", None)
            if monitor is not None:
                monitor.phase_start("Building engine", None, 2)
            time.sleep(float(os.environ.get("TRT_DOUBLE_BUILD_SECONDS", "0")))
            if monitor is not None:
                monitor.step_complete("Building engine", 0)
                monitor.step_complete("Building engine", 1)
                monitor.phase_finish("Building engine")
            header = {
                "tensorrt_version": version,
                "gpu_name": gpu.name,
                "fp16": BuilderFlag.FP16 in config.flags,
                "tf32": BuilderFlag.TF32 in config.flags,
                "workspace": config.pool_limits.get(MemoryPoolType.WORKSPACE),
            }
            trt.builds.append(header)
            if config.timing_cache is not None:
                config.timing_cache.entries.append(f"build {len(trt.builds)}")
            log = os.environ.get("TRT_DOUBLE_BUILD_LOG")
            if log:
                with open(log, "a") as stream:
                    stream.write(json.dumps(header) + "\n")
            encoded = json.dumps(header).encode()
            return HostMemory(ENGINE_MAGIC + len(encoded).to_bytes(4, "little") + encoded + network.onnx)

    class Engine:
        def __init__(self, header: dict[str, Any], onnx_bytes: bytes) -> None:
            import onnx
            import onnxruntime

            graph = onnx.load_from_string(onnx_bytes).graph
            self._session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
            self._io = [(tensor, True) for tensor in graph.input] + [(tensor, False) for tensor in graph.output]
            self._names = [tensor.name for tensor, _ in self._io]
            self.header = header

        def _spec(self, name: str) -> tuple[Dims, DataType, bool]:
            import onnx

            tensor, is_input = self._io[self._names.index(name)]
            shape = Dims(d.dim_value for d in tensor.type.tensor_type.shape.dim)
            dtype = DataType(onnx.helper.tensor_dtype_to_np_dtype(tensor.type.tensor_type.elem_type).type)
            return shape, dtype, is_input

        def create_execution_context(self) -> "Context":
            return Context(self)

        def _run(self, addresses: dict[str, int]) -> None:
            feeds = {}
            for name in self._names:
                shape, dtype, is_input = self._spec(name)
                nbytes = int(np.prod(shape)) * np.dtype(dtype.value).itemsize
                view = gpu.device_view(addresses[name], nbytes)
                if is_input:
                    feeds[name] = view.view(dtype.value).reshape(shape).copy()
            outputs = [name for name in self._names if not self._spec(name)[2]]
            for name, value in zip(outputs, self._session.run(outputs, feeds)):
                shape, dtype, _ = self._spec(name)
                target = gpu.device_view(addresses[name], value.nbytes)
                target[:] = np.ascontiguousarray(value, dtype=dtype.value).reshape(-1).view(np.uint8)

    if major_minor < (10, 0):

        def num_bindings(engine: Engine) -> int:
            return len(engine._names)

        Engine.num_bindings = property(num_bindings)
        Engine.get_binding_name = lambda engine, index: engine._names[index]
        Engine.get_binding_index = lambda engine, name: engine._names.index(name) if name in engine._names else -1
        Engine.binding_is_input = lambda engine, index: engine._spec(engine._names[index])[2]
        Engine.get_binding_shape = lambda engine, index: engine._spec(engine._names[index])[0]
        Engine.get_binding_dtype = lambda engine, index: engine._spec(engine._names[index])[1]
    if major_minor >= (8, 5):
        Engine.num_io_tensors = property(lambda engine: len(engine._names))
        Engine.get_tensor_name = lambda engine, index: engine._names[index]
        Engine.get_tensor_mode = lambda engine, name: (
            TensorIOMode.INPUT if engine._spec(name)[2] else TensorIOMode.OUTPUT
        )
        Engine.get_tensor_shape = lambda engine, name: engine._spec(name)[0]
        Engine.get_tensor_dtype = lambda engine, name: engine._spec(name)[1]

    class Context:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine
            self._addresses: dict[str, int] = {}

        def _enqueue(self, addresses: dict[str, int], stream_handle: int) -> bool:
            missing = [name for name in self.engine._names if not addresses.get(name)]
            if missing:
                print(f"[TensorRT double] no address bound for {missing}", file=sys.stderr)
                return False
            frozen = dict(addresses)
            gpu.enqueue(stream_handle, lambda: self.engine._run(frozen))
            return True

    if major_minor < (10, 0):

        def execute_async_v2(
            context: Context, bindings: list[int], stream_handle: int, input_consumed: Any = None
        ) -> bool:
            if len(bindings) != len(context.engine._names):
                return False
            return context._enqueue(dict(zip(context.engine._names, bindings)), stream_handle)

        Context.execute_async_v2 = execute_async_v2
    if major_minor >= (8, 5):

        def set_tensor_address(context: Context, name: str, memory: int) -> bool:
            if name not in context.engine._names:
                return False
            context._addresses[name] = memory
            return True

        Context.set_tensor_address = set_tensor_address
        Context.execute_async_v3 = lambda context, stream_handle: context._enqueue(context._addresses, stream_handle)

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, serialized_engine: bytes) -> Engine | None:
            data = bytes(serialized_engine)
            if not data.startswith(ENGINE_MAGIC) or len(data) < len(ENGINE_MAGIC) + 4:
                self.logger.log(Logger.ERROR, "1: [stdArchiveReader.cpp] Serialization assertion failed: magic tag")
                return None
            length = int.from_bytes(data[len(ENGINE_MAGIC) : len(ENGINE_MAGIC) + 4], "little")
            try:
                header = json.loads(data[len(ENGINE_MAGIC) + 4 : len(ENGINE_MAGIC) + 4 + length])
                if header["tensorrt_version"] != version or header["gpu_name"] != gpu.name:
                    self.logger.log(Logger.ERROR, "engine plan built for another TensorRT version or device")
                    return None
                return Engine(header, data[len(ENGINE_MAGIC) + 4 + length :])
            except Exception as error:  # noqa: BLE001 - a corrupt plan
                self.logger.log(Logger.ERROR, f"corrupt engine plan: {error}")
                return None

    trt.Builder = Builder
    trt.OnnxParser = OnnxParser
    trt.Runtime = Runtime
    return trt


def modules(gpu: FakeGpu, version: str) -> dict[str, ModuleType | None]:
    """``sys.modules`` entries that make ``import tensorrt`` and cuda-python's runtime load the doubles, and pycuda
    fail to import (so the CUDA layer picks cuda-python)."""
    cudart = make_cudart(gpu)
    bindings = ModuleType("cuda.bindings")
    bindings.runtime = cudart
    cuda = ModuleType("cuda")
    cuda.bindings = bindings
    return {
        "tensorrt": make_tensorrt(gpu, version),
        "cuda": cuda,
        "cuda.bindings": bindings,
        "cuda.bindings.runtime": cudart,
        "pycuda": None,
        "pycuda.driver": None,
    }


def install(monkeypatch: Any, version: str = "10.0.1", gpu: FakeGpu | None = None) -> FakeGpu:
    """Install the doubles for one test (pytest's ``monkeypatch`` undoes it); returns the fake GPU."""
    gpu = gpu or FakeGpu()
    for name, module in modules(gpu, version).items():
        monkeypatch.setitem(sys.modules, name, module)
    return gpu


# ---------------------------------------------------------------------------------------------------------------
# A tiny model that follows the contract, for tests that need no real DISK.


def tiny_model_info(**overrides: Any) -> Any:
    """A :class:`~disk_trt_ros.contract.ModelInfo` for :func:`make_contract_onnx`: 32x32 rgb float32, K=8."""
    from disk_trt_ros.contract import InputFormat, ModelInfo, TrtCompat

    settings: dict[str, Any] = dict(
        height=32,
        width=32,
        max_keypoints=8,
        input_format=InputFormat.RGB,
        input_dtype="float32",
        nms_window=5,
        score_threshold=0.0,
        trt_compat=TrtCompat.TRT_8_2,
        weights="random:0",
        weights_sha256="ab" * 32,
        package_version="0.1.0",
    )
    settings.update(overrides)
    return ModelInfo(**settings)


def make_contract_onnx(path: str | os.PathLike[str], info: Any) -> None:
    """Write an ONNX model with the contract's input and outputs and ``info``'s metadata whose outputs are slices
    of the input pixels, so data flow can be checked exactly.

    With ``flat`` the input flattened to float32: ``keypoints = flat[:2K]``, ``scores = flat[:K] / 255``,
    ``descriptors = flat[:128K] / 255``, ``num_keypoints = min(flat[0], K)``. Needs ``H * W * C >= 128 * K``.
    """
    import onnx
    from onnx import TensorProto, helper

    from disk_trt_ros.contract import DESCRIPTOR_DIM, INPUT_NAME

    k = info.max_keypoints
    if info.height * info.width * info.input_format.channels < DESCRIPTOR_DIM * k:
        raise ValueError("make_contract_onnx needs H * W * C >= 128 * K")

    def constant(name: str, values: list[float] | list[int], dtype: Any) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, dtype, [len(values)], values))

    def take(output: str, count: int, shape: list[int]) -> list[onnx.NodeProto]:
        return [
            constant(f"{output}_end", [count], TensorProto.INT64),
            helper.make_node("Slice", ["flat", "zero", f"{output}_end", "one"], [f"{output}_flat"]),
            constant(f"{output}_shape", shape, TensorProto.INT64),
            helper.make_node("Reshape", [f"{output}_flat", f"{output}_shape"], [f"{output}_raw"]),
        ]

    elem_type = TensorProto.UINT8 if info.input_dtype == "uint8" else TensorProto.FLOAT
    nodes = [
        helper.make_node("Cast", [INPUT_NAME], ["pixels"], to=TensorProto.FLOAT),
        constant("flat_shape", [1, -1], TensorProto.INT64),
        helper.make_node("Reshape", ["pixels", "flat_shape"], ["flat"]),
        constant("zero", [0], TensorProto.INT64),
        constant("one", [1], TensorProto.INT64),
        constant("scale", [255.0], TensorProto.FLOAT),
        constant("k", [float(k)], TensorProto.FLOAT),
        *take("keypoints", 2 * k, [1, k, 2]),
        helper.make_node("Identity", ["keypoints_raw"], ["keypoints"]),
        *take("scores", k, [1, k]),
        helper.make_node("Div", ["scores_raw", "scale"], ["scores"]),
        *take("descriptors", DESCRIPTOR_DIM * k, [1, k, DESCRIPTOR_DIM]),
        helper.make_node("Div", ["descriptors_raw", "scale"], ["descriptors"]),
        *take("count", 1, [1]),
        helper.make_node("Min", ["count_raw", "k"], ["count_clipped"]),
        helper.make_node("Cast", ["count_clipped"], ["num_keypoints"], to=TensorProto.INT32),
    ]
    outputs = [
        helper.make_tensor_value_info(name, dtype, list(shape))
        for name, dtype, shape in (
            ("keypoints", TensorProto.FLOAT, info.output_shapes()["keypoints"]),
            ("scores", TensorProto.FLOAT, info.output_shapes()["scores"]),
            ("descriptors", TensorProto.FLOAT, info.output_shapes()["descriptors"]),
            ("num_keypoints", TensorProto.INT32, info.output_shapes()["num_keypoints"]),
        )
    ]
    graph = helper.make_graph(
        nodes, "contract", [helper.make_tensor_value_info(INPUT_NAME, elem_type, list(info.input_shape))], outputs
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="trt_double")
    model.ir_version = 7
    for key, value in info.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    Path(path).write_bytes(model.SerializeToString())


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A tiny ONNX model that follows the engine contract (the double's engines run it with onnxruntime)."""
    path = tmp_path / "model.onnx"
    make_contract_onnx(path, tiny_model_info())
    return path


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> FakeGpu:
    """The double installed as ``tensorrt`` 10.0.1, with a fake GPU behind cuda-python's runtime."""
    return install(monkeypatch, "10.0.1")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.modules.update(modules(FakeGpu(), os.environ.get("TRT_DOUBLE_VERSION", "10.0.1")))
    from disk_trt_ros.cli import main

    sys.exit(main(sys.argv[1:]))
