# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A deserialized TensorRT engine (TensorRT 8.2 to 10.x) with its buffers: :class:`TensorRTEngine`, which the
extractor's backend (:mod:`.backend`) and LightGlue's (:mod:`.matcher`) run.

The engine's :class:`~disk_trt_ros.contract.ModelInfo` (or :class:`~disk_trt_ros.matcher_contract.MatcherInfo`)
comes from its sidecar (an engine file carries no ONNX metadata). Its input and output tensors are bound by name and
checked against the contract. Device buffers and pinned host buffers are allocated once, the inputs side by side
and the outputs side by side (:class:`~.tensor_block.TensorBlock`); a frame's GPU work is one host-to-device copy of
all inputs, one enqueue and one device-to-host copy of all outputs, recorded once as a CUDA graph where the CUDA
binding and TensorRT allow it (one launch per frame, then), and a stream synchronisation.

TensorRT's two execution APIs are in :mod:`~disk_trt_ros.inference.tensorrt.engine_io`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Callable, Mapping, Sequence

import numpy as np

from disk_trt_ros.contract import Precision, TensorContract, TensorSpec, contract_violations, tensor_specs_of
from disk_trt_ros.errors import ContractError, CudaError, EngineCacheError, InferenceError
from disk_trt_ros.inference.tensorrt.cuda_bindings import open_cuda_memory
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory
from disk_trt_ros.inference.tensorrt.directory import require_trusted_directory
from disk_trt_ros.inference.tensorrt.engine_io import engine_io
from disk_trt_ros.inference.tensorrt.record import read_recorded_engine, read_sidecar
from disk_trt_ros.inference.tensorrt.runtime import deserialize_engine, import_tensorrt
from disk_trt_ros.inference.tensorrt.tensor_block import TensorBlock


def check_engine_tensors(tensors: list[TensorSpec], info: TensorContract, input_dtype: str) -> None:
    """Raise :class:`ContractError` naming each tensor whose name, direction, shape or dtype breaks the contract
    (with the ``image`` input in ``input_dtype``, the dtype the engine's sidecar records)."""
    problems = contract_violations(tensors, info, input_dtype)
    if problems:
        raise ContractError(
            "the engine does not match its model's contract: " + "; ".join(problems) + "; rebuild the engine from "
            "the exported model with 'python -m disk_trt_ros build-engine'"
        )


class TensorRTEngine:
    """A deserialized engine with its buffers, for the extractor or a matcher.

    Args:
        engine_path: engine written by ``build-engine``, with its sidecar ``ENGINE.json`` beside it.
        cuda: the CUDA layer to allocate and copy with (default: :func:`open_cuda_memory`); closed by :meth:`close`.

    Attributes:
        info: the contract of the model the engine was built from (its sidecar's).
        precision, input_dtype: what it was built with, and its ``image`` binding's dtype (the extractor's).
        inputs, outputs: the input and the output tensors' pinned arrays and device buffers (:class:`TensorBlock`).
        graph_problem: why a frame's GPU work is not one CUDA graph (empty when it is).
    """

    def __init__(self, engine_path: str | os.PathLike[str], cuda: CudaMemory | None = None) -> None:
        engine_path = Path(engine_path)
        require_trusted_directory(engine_path)
        record = read_sidecar(engine_path)
        self.info, self.precision = record.model_info, Precision(record.precision)
        self.input_dtype = record.input_dtype
        trt = import_tensorrt()
        if record.tensorrt_version != str(trt.__version__):
            raise EngineCacheError(
                f"engine {engine_path} was built with TensorRT {record.tensorrt_version}, this is "
                f"{trt.__version__}; rebuild it with 'python -m disk_trt_ros build-engine --if-needed'"
            )
        data = read_recorded_engine(engine_path, record)
        self.cuda = cuda or open_cuda_memory()
        try:
            with self.cuda.active():
                self._setup(trt, data, engine_path)
        except BaseException:
            self.cuda.close()
            raise

    def _setup(self, trt: ModuleType, data: bytes, engine_path: Path) -> None:
        self._trt = trt
        self._runtime, self._engine, messages = deserialize_engine(trt, data)
        if self._engine is None:
            said = "; ".join(messages) or "no message"
            raise EngineCacheError(
                f"TensorRT {trt.__version__} cannot deserialize {engine_path} (TensorRT said: {said}); "
                "rebuild it with 'python -m disk_trt_ros build-engine --if-needed'"
            )
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise EngineCacheError(f"TensorRT could not create an execution context for {engine_path} (GPU memory?)")
        self._io = engine_io(trt, self._engine, self._context)
        check_engine_tensors(self._io.tensors(), self.info, self.input_dtype)
        specs = tensor_specs_of(self.info, self.input_dtype)
        self.inputs = TensorBlock.allocate(self.cuda, [spec for spec in specs if spec.is_input])
        self.outputs = TensorBlock.allocate(self.cuda, [spec for spec in specs if not spec.is_input])
        self._io.bind({**self.inputs.device, **self.outputs.device})
        self.graph_problem = ""
        self._launch_frame = self._record_frame()

    def _queue_frame(self) -> None:
        """A frame's GPU work on the stream: the inputs up, the engine, the outputs down."""
        self.inputs.upload(self.cuda)
        self.enqueue()
        self.outputs.download(self.cuda)

    def _record_frame(self) -> Callable[[], None]:
        """What queues a frame's GPU work: its CUDA graph, or :meth:`_queue_frame` where it cannot be recorded
        (:attr:`graph_problem` says why)."""
        self.inputs.host_bytes.fill(0)
        self._queue_frame()  # TensorRT sets up on its first enqueue, which must not fall inside a recording
        self.cuda.synchronize()
        try:
            launch = self.cuda.capture(self._queue_frame)
        except (CudaError, InferenceError) as error:
            self.graph_problem = f"CUDA could not record the frame as a graph ({error})"
            return self._queue_frame
        if launch is None:
            self.graph_problem = f"the {self.cuda.implementation} binding records no CUDA graphs"
            return self._queue_frame
        return launch

    @property
    def graph_description(self) -> str:
        """``CUDA graph``, or ``no CUDA graph: WHY`` (for a backend's description)."""
        return f"no CUDA graph: {self.graph_problem}" if self.graph_problem else "CUDA graph"

    def execute(self, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
        """Copy ``inputs`` (every input tensor, by name, in the contract's shapes) to the device, run the engine, and
        return the pinned host buffers of ``outputs``, valid until the next call."""
        with self.cuda.active():
            self.inputs.fill(inputs)
            self._launch_frame()
            self.cuda.synchronize()
        return [self.outputs.host[name] for name in outputs]

    def upload(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Copy ``inputs`` (as for :meth:`execute`) into pinned memory and queue their copy to the device."""
        self.inputs.fill(inputs)
        self.inputs.upload(self.cuda)

    def engine_milliseconds(self, inputs: Mapping[str, np.ndarray]) -> float:
        """GPU time of the engine alone on ``inputs`` (as for :meth:`execute`): uploaded and synchronised first, then
        CUDA events around the enqueue."""
        with self.cuda.active():
            self.upload(inputs)
            self.cuda.synchronize()
            return self.cuda.elapsed_ms(self.enqueue)

    def enqueue(self) -> None:
        """Run the engine on the stream (the caller copies and synchronises)."""
        if not self._io.enqueue(self.cuda.stream_handle):
            raise InferenceError("TensorRT failed to enqueue the engine; its messages above say why")

    def layers(self) -> list[dict[str, str]]:
        """The engine's layers as TensorRT's engine inspector describes them (8.2 on): ``name`` and ``type``
        (``PluginV2`` for plugin layers; empty where the engine was built without detailed profiling verbosity)."""
        inspector = self._engine.create_engine_inspector()
        described = json.loads(inspector.get_engine_information(self._trt.LayerInformationFormat.JSON))
        return [
            {"name": str(layer.get("Name", "")), "type": str(layer.get("LayerType", ""))}
            if isinstance(layer, dict)
            else {"name": str(layer), "type": ""}
            for layer in described.get("Layers", [])
        ]

    def close(self) -> None:
        # TensorRT's objects go before the memory they use
        for attribute in ("_io", "_context", "_engine", "_runtime", "_trt"):
            if hasattr(self, attribute):
                delattr(self, attribute)
        self.cuda.close()
