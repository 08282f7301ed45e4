"""PyTorch backend: the exporter's own module, on CUDA (CUDA graph, optional fp16) when available, else the CPU."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from disk_trt_ros.contract import ContractError, ModelInfo, read_onnx_model_info
from disk_trt_ros.export.pipeline import DiskPipeline
from disk_trt_ros.inference.base import Backend, Features

PRECISIONS = ("fp32", "fp16")


def pipeline_for_model(model_path: str) -> DiskPipeline:
    """Rebuild the PyTorch pipeline an ONNX model was exported from, from the weights its metadata names.

    Raises :class:`ContractError` when those weights cannot be loaded here or their sha256 differs from the model's.
    """
    from disk_trt_ros.export.weights import WeightsError, load_disk

    info = read_onnx_model_info(model_path)
    try:
        disk, sha256 = load_disk(info.weights)
    except WeightsError as error:
        raise ContractError(f"the torch backend needs the weights of {model_path}: {error}") from error
    if sha256 != info.weights_sha256:
        raise ContractError(
            f"weights '{info.weights}' have sha256 {sha256}, but {model_path} was exported from {info.weights_sha256}; "
            "give the torch backend the checkpoint the model was exported from"
        )
    return DiskPipeline(disk, info)


class TorchBackend(Backend):
    """Runs :class:`DiskPipeline` with PyTorch.

    On CUDA the forward pass is captured once in a CUDA graph and replayed on a static input buffer; ``fp16`` runs
    it under float16 autocast (the keypoint set may then differ slightly from fp32's). On the CPU it runs eagerly
    in fp32.

    Args:
        source: a :class:`DiskPipeline`, or the path of an ONNX model whose weights can be loaded here.
        device: ``cuda``, ``cpu`` or None (CUDA when available).
        precision: ``fp32`` or ``fp16`` (fp16 only on CUDA).
        cuda_graph: capture a CUDA graph on CUDA devices.
    """

    name = "torch"

    def __init__(
        self,
        source: DiskPipeline | str,
        device: str | None = None,
        precision: str = "fp32",
        cuda_graph: bool = True,
    ) -> None:
        pipeline = source if isinstance(source, DiskPipeline) else pipeline_for_model(source)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if precision not in PRECISIONS:
            raise ContractError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision == "fp16" and self.device.type != "cuda":
            raise ContractError("fp16 needs a CUDA device; use precision fp32 on the CPU")
        super().__init__(pipeline.info, precision)
        self.pipeline = pipeline.eval().to(self.device)
        info: ModelInfo = self.info
        self._input = torch.zeros(info.input_shape, dtype=getattr(torch, info.input_dtype), device=self.device)
        pin = self.device.type == "cuda"
        self._host_input = torch.zeros(info.input_shape, dtype=torch.uint8, pin_memory=pin)
        self._host_outputs: tuple[torch.Tensor, ...] | None = None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_outputs: tuple[torch.Tensor, ...] | None = None
        if self.device.type == "cuda" and cuda_graph:
            self._capture()

    def _forward(self) -> tuple[torch.Tensor, ...]:
        autocast = (
            torch.autocast("cuda", dtype=torch.float16) if self.precision == "fp16" else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            return self.pipeline(self._input)

    def _capture(self) -> None:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm-up outside the graph: cuDNN picks its algorithms here
                self._forward()
        torch.cuda.current_stream().wait_stream(stream)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._graph_outputs = self._forward()

    def run(self, image: np.ndarray) -> Features:
        self.check_image(image)
        self._host_input[0].copy_(torch.from_numpy(image))
        with torch.inference_mode():
            self._input.copy_(self._host_input, non_blocking=True)
            if self._graph is not None:
                self._graph.replay()
                outputs = self._graph_outputs
            else:
                outputs = self._forward()
            assert outputs is not None
            if self._host_outputs is None:
                self._host_outputs = tuple(
                    torch.empty(o.shape, dtype=o.dtype, pin_memory=self.device.type == "cuda") for o in outputs
                )
            for host, device_output in zip(self._host_outputs, outputs):
                host.copy_(device_output, non_blocking=True)
            if self.device.type == "cuda":
                torch.cuda.current_stream().synchronize()
        return Features.from_outputs(*(host.numpy() for host in self._host_outputs))

    def describe(self) -> str:
        graph = ", CUDA graph" if self._graph is not None else ""
        return f"{super().describe()}, device {self.device}{graph}"
