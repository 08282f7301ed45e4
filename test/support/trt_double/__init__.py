# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Test doubles of TensorRT's Python API and of cuda-python's runtime module, over numpy "device" memory.

They implement only documented signatures:
    TensorRT 8.2-8.6 (``__version__`` "8.x"): ``ICudaEngine.num_bindings``, ``get_binding_name/index``,
        ``binding_is_input``, ``get_binding_shape/dtype``, ``IExecutionContext.execute_async_v2(bindings,
        stream_handle)``; 8.5+ adds the named-tensor calls; ``IBuilderConfig.max_workspace_size`` (removed in 10),
        ``set_memory_pool_limit`` (8.4+); ``BuilderFlag.STRICT_TYPES``, ``OBEY_PRECISION_CONSTRAINTS`` (8.4+);
        networks whose layers take ``precision`` and ``set_output_type``.
    TensorRT 10.x: ``num_io_tensors``, ``get_tensor_name/mode/shape/dtype``, ``set_tensor_address``,
        ``execute_async_v3(stream_handle)``, ``IProgressMonitor``; no binding-index calls, no ``STRICT_TYPES``.
    cuda-python (``cuda.bindings.runtime``): every call returns a tuple whose first item is a ``cudaError_t``.

Modules: ``gpu`` (the fake GPU both doubles share), ``cudart`` (cuda-python), ``tensorrt_types``, ``fake_network``,
``fake_builder`` and ``fake_runtime`` (the ``tensorrt`` module, assembled here by :func:`make_tensorrt`),
``contract_model`` (a tiny model that follows the contract). :func:`install` puts the doubles in ``sys.modules``
for one test; the fixtures ``fake_gpu`` and ``tiny_model`` (test/conftest.py) use it. ``python -m support.trt_double``
runs a command or the node in a process whose TensorRT and CUDA are the doubles (see ``__main__``).
"""

from __future__ import annotations

import enum
import sys
from types import ModuleType
from typing import Any

from support.trt_double.contract_model import VIOLATIONS, expected_outputs, make_contract_onnx, tiny_model_info
from support.trt_double.cudart import cudaError_t, make_cudart
from support.trt_double.fake_builder import add_builder
from support.trt_double.fake_runtime import add_runtime
from support.trt_double.gpu import FakeGpu
from support.trt_double.tensorrt_types import (
    PLUGIN_CREATORS,
    TIMING_CACHE_MAGIC,
    BuilderFlag,
    DataType,
    LayerInformationFormat,
    LayerType,
    MemoryPoolType,
    NetworkDefinitionCreationFlag,
    ProfilingVerbosity,
    Severity,
    TacticSource,
    TensorIOMode,
    version_tuple,
)

__all__ = [
    "TIMING_CACHE_MAGIC",
    "VIOLATIONS",
    "FakeGpu",
    "command",
    "cudaError_t",
    "expected_outputs",
    "install",
    "make_contract_onnx",
    "make_tensorrt",
    "modules",
    "tiny_model_info",
]


def make_tensorrt(gpu: FakeGpu, version: str = "10.0.1") -> ModuleType:
    """A ``tensorrt`` double over ``gpu`` exposing the API of TensorRT ``version`` (8.2 to 10.x)."""
    major_minor = version_tuple(version)
    trt = ModuleType("tensorrt")
    trt.__version__ = version
    trt.DataType = DataType
    trt.float32, trt.float16, trt.int32, trt.int8, trt.bool = (
        DataType.FLOAT, DataType.HALF, DataType.INT32, DataType.INT8, DataType.BOOL
    )
    if major_minor >= (8, 5):
        trt.uint8 = DataType.UINT8
    # OBEY_PRECISION_CONSTRAINTS replaced STRICT_TYPES: the double has it from 8.4 on; TensorRT 10 removed STRICT_TYPES.
    absent = {"OBEY_PRECISION_CONSTRAINTS"} if major_minor < (8, 4) else set()
    if major_minor >= (10, 0):
        absent.add("STRICT_TYPES")
    flags = {flag.name: flag.value for flag in BuilderFlag if flag.name not in absent}
    trt.BuilderFlag = enum.IntEnum("BuilderFlag", flags)
    trt.LayerType = LayerType
    trt.ProfilingVerbosity = ProfilingVerbosity
    trt.TacticSource = TacticSource
    trt.LayerInformationFormat = LayerInformationFormat
    trt.NetworkDefinitionCreationFlag = NetworkDefinitionCreationFlag
    trt.builds = []  # not TensorRT: what the double was asked to build, for assertions

    def nptype(data_type: DataType) -> type:
        if not isinstance(data_type, DataType):
            raise TypeError(f"not a DataType: {data_type!r}")
        return data_type.value

    trt.nptype = nptype

    class ILogger:
        Severity = Severity

        def __init__(self) -> None:
            pass

        def log(self, severity: Severity, msg: str) -> None:
            raise NotImplementedError

    class Logger(ILogger):
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = Severity

        def __init__(self, min_severity: Severity = Severity.WARNING) -> None:
            super().__init__()
            self.min_severity = min_severity
            self.messages: list[str] = []

        def log(self, severity: Severity, msg: str) -> None:
            self.messages.append(msg)
            if severity <= self.min_severity:
                print(f"[TensorRT double] {msg}", file=sys.stderr)

    trt.ILogger = ILogger
    trt.Logger = Logger
    trt.registered_plugins = set()  # not TensorRT: the process's plugin registry

    def init_libnvinfer_plugins(logger: ILogger, namespace: str) -> bool:
        trt.registered_plugins.update(PLUGIN_CREATORS.values())
        return True

    trt.init_libnvinfer_plugins = init_libnvinfer_plugins

    if major_minor >= (8, 4):
        trt.MemoryPoolType = MemoryPoolType
    if major_minor >= (8, 5):
        trt.TensorIOMode = TensorIOMode
    if major_minor >= (10, 0):

        class IProgressMonitor:
            def __init__(self) -> None:
                pass

        trt.IProgressMonitor = IProgressMonitor

    add_builder(trt, gpu, version)
    add_runtime(trt, gpu, version)
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


def command(*arguments: str) -> list[str]:
    """The command line of a process that runs ``python -m disk_trt_ros ARGUMENTS`` (or, with ``node`` first, the
    node) with the doubles; start it with :func:`support.paths.subprocess_environment`."""
    return [sys.executable, "-m", "support.trt_double", *arguments]


def install(monkeypatch: Any, version: str = "10.0.1", gpu: FakeGpu | None = None) -> FakeGpu:
    """Install the doubles for one test (pytest's ``monkeypatch`` undoes it); returns the fake GPU."""
    gpu = gpu or FakeGpu()
    for name, module in modules(gpu, version).items():
        monkeypatch.setitem(sys.modules, name, module)
    return gpu
