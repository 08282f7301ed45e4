# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""PyTorch backend: the exporter's own module, on CUDA (CUDA graph, optional fp16) when available, else the CPU."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from disk_trt_ros.contract import BackendName, ModelInfo, Precision, read_onnx_model_info
from disk_trt_ros.errors import ContractError
from disk_trt_ros.export.pipeline import DiskPipeline
from disk_trt_ros.inference.base import Backend, BackendOptions, Features, require_onnx_model

logger = logging.getLogger(__name__)


class HalfPrecisionUnet(torch.nn.Module):
    """A U-Net run wholly in float16 (instance norms included), float32 in and out.

    ``channels_last`` pays only together with ``torch.compile`` (measured on an H200: docs/benchmarks.md).
    """

    def __init__(self, unet: torch.nn.Module, channels_last: bool) -> None:
        super().__init__()
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.unet = unet.half().to(memory_format=self.memory_format)

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        heads = self.unet(rgb.half().contiguous(memory_format=self.memory_format))
        return tuple(head.float().contiguous() for head in heads)


def pick_device(device: str | None) -> torch.device:
    """``device``, or CUDA when available, else the CPU."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def pipeline_for_model(model_path: str) -> DiskPipeline:
    """Rebuild the PyTorch pipeline an ONNX model was exported from, from the weights its metadata names.

    Raises :class:`ContractError` when those weights cannot be loaded here or their sha256 differs from the model's.
    """
    from disk_trt_ros.export.weights import load_disk, weights_of_model

    info = read_onnx_model_info(model_path)
    disk = weights_of_model(load_disk, info.weights, info.weights_sha256, model_path, "torch backend")
    return DiskPipeline(disk, info)


class TorchBackend(Backend):
    """Runs :class:`DiskPipeline` with PyTorch.

    On CUDA the forward pass is captured once in a CUDA graph and replayed on a static input buffer. ``fp32`` is
    strict float32: cuDNN's TF32 convolutions (PyTorch's default) are switched off, since they change the keypoints.
    ``fp16`` runs the U-Net wholly in float16 (the keypoint set may then differ slightly from fp32's). On the CPU the
    pipeline runs eagerly in fp32 (``fp16`` falls back to it with a warning).

    Args:
        source: a :class:`DiskPipeline`, or the path of an ONNX model whose weights can be loaded here.
        device: ``cuda``, ``cpu`` or None (CUDA when available).
        precision: ``fp32`` or ``fp16``.
        cuda_graph: capture a CUDA graph on CUDA devices.
        compile_unet: compile the U-Net with ``torch.compile`` (max-autotune) on CUDA: a minute or more at start-up,
            then the fastest variant measured (docs/benchmarks.md).
    """

    name = BackendName.TORCH

    def __init__(
        self,
        source: DiskPipeline | str,
        device: str | None = None,
        precision: Precision | str = Precision.FP32,
        cuda_graph: bool = True,
        compile_unet: bool = False,
    ) -> None:
        pipeline = source if isinstance(source, DiskPipeline) else pipeline_for_model(source)
        self.device = pick_device(device)
        if precision not in Precision.values():
            raise ContractError(f"precision must be one of {', '.join(Precision.values())}, got {precision!r}")
        precision = Precision(precision)
        on_cuda = self.device.type == "cuda"
        if precision is Precision.FP16 and not on_cuda:
            logger.warning("fp16 needs a CUDA device; the torch backend runs fp32 on the CPU")
            precision = Precision.FP32
        super().__init__(pipeline.info, precision)
        self.pipeline = pipeline.eval().to(self.device)
        if on_cuda and precision is Precision.FP16:
            self.pipeline.unet = HalfPrecisionUnet(self.pipeline.unet, channels_last=compile_unet)
        self.compiled = on_cuda and compile_unet
        if self.compiled:
            self.pipeline.unet = torch.compile(self.pipeline.unet, mode="max-autotune-no-cudagraphs", dynamic=False)
        info: ModelInfo = self.info
        self._input = torch.zeros(info.input_shape, dtype=getattr(torch, info.input_dtype), device=self.device)
        pin = self.device.type == "cuda"
        self._host_input = torch.zeros(info.input_shape, dtype=torch.uint8, pin_memory=pin)
        self._host_outputs: tuple[torch.Tensor, ...] | None = None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_outputs: tuple[torch.Tensor, ...] | None = None
        if self.device.type == "cuda" and cuda_graph:
            self._capture()

    @classmethod
    def create(cls, model_path: Path, options: BackendOptions, report: Callable[[str], None]) -> TorchBackend:
        """The backend for an exported model whose weights load here. ``options.threads``, when given, sets
        PyTorch's thread count with ``torch.set_num_threads``: process-wide (PyTorch has no per-module thread pool),
        so it also applies to any other PyTorch code in the process; nothing else in this package changes it."""
        require_onnx_model(model_path, cls.name)
        if options.threads:
            torch.set_num_threads(options.threads)
        return cls(str(model_path), precision=options.precision, compile_unet=options.compile_unet)

    @property
    def compute_device(self) -> str:
        return str(self.device)

    def _forward(self) -> tuple[torch.Tensor, ...]:
        strict_fp32 = self.device.type == "cuda" and self.precision is Precision.FP32
        strict = torch.backends.cudnn.flags(enabled=True, allow_tf32=False)
        numerics = strict if strict_fp32 else contextlib.nullcontext()
        with torch.inference_mode(), numerics:
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
        return Features.from_outputs(*(host.numpy() for host in self._host_outputs), self.info)

    def describe(self) -> str:
        graph = ", CUDA graph" if self._graph is not None else ""
        compiled = ", compiled U-Net" if self.compiled else ""
        return f"{super().describe()}, device {self.device}{graph}{compiled}"
