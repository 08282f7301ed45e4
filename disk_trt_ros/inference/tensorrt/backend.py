"""Run a TensorRT engine built by ``build-engine`` (TensorRT 8.2 to 10.x).

The engine's :class:`~disk_trt_ros.contract.ModelInfo` comes from its sidecar (an engine file carries no ONNX
metadata). Its input and output tensors are bound by name and checked against the contract. Device buffers and
pinned host buffers are allocated once; a frame is one host-to-device copy, one enqueue, four device-to-host copies
and a stream synchronisation. Where the engine binds the image as uint8 (TensorRT 8.5 on, see
:mod:`~disk_trt_ros.inference.tensorrt.builder`), the frame is copied as it comes, with no conversion.

TensorRT's two execution APIs are in :mod:`~disk_trt_ros.inference.tensorrt.engine_io`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np

from disk_trt_ros.contract import (
    ENGINE_SUFFIXES,
    INPUT_NAME,
    OUTPUT_NAMES,
    BackendName,
    ModelInfo,
    TensorSpec,
    contract_violations,
)
from disk_trt_ros.errors import ContractError, EngineCacheError, InferenceError
from disk_trt_ros.inference.base import Backend, BackendOptions, Features
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.cuda_bindings import open_cuda_memory
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory
from disk_trt_ros.inference.tensorrt.directory import require_trusted_directory
from disk_trt_ros.inference.tensorrt.engine_io import engine_io
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import default_engine_path, read_engine, read_sidecar
from disk_trt_ros.inference.tensorrt.runtime import deserialize_engine, import_tensorrt


def check_engine_tensors(tensors: list[TensorSpec], info: ModelInfo, input_dtype: str) -> None:
    """Raise :class:`ContractError` naming each tensor whose name, direction, shape or dtype breaks the contract
    (with the ``image`` input in ``input_dtype``, the dtype the engine's sidecar records)."""
    problems = contract_violations(tensors, info, input_dtype)
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

    name = BackendName.TENSORRT

    def __init__(self, engine_path: str | os.PathLike[str], cuda: CudaMemory | None = None) -> None:
        engine_path = Path(engine_path)
        require_trusted_directory(engine_path)
        record = read_sidecar(engine_path)
        super().__init__(record.model_info, record.precision)
        self.input_dtype = record.input_dtype
        trt = import_tensorrt()
        if record.tensorrt_version != str(trt.__version__):
            raise EngineCacheError(
                f"engine {engine_path} was built with TensorRT {record.tensorrt_version}, this is "
                f"{trt.__version__}; rebuild it with 'python -m disk_trt_ros build-engine --if-needed'"
            )
        try:
            data = read_engine(engine_path)
        except OSError as error:
            raise EngineCacheError(f"cannot read the engine: {error}") from error
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

    @classmethod
    def create(cls, model_path: Path, options: BackendOptions, report: Callable[[str], None]) -> TensorRTBackend:
        """The backend for an engine file, or for an exported ONNX model: its engine (``options.engine_path``, by
        default ``MODEL.<precision>.engine`` beside it) is built there first when missing or stale."""
        if model_path.suffix in ENGINE_SUFFIXES:
            return cls(model_path)
        engine = options.engine_path or default_engine_path(model_path, options.precision)
        ensure_engine(model_path, engine, BuildSettings(precision=options.precision), progress=Progress(report))
        return cls(engine)

    @property
    def compute_device(self) -> str:
        return "cuda"

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
        specs = self.info.tensor_specs(self.input_dtype)
        self._host = {spec.name: self._cuda.pinned_array(spec.shape, spec.dtype) for spec in specs}
        self._device = {name: self._cuda.device_buffer(host.nbytes) for name, host in self._host.items()}
        self._io.bind(self._device)

    def run(self, image: np.ndarray) -> Features:
        self.check_image(image)
        with self._cuda.active():
            for _, step in self._frame_steps(image):
                step()
            self._cuda.synchronize()
        return Features.from_outputs(*(self._host[name] for name in OUTPUT_NAMES), self.info)

    def timed_run(self, image: np.ndarray) -> tuple[Features, dict[str, float]]:
        """:meth:`run` with the stream synchronised after each step, and each step's wall time in milliseconds:
        ``copy in`` (the frame into pinned memory), ``upload``, ``engine``, ``download``, ``results`` (the
        features copied out). Slower than :meth:`run`, where the steps overlap; for finding where time goes."""
        self.check_image(image)
        milliseconds: dict[str, float] = {}
        with self._cuda.active():
            for name, step in self._frame_steps(image):
                started = time.perf_counter()
                step()
                self._cuda.synchronize()
                milliseconds[name] = (time.perf_counter() - started) * 1e3
        started = time.perf_counter()
        features = Features.from_outputs(*(self._host[name] for name in OUTPUT_NAMES), self.info)
        milliseconds["results"] = (time.perf_counter() - started) * 1e3
        return features, milliseconds

    def _frame_steps(self, image: np.ndarray) -> list[tuple[str, Callable[[], None]]]:
        """One frame's work on the stream, in order (the caller synchronises)."""
        cuda, host, device = self._cuda, self._host, self._device

        def download() -> None:
            for name in OUTPUT_NAMES:
                cuda.copy_to_host(host[name], device[name])

        return [
            ("copy in", lambda: np.copyto(host[INPUT_NAME][0], image)),
            ("upload", lambda: cuda.copy_to_device(device[INPUT_NAME], host[INPUT_NAME])),
            ("engine", self._enqueue),
            ("download", download),
        ]

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

    def engine_milliseconds(self, image: np.ndarray) -> float:
        """GPU time of the engine alone on ``image`` (CUDA events around the enqueue; the copies are outside)."""
        self.check_image(image)
        cuda = self._cuda
        with cuda.active():
            np.copyto(self._host[INPUT_NAME][0], image)
            cuda.copy_to_device(self._device[INPUT_NAME], self._host[INPUT_NAME])
            cuda.synchronize()
            return cuda.elapsed_ms(self._enqueue)

    def _enqueue(self) -> None:
        if not self._io.enqueue(self._cuda.stream_handle):
            raise InferenceError("TensorRT failed to enqueue the engine; its messages above say why")

    def close(self) -> None:
        # TensorRT's objects go before the memory they use
        for attribute in ("_io", "_context", "_engine", "_runtime", "_trt"):
            if hasattr(self, attribute):
                delattr(self, attribute)
        self._cuda.close()
