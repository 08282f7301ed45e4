# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The engine's input and output tensors through TensorRT's two execution APIs.

The installed major version chooses:
8.x: binding indices (``num_bindings``, ``get_binding_index``, ``execute_async_v2(bindings, stream_handle)``);
10.x: named tensors (``num_io_tensors``, ``set_tensor_address``, ``execute_async_v3(stream_handle)``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from disk_trt_ros.contract import TensorSpec
from disk_trt_ros.errors import ContractError, InferenceError
from disk_trt_ros.inference.tensorrt.runtime import tensorrt_major


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
                shape=tuple(int(size) for size in engine.get_binding_shape(index)),
                dtype=_numpy_dtype(self._trt, engine.get_binding_dtype(index), engine.get_binding_name(index)),
                is_input=engine.binding_is_input(index),
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
                shape=tuple(int(size) for size in engine.get_tensor_shape(name)),
                dtype=_numpy_dtype(trt, engine.get_tensor_dtype(name), name),
                is_input=engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT,
            )
            for name in names
        ]

    def bind(self, addresses: dict[str, int]) -> None:
        for name, address in addresses.items():
            if not self._context.set_tensor_address(name, address):
                raise InferenceError(f"TensorRT refused the device address of tensor '{name}'")

    def enqueue(self, stream_handle: int) -> bool:
        return bool(self._context.execute_async_v3(stream_handle))


def _numpy_dtype(trt: ModuleType, data_type: Any, name: str) -> str:
    """The numpy dtype name of a TensorRT data type."""
    try:
        return np.dtype(trt.nptype(data_type)).name
    except TypeError as error:
        raise ContractError(f"engine tensor '{name}' has data type {data_type}, which numpy cannot hold") from error


def engine_io(trt: ModuleType, engine: Any, context: Any) -> BindingIndexIO | NamedTensorIO:
    """The execution API of the installed TensorRT: binding indices before 10, named tensors from 10 on."""
    return NamedTensorIO(trt, engine, context) if tensorrt_major(trt) >= 10 else BindingIndexIO(trt, engine, context)
