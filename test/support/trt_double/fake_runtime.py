# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The runtime half of the ``tensorrt`` double: deserialized engines run the ONNX model with onnxruntime, reading
the input from and writing the outputs to the fake device memory at the bound addresses when the stream is
synchronized (so a missing synchronize or a wrong address shows up as wrong results or an error)."""

from __future__ import annotations

import json
import sys
from types import ModuleType
from typing import Any

import numpy as np

from support.trt_double.gpu import FakeGpu
from support.trt_double.tensorrt_types import (
    ENGINE_MAGIC,
    PLUGIN_CREATORS,
    DataType,
    Dims,
    TensorIOMode,
    version_tuple,
)


def add_runtime(trt: ModuleType, gpu: FakeGpu, version: str) -> None:
    """Give ``trt`` the runtime API of TensorRT ``version``: ``Runtime`` and the engines and contexts it makes."""
    major_minor = version_tuple(version)
    Logger = trt.Logger  # noqa: N806 - TensorRT's name

    class Engine:
        def __init__(self, header: dict[str, Any], onnx_bytes: bytes) -> None:
            import onnx
            import onnxruntime

            graph = onnx.load_from_string(onnx_bytes).graph
            self._session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
            self._io = [(tensor, True) for tensor in graph.input] + [(tensor, False) for tensor in graph.output]
            self._names = [tensor.name for tensor, _ in self._io]
            self.header = header
            self.onnx_bytes = onnx_bytes

        def _spec(self, name: str) -> tuple[Dims, DataType, bool]:
            """Shape, data type and direction of a binding: the model's, with an input's type as the builder set it."""
            tensor, is_input = self._io[self._names.index(name)]
            shape = Dims(d.dim_value for d in tensor.type.tensor_type.shape.dim)
            bound = self.header.get("input_types", {}).get(name)
            dtype = DataType[bound] if bound else self._model_dtype(name)
            return shape, dtype, is_input

        def _model_dtype(self, name: str) -> DataType:
            import onnx

            tensor, _ = self._io[self._names.index(name)]
            return DataType(onnx.helper.tensor_dtype_to_np_dtype(tensor.type.tensor_type.elem_type).type)

        def create_execution_context(self) -> Context:
            return Context(self)

        def create_engine_inspector(self) -> Inspector:
            return Inspector(self)

        def _run(self, addresses: dict[str, int]) -> None:
            feeds = {}
            for name in self._names:
                shape, dtype, is_input = self._spec(name)
                nbytes = int(np.prod(shape)) * np.dtype(dtype.value).itemsize
                view = gpu.device_view(addresses[name], nbytes)
                if is_input:  # a uint8-bound input is cast to the model's type, as TensorRT's cast layer does
                    feeds[name] = view.view(dtype.value).reshape(shape).astype(self._model_dtype(name).value)
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

    class Inspector:
        """``IEngineInspector``: one layer per ONNX node, plugin layers where the engine holds plugins."""

        def __init__(self, engine: Engine) -> None:
            self._engine = engine

        def get_engine_information(self, format: Any) -> str:
            import onnx

            used = self._engine.header.get("plugins", [])
            plugins = {name for name, creator in PLUGIN_CREATORS.items() if creator in used}
            nodes = onnx.load_from_string(self._engine.onnx_bytes).graph.node
            layers = [
                {"Name": node.name, "LayerType": "PluginV2" if node.op_type in plugins else node.op_type}
                for node in nodes
            ]
            return json.dumps({"Layers": layers, "Bindings": self._engine._names})

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
                for plugin in header.get("plugins", []):
                    if plugin not in trt.registered_plugins:
                        self.logger.log(Logger.ERROR, f"getPluginCreator could not find plugin: {plugin} version: 1")
                        self.logger.log(
                            Logger.ERROR,
                            "Cannot deserialize plugin since corresponding IPluginCreator not found in Plugin Registry",
                        )
                        return None
                return Engine(header, data[len(ENGINE_MAGIC) + 4 + length :])
            except Exception as error:
                self.logger.log(Logger.ERROR, f"corrupt engine plan: {error}")
                return None

    trt.Runtime = Runtime
