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

from disk_trt_ros.contract import BackendName, Precision
from disk_trt_ros.errors import BackendUnavailableError, OptionsError, TensorRTUnavailableError
from disk_trt_ros.inference.base import Backend
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import default_engine_path
from disk_trt_ros.inference.tensorrt.runtime import import_tensorrt

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")

logger = logging.getLogger(__name__)


def resolve_backend_name(requested: BackendName | str) -> tuple[BackendName, str]:
    """The backend ``requested`` stands for, and why: ``auto`` is resolved, the others are checked and kept.

    Raises:
        OptionsError: ``requested`` is not a :class:`~disk_trt_ros.contract.BackendName`.
        BackendUnavailableError: ``auto`` finds no backend installed.
    """
    if requested not in BackendName.values():
        raise OptionsError(f"backend {requested!r}: choose one of {', '.join(BackendName.values())}")
    if requested != BackendName.AUTO:
        return BackendName(requested), "requested"
    try:
        import_tensorrt()
    except TensorRTUnavailableError as error:
        unavailable = f"tensorrt does not import ({error.__cause__ or error})"
    else:
        from disk_trt_ros.inference.tensorrt.cuda_bindings import gpu_count

        count, how = gpu_count()
        if count > 0:
            return BackendName.TENSORRT, f"TensorRT imports and {how}"
        unavailable = f"TensorRT imports but no GPU is usable: {how}"
    for name, module in ((BackendName.ONNXRUNTIME, "onnxruntime"), (BackendName.TORCH, "torch")):
        try:
            importlib.import_module(module)
        except ImportError as error:
            unavailable += f"; {name} is not installed ({error})"
            continue
        return name, unavailable
    raise BackendUnavailableError(f"no inference backend is installed: {unavailable}; install onnxruntime or torch")


def create_backend(
    kind: BackendName | str,
    model_path: str | os.PathLike[str],
    precision: Precision | str = Precision.FP32,
    threads: int | None = None,
    engine_path: str | os.PathLike[str] | None = None,
    compile_unet: bool = False,
    report: Callable[[str], None] | None = None,
) -> Backend:
    """Construct the backend ``kind`` (a :class:`~disk_trt_ros.contract.BackendName`) for an exported model.

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
    if precision not in Precision.values():
        raise OptionsError(f"precision {precision!r}: choose one of {', '.join(Precision.values())}")
    precision = Precision(precision)
    name, reason = resolve_backend_name(kind)
    if kind == BackendName.AUTO:
        say(f"backend auto -> {name}: {reason}")
    model_path = Path(model_path)
    if name is BackendName.TENSORRT:
        return _tensorrt_backend(model_path, precision, engine_path, say)
    if model_path.suffix in ENGINE_SUFFIXES:
        raise OptionsError(f"{model_path} is a TensorRT engine; the {name} backend needs the exported ONNX model")
    if name is BackendName.ONNXRUNTIME:
        from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeBackend

        if precision is not Precision.FP32:
            say(f"the onnxruntime backend runs {model_path} as exported; precision {precision} is ignored")
        return OnnxRuntimeBackend(str(model_path), threads=threads)
    import torch

    from disk_trt_ros.inference.torch_backend import TorchBackend

    if threads:
        torch.set_num_threads(threads)  # process-wide: PyTorch has no per-module thread pool
    return TorchBackend(str(model_path), precision=precision, compile_unet=compile_unet)


def _tensorrt_backend(
    model_path: Path, precision: Precision, engine_path: str | os.PathLike[str] | None, say: Callable[[str], None]
) -> Backend:
    from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend

    if model_path.suffix in ENGINE_SUFFIXES:
        return TensorRTBackend(model_path)
    engine = Path(engine_path) if engine_path is not None else default_engine_path(model_path, precision)
    ensure_engine(model_path, engine, BuildSettings(precision=precision), progress=Progress(say))
    return TensorRTBackend(engine)
