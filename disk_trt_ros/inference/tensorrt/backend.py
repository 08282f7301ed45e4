# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The extractor on TensorRT: :class:`TensorRTBackend` runs an engine built by ``build-engine`` from an exported DISK
model (:class:`~.engine.TensorRTEngine`: its buffers, binding and CUDA graph), a uint8 frame in and
:class:`~disk_trt_ros.inference.base.Features` out. Where the engine binds the image as uint8 (TensorRT 8.5 on, see
:mod:`~disk_trt_ros.inference.tensorrt.builder`), the frame is copied as it comes, with no conversion.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from disk_trt_ros.contract import ENGINE_SUFFIXES, INPUT_NAME, OUTPUT_NAMES, BackendName, ModelInfo
from disk_trt_ros.errors import ContractError
from disk_trt_ros.inference.base import Backend, BackendOptions, Features
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory
from disk_trt_ros.inference.tensorrt.engine import TensorRTEngine
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import default_engine_path


def engine_for(model_path: Path, options: BackendOptions, report: Callable[[str], None]) -> Path:
    """The engine to run for ``model_path``: the file itself when it is an engine, else the ONNX model's engine
    (``options.engine_path``, by default ``MODEL.<precision>.engine`` beside it), built there first when missing or
    stale."""
    if model_path.suffix in ENGINE_SUFFIXES:
        return model_path
    engine = options.engine_path or default_engine_path(model_path, options.precision)
    ensure_engine(model_path, engine, BuildSettings(precision=options.precision), progress=Progress(report))
    return engine


class TensorRTBackend(Backend):
    """The extractor's engine (:class:`TensorRTEngine`); :meth:`run` takes a uint8 ``[H, W, C]`` image.

    Args:
        engine_path, cuda: as for :class:`TensorRTEngine`.
    """

    name = BackendName.TENSORRT

    def __init__(self, engine_path: str | os.PathLike[str], cuda: CudaMemory | None = None) -> None:
        self.engine = TensorRTEngine(engine_path, cuda)
        if not isinstance(self.engine.info, ModelInfo):
            self.engine.close()
            raise ContractError(f"engine {engine_path} was built from a matcher, not from the extractor")
        super().__init__(self.engine.info, self.engine.precision)
        self.input_dtype = self.engine.input_dtype

    @classmethod
    def create(cls, model_path: Path, options: BackendOptions, report: Callable[[str], None]) -> TensorRTBackend:
        """The backend for an engine file, or for an exported ONNX model (see :func:`engine_for`)."""
        return cls(engine_for(model_path, options, report))

    @property
    def compute_device(self) -> str:
        return "cuda"

    def describe(self) -> str:
        return f"{super().describe()}, {self.engine.graph_description}"

    def run(self, image: np.ndarray) -> Features:
        self.check_image(image)
        return Features.from_outputs(*self.engine.execute({INPUT_NAME: image}, OUTPUT_NAMES), self.info)

    def timed_run(self, image: np.ndarray) -> tuple[Features, dict[str, float]]:
        """:meth:`run` with the stream synchronised after each step, and each step's wall time in milliseconds:
        ``upload`` (the frame into pinned memory and to the GPU), ``engine``, ``download``, ``results`` (the
        features copied out). Slower than :meth:`run`, where the steps overlap; for finding where time goes."""
        self.check_image(image)
        milliseconds: dict[str, float] = {}
        cuda = self.engine.cuda
        with cuda.active():
            for name, step in self._frame_steps(image):
                started = time.perf_counter()
                step()
                cuda.synchronize()
                milliseconds[name] = (time.perf_counter() - started) * 1e3
        started = time.perf_counter()
        features = Features.from_outputs(*(self.engine.outputs.host[name] for name in OUTPUT_NAMES), self.info)
        milliseconds["results"] = (time.perf_counter() - started) * 1e3
        return features, milliseconds

    def _frame_steps(self, image: np.ndarray) -> list[tuple[str, Callable[[], None]]]:
        """One frame's work on the stream, in order (the caller synchronises)."""
        engine = self.engine
        return [
            ("upload", lambda: engine.upload({INPUT_NAME: image})),
            ("engine", engine.enqueue),
            ("download", lambda: engine.outputs.download(engine.cuda)),
        ]

    def layers(self) -> list[dict[str, str]]:
        """The engine's layers (:meth:`TensorRTEngine.layers`)."""
        return self.engine.layers()

    def engine_milliseconds(self, image: np.ndarray) -> float:
        """GPU time of the engine alone on ``image`` (CUDA events around the enqueue; the copies are outside)."""
        self.check_image(image)
        return self.engine.engine_milliseconds({INPUT_NAME: image})

    def close(self) -> None:
        self.engine.close()
