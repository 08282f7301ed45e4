"""Run a TensorRT engine built by ``build-engine`` (TensorRT 8.2 to 10.x).

The engine's :class:`~disk_trt_ros.contract.ModelInfo` comes from its sidecar (an engine file carries no ONNX
metadata). Its input and output tensors are bound by name and checked against the contract. Device buffers and
pinned host buffers are allocated once; a frame is one host-to-device copy, one enqueue, four device-to-host copies
and a stream synchronisation.

TensorRT's two execution APIs, chosen by the installed major version:
    8.x: binding indices (``num_bindings``, ``get_binding_index``, ``execute_async_v2(bindings, stream_handle)``);
    10.x: named tensors (``num_io_tensors``, ``set_tensor_address``, ``execute_async_v3(stream_handle)``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from disk_trt_ros.contract import INPUT_NAME, OUTPUT_NAMES, ModelInfo
from disk_trt_ros.errors import ContractError, EngineCacheError, InferenceError
from disk_trt_ros.inference.base import Backend, Features
from disk_trt_ros.inference.cuda_memory import CudaMemory, open_cuda_memory
from disk_trt_ros.inference.engine_cache import (
    deserialize_engine,
    import_tensorrt,
    read_sidecar,
    tensorrt_major,
)


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One of the engine's input or output tensors, as TensorRT reports it."""

    name: str
    is_input: bool
    shape: tuple[int, ...]
    dtype: np.dtype


class BindingIndexIO:
    """TensorRT 8.2 to 8.6: tensors addressed by binding index, ``execute_async_v2``."""

    def __init__(self, trt: ModuleType, engine: Any, context: Any) -> None:
        self._trt, self._engine, self._context = trt, engine, context
        self._bindings: list[int] = []

    def tensors(self) -> list[TensorSpec]:
        engine = self._engine
        return [
            TensorSpec(
                name=engine.get_binding_name(index),
                is_input=engine.binding_is_input(index),
                shape=tuple(int(size) for size in engine.get_binding_shape(index)),
                dtype=_numpy_dtype(self._trt, engine.get_binding_dtype(index), engine.get_binding_name(index)),
            )
            for index in range(engine.num_bindings)
        ]

    def bind(self, addresses: dict[str, int]) -> None:
        bindings = [0] * self._engine.num_bindings
        for name, address in addresses.items():
            bindings[self._engine.get_binding_index(name)] = address
        self._bindings = bindings

    def enqueue(self, stream_handle: int) -> bool:
        return bool(self._context.execute_async_v2(self._bindings, stream_handle))


class NamedTensorIO:
    """TensorRT 10: tensors addressed by name, ``set_tensor_address`` and ``execute_async_v3``."""

    def __init__(self, trt: ModuleType, engine: Any, context: Any) -> None:
        self._trt, self._engine, self._context = trt, engine, context

    def tensors(self) -> list[TensorSpec]:
        engine, trt = self._engine, self._trt
        names = [engine.get_tensor_name(index) for index in range(engine.num_io_tensors)]
        return [
            TensorSpec(
                name=name,
                is_input=engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT,
                shape=tuple(int(size) for size in engine.get_tensor_shape(name)),
                dtype=_numpy_dtype(trt, engine.get_tensor_dtype(name), name),
            )
            for name in names
        ]

    def bind(self, addresses: dict[str, int]) -> None:
        for name, address in addresses.items():
            if not self._context.set_tensor_address(name, address):
                raise InferenceError(f"TensorRT refused the device address of tensor '{name}'")

    def enqueue(self, stream_handle: int) -> bool:
        return bool(self._context.execute_async_v3(stream_handle))


def _numpy_dtype(trt: ModuleType, data_type: Any, name: str) -> np.dtype:
    try:
        return np.dtype(trt.nptype(data_type))
    except TypeError as error:
        raise ContractError(f"engine tensor '{name}' has data type {data_type}, which numpy cannot hold") from error


def engine_io(trt: ModuleType, engine: Any, context: Any) -> BindingIndexIO | NamedTensorIO:
    """The execution API of the installed TensorRT: binding indices before 10, named tensors from 10 on."""
    return NamedTensorIO(trt, engine, context) if tensorrt_major(trt) >= 10 else BindingIndexIO(trt, engine, context)


def check_engine_tensors(tensors: list[TensorSpec], info: ModelInfo) -> None:
    """Raise :class:`ContractError` naming each tensor whose name, direction, shape or dtype breaks the contract."""
    expected_shapes = {INPUT_NAME: info.input_shape, **info.output_shapes()}
    expected_dtypes = {INPUT_NAME: info.input_dtype, **info.output_dtypes()}
    found = {tensor.name: tensor for tensor in tensors}
    problems = [f"tensor '{name}' is missing" for name in expected_shapes if name not in found]
    problems += [f"tensor '{name}' is not in the contract" for name in found if name not in expected_shapes]
    for name, tensor in found.items():
        if name not in expected_shapes:
            continue
        if tensor.is_input != (name == INPUT_NAME):
            problems.append(f"tensor '{name}' should be an {'input' if name == INPUT_NAME else 'output'}")
        if tensor.shape != tuple(expected_shapes[name]):
            problems.append(
                f"tensor '{name}' has shape {tensor.shape}, the contract says {tuple(expected_shapes[name])}"
            )
        if tensor.dtype != np.dtype(expected_dtypes[name]):
            problems.append(f"tensor '{name}' has dtype {tensor.dtype}, the contract says {expected_dtypes[name]}")
    if problems:
        raise ContractError(
            "the engine does not match its model's contract: " + "; ".join(problems) + "; rebuild the engine from "
            "the exported model with 'python -m disk_trt_ros build-engine'"
        )


class TensorRTBackend(Backend):
    """A deserialized engine with its buffers; :meth:`run` takes a uint8 ``[H, W, C]`` image.

    Args:
        engine_path: engine written by ``build-engine``, with its sidecar ``ENGINE.json`` beside it.
        cuda: the CUDA layer to allocate and copy with (default: :func:`open_cuda_memory`); closed by :meth:`close`.
    """

    name = "tensorrt"

    def __init__(self, engine_path: str | os.PathLike[str], cuda: CudaMemory | None = None) -> None:
        engine_path = Path(engine_path)
        record = read_sidecar(engine_path)
        super().__init__(record.model_info, record.precision)
        trt = import_tensorrt()
        if record.tensorrt_version != str(trt.__version__):
            raise EngineCacheError(
                f"engine {engine_path} was built with TensorRT {record.tensorrt_version}, this is "
                f"{trt.__version__}; rebuild it with 'python -m disk_trt_ros build-engine --if-needed'"
            )
        data = engine_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != record.engine_sha256:
            raise EngineCacheError(
                f"engine {engine_path} does not match the sha256 in its sidecar (truncated or replaced); rebuild it "
                "with 'python -m disk_trt_ros build-engine --if-needed'"
            )
        self._cuda = cuda or open_cuda_memory()
        try:
            with self._cuda.active():
                self._setup(trt, data, engine_path)
        except BaseException:
            self._cuda.close()
            raise

    def _setup(self, trt: ModuleType, data: bytes, engine_path: Path) -> None:
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime, self._engine = deserialize_engine(trt, data, self._logger)
        if self._engine is None:
            raise EngineCacheError(
                f"TensorRT {trt.__version__} cannot deserialize {engine_path} (built for another GPU or TensorRT?); "
                "rebuild it with 'python -m disk_trt_ros build-engine --if-needed'"
            )
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise EngineCacheError(f"TensorRT could not create an execution context for {engine_path} (GPU memory?)")
        self._io = engine_io(trt, self._engine, self._context)
        check_engine_tensors(self._io.tensors(), self.info)
        shapes = {INPUT_NAME: self.info.input_shape, **self.info.output_shapes()}
        dtypes = {INPUT_NAME: self.info.input_dtype, **self.info.output_dtypes()}
        self._host = {name: self._cuda.pinned_array(shapes[name], dtypes[name]) for name in shapes}
        self._device = {name: self._cuda.device_buffer(self._host[name].nbytes) for name in shapes}
        self._io.bind(self._device)

    def run(self, image: np.ndarray) -> Features:
        self.check_image(image)
        cuda = self._cuda
        with cuda.active():
            np.copyto(self._host[INPUT_NAME][0], image)
            cuda.copy_to_device(self._device[INPUT_NAME], self._host[INPUT_NAME])
            if not self._io.enqueue(cuda.stream_handle):
                raise InferenceError("TensorRT failed to enqueue the engine; its messages above say why")
            for name in OUTPUT_NAMES:
                cuda.copy_to_host(self._host[name], self._device[name])
            cuda.synchronize()
        return Features.from_outputs(*(self._host[name] for name in OUTPUT_NAMES))

    def close(self) -> None:
        for attribute in ("_io", "_context", "_engine", "_runtime"):  # TensorRT objects before the memory they use
            if hasattr(self, attribute):
                delattr(self, attribute)
        self._cuda.close()
