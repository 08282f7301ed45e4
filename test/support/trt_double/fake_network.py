# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The network definition of the ``tensorrt`` double: its tensors and layers, as TensorRT's ONNX parser makes them.

Each ONNX node becomes one layer named after the node (TensorRT's parser names its layers so; an unnamed node gets
TensorRT's ``(Unnamed Layer* N) [Op]``), of type ``CONSTANT`` for a ``Constant`` node and ``OTHER`` otherwise, and
each initializer becomes a ``CONSTANT`` layer named after it. Tensors carry the data types of ONNX shape
inference, as TensorRT holds them: int64 as int32, double as float32. A layer's missing optional inputs (an empty
ONNX input name) are None. Layers record the precision and output types the builder constrains them to.
"""

from __future__ import annotations

import numpy as np

from support.trt_double.tensorrt_types import DataType, LayerType

# ONNX types that TensorRT's parser holds in another type.
_PARSED_AS = {np.int64: np.int32, np.float64: np.float32}


class Tensor:
    """``ITensor``: a name and a data type (settable on network inputs, as TensorRT's ``dtype``)."""

    def __init__(self, name: str, dtype: DataType) -> None:
        self.name, self.dtype = name, dtype


class Layer:
    """``ILayer``: its tensors, and ``precision`` / ``set_output_type`` as the builder constrains them."""

    def __init__(self, name: str, layer_type: LayerType, inputs: list[Tensor | None], outputs: list[Tensor]) -> None:
        self.name, self.type = name, layer_type
        self._inputs, self._outputs = inputs, outputs
        self._precision: DataType | None = None
        self._output_types: dict[int, DataType] = {}

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    @property
    def num_outputs(self) -> int:
        return len(self._outputs)

    def get_input(self, index: int) -> Tensor | None:
        return self._inputs[index]

    def set_input(self, index: int, tensor: Tensor) -> None:
        if not 0 <= index < len(self._inputs):
            raise IndexError(f"layer '{self.name}' has no input {index}")
        self._inputs[index] = tensor

    def get_output(self, index: int) -> Tensor:
        return self._outputs[index]

    @property
    def precision(self) -> DataType:
        return DataType.FLOAT if self._precision is None else self._precision

    @precision.setter
    def precision(self, data_type: DataType) -> None:
        self._precision = _checked(data_type)

    @property
    def precision_is_set(self) -> bool:
        return self._precision is not None

    def set_output_type(self, index: int, data_type: DataType) -> None:
        if not 0 <= index < len(self._outputs):
            raise IndexError(f"layer '{self.name}' has no output {index}")
        self._output_types[index] = _checked(data_type)

    def get_output_type(self, index: int) -> DataType:
        return self._output_types.get(index, self._outputs[index].dtype)

    def output_type_is_set(self, index: int) -> bool:
        return index in self._output_types


class Network:
    """``INetworkDefinition`` after parsing: inputs and layers of the parsed model (empty before)."""

    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.onnx: bytes | None = None
        self.inputs: list[Tensor] = []
        self.layers: list[Layer] = []

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    def get_input(self, index: int) -> Tensor:
        return self.inputs[index]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def get_layer(self, index: int) -> Layer:
        return self.layers[index]

    def add_identity(self, tensor: Tensor) -> Layer:
        """``add_identity``: a layer that copies (and, with an output type set, casts) ``tensor``."""
        name = f"(Unnamed Layer* {len(self.layers)}) [Identity]"
        layer = Layer(name, LayerType.OTHER, [tensor], [Tensor(f"{name}_output", tensor.dtype)])
        self.layers.append(layer)
        return layer

    def unbuildable_layers(self) -> list[str]:
        """Layers TensorRT 8.5 finds no implementation for under obeyed constraints: a float16 layer with an output
        type set to float32 ("Could not find any implementation for node ...", seen with a convolution)."""
        return sorted(
            layer.name for layer in self.layers
            if layer.precision_is_set and layer.precision == DataType.HALF
            and DataType.FLOAT in layer._output_types.values()
        )

    def layers_computing_in(self, data_type: DataType) -> list[str]:
        """Names of the layers whose precision is set to ``data_type``."""
        return sorted(layer.name for layer in self.layers if layer.precision_is_set and layer.precision == data_type)

    def layers_with_float32_outputs(self) -> list[str]:
        """Names of the layers with an output type set to float32."""
        return sorted(layer.name for layer in self.layers if DataType.FLOAT in layer._output_types.values())

    def populate(self, model: bytes) -> list[str]:
        """Take the inputs and layers of the ONNX ``model``; returns the names of tensors whose type TensorRT
        cannot hold (the parser reports them)."""
        import onnx

        proto = onnx.shape_inference.infer_shapes(onnx.load_from_string(model))
        graph = proto.graph
        elem_types = {value.name: value.type.tensor_type.elem_type for value in (
            *graph.input, *graph.value_info, *graph.output
        )}
        elem_types.update({initializer.name: initializer.data_type for initializer in graph.initializer})
        unsupported: list[str] = []
        tensors: dict[str, Tensor] = {}

        def tensor(name: str) -> Tensor:
            if name not in tensors:
                dtype = _tensorrt_type(elem_types.get(name, onnx.TensorProto.UNDEFINED))
                if dtype is None:
                    unsupported.append(name)
                tensors[name] = Tensor(name, dtype or DataType.FLOAT)
            return tensors[name]

        initializers = {initializer.name for initializer in graph.initializer}
        self.onnx = model
        self.inputs = [tensor(value.name) for value in graph.input if value.name not in initializers]
        self.layers = [Layer(name, LayerType.CONSTANT, [], [tensor(name)]) for name in sorted(initializers)]
        for node in graph.node:
            self.layers.append(
                Layer(
                    node.name or f"(Unnamed Layer* {len(self.layers)}) [{node.op_type}]",
                    LayerType.CONSTANT if node.op_type == "Constant" else LayerType.OTHER,
                    [tensor(name) if name else None for name in node.input],
                    [tensor(name) for name in node.output],
                )
            )
        return unsupported


def _tensorrt_type(elem_type: int) -> DataType | None:
    """The TensorRT type of an ONNX tensor type, None where TensorRT has none."""
    import onnx

    try:
        numpy_type = onnx.helper.tensor_dtype_to_np_dtype(elem_type).type
        return DataType(_PARSED_AS.get(numpy_type, numpy_type))
    except (KeyError, ValueError):
        return None


def _checked(data_type: DataType) -> DataType:
    if not isinstance(data_type, DataType):
        raise TypeError(f"not a DataType: {data_type!r}")
    return data_type
