"""The backends by name, and choosing one: ``tensorrt``, ``onnxruntime``, ``torch`` or ``auto``.

:data:`BACKENDS` maps each :class:`~disk_trt_ros.contract.BackendName` to the class that implements it, as
``module:Class``; a backend's module is imported only when that backend is created, so that choosing ONNX Runtime
never imports PyTorch. A new backend is one module (a :class:`~disk_trt_ros.inference.base.Backend` with its
``create``) and one line here, plus its name in ``BackendName``.

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
from disk_trt_ros.inference.base import Backend, BackendOptions
from disk_trt_ros.inference.tensorrt.runtime import import_tensorrt

BACKENDS: dict[BackendName, str] = {
    BackendName.TENSORRT: "disk_trt_ros.inference.tensorrt.backend:TensorRTBackend",
    BackendName.ONNXRUNTIME: "disk_trt_ros.inference.onnxruntime_backend:OnnxRuntimeBackend",
    BackendName.TORCH: "disk_trt_ros.inference.torch_backend:TorchBackend",
}

logger = logging.getLogger(__name__)


def backend_class(name: BackendName) -> type[Backend]:
    """The class of backend ``name`` (importing its module, and so its libraries, now)."""
    module, _, attribute = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


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
        precision, threads, engine_path, compile_unet: see :class:`~disk_trt_ros.inference.base.BackendOptions`.
        report: where to say what happens (the backend chosen, ignored settings, engine build progress); default:
            this module's Python logger. The node passes its ROS logger, so a long engine build is visible.
    """
    say = report or logger.info
    if precision not in Precision.values():
        raise OptionsError(f"precision {precision!r}: choose one of {', '.join(Precision.values())}")
    name, reason = resolve_backend_name(kind)
    if kind == BackendName.AUTO:
        say(f"backend auto -> {name}: {reason}")
    options = BackendOptions(
        precision=Precision(precision),
        threads=threads,
        engine_path=Path(engine_path) if engine_path is not None else None,
        compile_unet=compile_unet,
    )
    return backend_class(name).create(Path(model_path), options, say)
