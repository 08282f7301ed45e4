"""Choosing and constructing a backend by name: ``tensorrt``, ``onnxruntime``, ``torch`` or ``auto``.

``auto`` takes TensorRT when the ``tensorrt`` package imports and a CUDA GPU is visible (through pycuda or
cuda-python, which the TensorRT backend needs anyway), else ONNX Runtime when it imports, else PyTorch. The choice
and the reason are logged.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Callable

from disk_trt_ros.errors import BackendUnavailableError, OptionsError
from disk_trt_ros.inference.base import Backend
from disk_trt_ros.inference.engine_cache import (
    PRECISIONS,
    BuildSettings,
    Progress,
    TensorRTUnavailableError,
    default_engine_path,
    ensure_engine,
    import_tensorrt,
)

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch")
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")

logger = logging.getLogger(__name__)


def resolve_backend_name(requested: str) -> tuple[str, str]:
    """The backend ``requested`` stands for, and why: ``auto`` is resolved, the others are checked and kept.

    Raises:
        OptionsError: ``requested`` is not one of :data:`BACKENDS`.
        BackendUnavailableError: ``auto`` finds no backend installed.
    """
    if requested not in BACKENDS:
        raise OptionsError(f"backend {requested!r}: choose one of {', '.join(BACKENDS)}")
    if requested != "auto":
        return requested, "requested"
    try:
        import_tensorrt()
    except TensorRTUnavailableError as error:
        unavailable = f"tensorrt does not import ({error.__cause__ or error})"
    else:
        from disk_trt_ros.inference.cuda_memory import gpu_count

        count, how = gpu_count()
        if count > 0:
            return "tensorrt", f"TensorRT imports and {how}"
        unavailable = f"TensorRT imports but no GPU is usable: {how}"
    for name, module in (("onnxruntime", "onnxruntime"), ("torch", "torch")):
        try:
            importlib.import_module(module)
        except ImportError as error:
            unavailable += f"; {name} is not installed ({error})"
            continue
        return name, unavailable
    raise BackendUnavailableError(f"no inference backend is installed: {unavailable}; install onnxruntime or torch")


def create_backend(
    kind: str,
    model_path: str | os.PathLike[str],
    precision: str = "fp32",
    threads: int | None = None,
    engine_path: str | os.PathLike[str] | None = None,
    compile_unet: bool = False,
    report: Callable[[str], None] | None = None,
) -> Backend:
    """Construct the backend ``kind`` (see :data:`BACKENDS`) for an exported model.

    Args:
        kind: backend name; ``auto`` is resolved by :func:`resolve_backend_name` and the choice logged.
        model_path: exported ONNX model; for ``tensorrt`` also an engine file (``.engine``/``.plan``/``.trt``) with
            its sidecar.
        precision: ``fp32`` or ``fp16`` (TensorRT and PyTorch on CUDA; ONNX Runtime runs the model as exported).
        threads: CPU threads of ONNX Runtime, or of PyTorch (process-wide) for ``torch`` (None: the default).
        engine_path: where TensorRT's engine for ``model_path`` lives (default: beside the model,
            ``MODEL.<precision>.engine``); it is built or rebuilt there when needed.
        compile_unet: PyTorch on CUDA only: compile the U-Net with ``torch.compile`` (slow start, fastest run).
        report: where to say what happens (the backend chosen, ignored settings, engine build progress); default:
            this module's Python logger. The node passes its ROS logger, so a long engine build is visible.
    """
    say = report or logger.info
    if precision not in PRECISIONS:
        raise OptionsError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    name, reason = resolve_backend_name(kind)
    if kind == "auto":
        say(f"backend auto -> {name}: {reason}")
    model_path = Path(model_path)
    if name == "tensorrt":
        return _tensorrt_backend(model_path, precision, engine_path, say)
    if model_path.suffix in ENGINE_SUFFIXES:
        raise OptionsError(f"{model_path} is a TensorRT engine; the {name} backend needs the exported ONNX model")
    if name == "onnxruntime":
        from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeBackend

        if precision != "fp32":
            say(f"the onnxruntime backend runs {model_path} as exported; precision {precision} is ignored")
        return OnnxRuntimeBackend(str(model_path), threads=threads)
    import torch

    from disk_trt_ros.inference.torch_backend import TorchBackend

    if threads:
        torch.set_num_threads(threads)  # process-wide: PyTorch has no per-module thread pool
    return TorchBackend(str(model_path), precision=precision, compile_unet=compile_unet)


def _tensorrt_backend(
    model_path: Path, precision: str, engine_path: str | os.PathLike[str] | None, say: Callable[[str], None]
) -> Backend:
    from disk_trt_ros.inference.tensorrt_backend import TensorRTBackend

    if model_path.suffix in ENGINE_SUFFIXES:
        return TensorRTBackend(model_path)
    engine = Path(engine_path) if engine_path is not None else default_engine_path(model_path, precision)
    ensure_engine(model_path, engine, BuildSettings(precision=precision), progress=Progress(say))
    return TensorRTBackend(engine)
