# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""LightGlue on TensorRT: the exported matcher's engine, built and cached as the extractor's is (``build-engine``,
:func:`~disk_trt_ros.inference.tensorrt.cache.ensure_engine`), and run by the same
:class:`~disk_trt_ros.inference.tensorrt.engine.TensorRTEngine`."""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from disk_trt_ros.errors import ContractError
from disk_trt_ros.inference.base import (
    KeypointSlots,
    Matcher,
    MatcherOptions,
    Matches,
    matcher_inputs,
    require_matcher_model,
)
from disk_trt_ros.inference.tensorrt.backend import engine_for
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory
from disk_trt_ros.inference.tensorrt.engine import TensorRTEngine
from disk_trt_ros.matcher_contract import MATCHER_OUTPUT_NAMES, MatcherInfo


class TensorRTLightGlue(Matcher):
    """An exported LightGlue's engine; :meth:`match` takes numpy slots and returns numpy matches.

    Args:
        engine_path: the engine built from ``python -m disk_trt_ros export-matcher``'s model, with its sidecar.
        cuda: the CUDA layer (default: :func:`~disk_trt_ros.inference.tensorrt.cuda_bindings.open_cuda_memory`).
    """

    name = "lightglue-tensorrt"

    def __init__(self, engine_path: str | os.PathLike[str], cuda: CudaMemory | None = None) -> None:
        self.engine = TensorRTEngine(engine_path, cuda)
        if not isinstance(self.engine.info, MatcherInfo):
            self.engine.close()
            raise ContractError(f"engine {engine_path} was built from the extractor, not from a matcher")
        super().__init__(self.engine.info)

    @classmethod
    def create(cls, options: MatcherOptions, report: Callable[[str], None]) -> TensorRTLightGlue:
        """The matcher for an engine file, or for an exported matcher whose engine is built when missing or stale
        (:func:`~disk_trt_ros.inference.tensorrt.backend.engine_for`)."""
        return cls(engine_for(require_matcher_model(options, cls.name), options.backend, report))

    @property
    def compute_device(self) -> str:
        return "cuda"

    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        matches0, scores0 = self.engine.execute(matcher_inputs(image0, image1), MATCHER_OUTPUT_NAMES)
        return Matches(np.array(matches0), np.array(scores0))

    def describe(self) -> str:
        return f"{super().describe()}, TensorRT engine ({self.engine.precision}), {self.engine.graph_description}"

    def close(self) -> None:
        self.engine.close()
