# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""ONNX Runtime: the exported extractor (:class:`OnnxRuntimeBackend`) and the exported LightGlue
(:class:`OnnxRuntimeLightGlue`), on the CUDA provider where present, else on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from disk_trt_ros.contract import (
    INPUT_NAME,
    OUTPUT_NAMES,
    BackendName,
    ModelInfo,
    Precision,
    TensorSpec,
    contract_violations,
)
from disk_trt_ros.errors import ContractError
from disk_trt_ros.inference.base import (
    Backend,
    BackendOptions,
    Features,
    KeypointSlots,
    Matcher,
    MatcherOptions,
    Matches,
    matcher_inputs,
    require_matcher_model,
    require_onnx_model,
)
from disk_trt_ros.matcher_contract import MATCHER_OUTPUT_NAMES, MatcherInfo
from disk_trt_ros.onnx_files import onnx_metadata, parse_onnx_model, read_onnx_file

ONNX_TYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int32)": "int32"}


def read_onnx_model(model_path: str, command: str) -> tuple[bytes, dict[str, str]]:
    """An exported model's bytes and metadata, read once so that the metadata and the session come from the same
    bytes; errors as :func:`~disk_trt_ros.onnx_files.load_onnx_model`'s (``command`` exports such models)."""
    data = read_onnx_file(model_path, command)
    return data, onnx_metadata(parse_onnx_model(data, model_path))


def open_session(
    model_path: str,
    data: bytes,
    info: ModelInfo | MatcherInfo,
    command: str,
    threads: int | None,
    providers: list[str] | None,
) -> ort.InferenceSession:
    """An ONNX Runtime session for an exported model whose tensors are checked against ``info``'s contract.

    Args:
        model_path: the ONNX file, for messages.
        data: its bytes (:func:`read_onnx_model`).
        info: what its metadata promises.
        command: the command that exports such models (``export``, ``export-matcher``), for the message.
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
        providers: execution providers; default CUDA when available, then CPU.

    Raises:
        ContractError: the graph's tensors are not those its metadata promises.
    """
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # Idle intra-op threads sleep instead of spinning: spinning after each run held the cores that DDS and a node's
    # other threads needed (publish -> keypoints 0.2-5 ms p50 faster on 2 cores, inference not slower; docs/dds.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    available = ort.get_available_providers()
    chosen = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    session = ort.InferenceSession(data, sess_options=options, providers=chosen)
    found = [
        TensorSpec(tensor.name, tuple(tensor.shape), ONNX_TYPES.get(tensor.type, tensor.type), is_input)
        for tensors, is_input in ((session.get_inputs(), True), (session.get_outputs(), False))
        for tensor in tensors
    ]
    problems = contract_violations(found, info)
    if problems:
        raise ContractError(
            f"{model_path} does not match the contract its metadata describes: " + "; ".join(problems) + "; "
            f"export the model again with 'python -m disk_trt_ros {command}'"
        )
    return session


def session_device(session: ort.InferenceSession) -> str:
    """Where a session computes, as a PyTorch device name."""
    return "cuda" if "CUDAExecutionProvider" in session.get_providers() else "cpu"


class OnnxRuntimeBackend(Backend):
    """Runs an exported ONNX model with ONNX Runtime, on buffers bound once at construction.

    Args:
        model_path: ONNX file written by ``python -m disk_trt_ros export``.
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
        providers: execution providers; default CUDA when available, then CPU.
    """

    name = BackendName.ONNXRUNTIME

    def __init__(self, model_path: str, threads: int | None = None, providers: list[str] | None = None) -> None:
        data, metadata = read_onnx_model(model_path, "export")
        super().__init__(ModelInfo.from_metadata(metadata), precision="fp32")
        self.session = open_session(model_path, data, self.info, "export", threads, providers)
        self.providers = self.session.get_providers()
        self._input = np.zeros(self.info.input_shape, dtype=self.info.input_dtype)
        shapes, dtypes = self.info.output_shapes(), self.info.output_dtypes()
        self._outputs = [np.zeros(shapes[name], dtype=dtypes[name]) for name in OUTPUT_NAMES]
        self._binding = self.session.io_binding()
        self._binding.bind_input(INPUT_NAME, "cpu", 0, self._input.dtype, self._input.shape, self._input.ctypes.data)
        for name, buffer in zip(OUTPUT_NAMES, self._outputs):
            self._binding.bind_output(name, "cpu", 0, buffer.dtype, buffer.shape, buffer.ctypes.data)

    @classmethod
    def create(cls, model_path: Path, options: BackendOptions, report: Callable[[str], None]) -> OnnxRuntimeBackend:
        require_onnx_model(model_path, cls.name)
        if options.precision is not Precision.FP32:
            report(f"the onnxruntime backend runs {model_path} as exported; precision {options.precision} is ignored")
        return cls(str(model_path), threads=options.threads)

    @property
    def compute_device(self) -> str:
        return session_device(self.session)

    def run(self, image: np.ndarray) -> Features:
        self.check_image(image)
        np.copyto(self._input[0], image, casting="unsafe")
        self.session.run_with_iobinding(self._binding)
        return Features.from_outputs(*self._outputs, self.info)

    def describe(self) -> str:
        return f"{super().describe()}, providers {','.join(self.providers)}"


class OnnxRuntimeLightGlue(Matcher):
    """An exported LightGlue (``python -m disk_trt_ros export-matcher``) run by ONNX Runtime.

    Args:
        model_path: the ONNX file.
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
        providers: execution providers; default CUDA when available, then CPU.
    """

    name = "lightglue-onnxruntime"

    def __init__(self, model_path: str, threads: int | None = None, providers: list[str] | None = None) -> None:
        data, metadata = read_onnx_model(model_path, "export-matcher")
        info = MatcherInfo.from_metadata(metadata)
        super().__init__(info)
        self.session = open_session(model_path, data, info, "export-matcher", threads, providers)
        self.providers = self.session.get_providers()

    @classmethod
    def create(cls, options: MatcherOptions, report: Callable[[str], None]) -> OnnxRuntimeLightGlue:
        model = require_matcher_model(options, cls.name)
        require_onnx_model(model, BackendName.ONNXRUNTIME)
        if options.backend.precision is not Precision.FP32:
            report(f"{cls.name} runs {model} as exported; precision {options.backend.precision} is ignored")
        return cls(str(model), threads=options.backend.threads)

    @property
    def compute_device(self) -> str:
        return session_device(self.session)

    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        matches0, scores0 = self.session.run(list(MATCHER_OUTPUT_NAMES), matcher_inputs(image0, image1))
        return Matches(np.asarray(matches0), np.asarray(scores0))

    def describe(self) -> str:
        return f"{super().describe()}, providers {','.join(self.providers)}"
