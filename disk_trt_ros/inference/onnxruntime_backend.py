"""ONNX Runtime backend: the exported model on the CUDA provider where present, else on the CPU."""

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
    onnx_metadata,
    parse_onnx_model,
    read_onnx_file,
)
from disk_trt_ros.errors import ContractError
from disk_trt_ros.inference.base import Backend, BackendOptions, Features, require_onnx_model

ONNX_TYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int32)": "int32"}


class OnnxRuntimeBackend(Backend):
    """Runs an exported ONNX model with ONNX Runtime, on buffers bound once at construction.

    Args:
        model_path: ONNX file written by ``python -m disk_trt_ros export``.
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
        providers: execution providers; default CUDA when available, then CPU.
    """

    name = BackendName.ONNXRUNTIME

    def __init__(self, model_path: str, threads: int | None = None, providers: list[str] | None = None) -> None:
        data = read_onnx_file(model_path)  # read once: the metadata and the session come from the same bytes
        super().__init__(ModelInfo.from_metadata(onnx_metadata(parse_onnx_model(data, model_path))), precision="fp32")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        available = ort.get_available_providers()
        chosen = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.session = ort.InferenceSession(data, sess_options=options, providers=chosen)
        self.providers = self.session.get_providers()
        self._check_signature(model_path)
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
        return "cuda" if "CUDAExecutionProvider" in self.providers else "cpu"

    def _check_signature(self, model_path: str) -> None:
        """Raise :class:`ContractError` unless the graph's tensors are those its metadata promises."""
        found = [
            TensorSpec(tensor.name, tuple(tensor.shape), ONNX_TYPES.get(tensor.type, tensor.type), is_input)
            for tensors, is_input in ((self.session.get_inputs(), True), (self.session.get_outputs(), False))
            for tensor in tensors
        ]
        problems = contract_violations(found, self.info)
        if problems:
            raise ContractError(
                f"{model_path} does not match the contract its metadata describes: " + "; ".join(problems) + "; "
                "export the model again with 'python -m disk_trt_ros export'"
            )

    def run(self, image: np.ndarray) -> Features:
        self.check_image(image)
        np.copyto(self._input[0], image, casting="unsafe")
        self.session.run_with_iobinding(self._binding)
        return Features.from_outputs(*self._outputs, self.info)

    def describe(self) -> str:
        return f"{super().describe()}, providers {','.join(self.providers)}"
