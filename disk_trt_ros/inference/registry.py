# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The extractor backends and the matchers by name, and choosing one: ``tensorrt``, ``onnxruntime``, ``torch`` or
``auto``.

:data:`BACKENDS` maps each :class:`~disk_trt_ros.contract.BackendName` to the class that implements it, as
``module:Class``; a backend's module is imported only when that backend is created, so that choosing ONNX Runtime
never imports PyTorch. A new backend is one module (a :class:`~disk_trt_ros.inference.base.Backend` with its
``create``) and one line here, plus its name in ``BackendName``. :data:`MATCHERS` does the same for the
:class:`~disk_trt_ros.inference.base.Matcher` classes, by their ``name``.

``auto`` takes TensorRT when the ``tensorrt`` package imports and a CUDA GPU is visible (through pycuda or
cuda-python, which the TensorRT backend needs anyway), else ONNX Runtime when it imports, else PyTorch. The choice
and the reason are logged. A matcher runs where :func:`resolve_matcher` says: LightGlue on the backend that name
resolves to; mutual nearest neighbours in PyTorch on a CUDA GPU, or in numpy on the CPU.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Callable

from disk_trt_ros.contract import BackendName, MatcherMethod, Precision
from disk_trt_ros.errors import BackendUnavailableError, LibraryMissingError, OptionsError, TensorRTUnavailableError
from disk_trt_ros.inference.base import Backend, BackendOptions, Matcher, MatcherOptions
from disk_trt_ros.inference.tensorrt.runtime import import_tensorrt

BACKENDS: dict[BackendName, str] = {
    BackendName.TENSORRT: "disk_trt_ros.inference.tensorrt.backend:TensorRTBackend",
    BackendName.ONNXRUNTIME: "disk_trt_ros.inference.onnxruntime_backend:OnnxRuntimeBackend",
    BackendName.TORCH: "disk_trt_ros.inference.torch_backend:TorchBackend",
}

MATCHERS: dict[str, str] = {
    "mnn-numpy": "disk_trt_ros.inference.mnn:NumpyMnnMatcher",
    "mnn-torch": "disk_trt_ros.inference.torch_matchers:TorchMnnMatcher",
    "lightglue-tensorrt": "disk_trt_ros.inference.tensorrt.matcher:TensorRTLightGlue",
    "lightglue-onnxruntime": "disk_trt_ros.inference.onnxruntime_backend:OnnxRuntimeLightGlue",
    "lightglue-torch": "disk_trt_ros.inference.torch_matchers:TorchLightGlue",
}

logger = logging.getLogger(__name__)


def load_class(reference: str) -> type:
    """The class a ``module:Class`` reference names (importing its module, and so its libraries, now);
    :class:`~disk_trt_ros.errors.LibraryMissingError` saying what to install when a library it needs is missing."""
    module, _, attribute = reference.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as error:
        missing = LibraryMissingError.from_import_error(attribute, error)
        if missing is None:
            raise
        raise missing from error


def backend_class(name: BackendName) -> type[Backend]:
    """The class of backend ``name``."""
    return load_class(BACKENDS[name])


def backend_name(requested: BackendName | str) -> BackendName:
    """``requested`` as a :class:`~disk_trt_ros.contract.BackendName`; :class:`OptionsError` when it is none."""
    if requested not in BackendName.values():
        raise OptionsError(f"backend {requested!r}: choose one of {', '.join(BackendName.values())}")
    return BackendName(requested)


def resolve_backend_name(requested: BackendName | str) -> tuple[BackendName, str]:
    """The backend ``requested`` stands for, and why: ``auto`` is resolved, the others are checked and kept.

    Raises:
        OptionsError: ``requested`` is not a :class:`~disk_trt_ros.contract.BackendName`.
        BackendUnavailableError: ``auto`` finds no backend installed.
    """
    if backend_name(requested) is not BackendName.AUTO:
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


def resolve_matcher(method: MatcherMethod | str, backend: BackendName | str) -> tuple[str, str]:
    """The matcher (a key of :data:`MATCHERS`) that ``method`` on ``backend`` stands for, and why.

    LightGlue runs on the backend :func:`resolve_backend_name` gives. Mutual nearest neighbours need no model: they
    run in PyTorch for ``torch``, and for ``auto`` and ``tensorrt`` when PyTorch sees a CUDA GPU (where the extractor
    runs on it); otherwise, and for ``onnxruntime``, in numpy on the CPU.

    Raises:
        OptionsError: an unknown method or backend.
        BackendUnavailableError: ``auto`` finds no backend installed for LightGlue.
    """
    if method not in MatcherMethod.values():
        raise OptionsError(f"matcher {method!r}: choose one of {', '.join(MatcherMethod.values())}")
    if method == MatcherMethod.LIGHTGLUE:
        name, reason = resolve_backend_name(backend)
        return f"{MatcherMethod.LIGHTGLUE}-{name}", reason
    requested = backend_name(backend)
    if requested is BackendName.TORCH:
        return "mnn-torch", "requested"
    if requested is BackendName.ONNXRUNTIME:
        return "mnn-numpy", "a CPU backend was requested"
    try:
        import torch
    except ImportError as error:
        return "mnn-numpy", f"PyTorch is not installed ({error})"
    if torch.cuda.is_available():
        return "mnn-torch", "PyTorch sees a CUDA GPU"
    return "mnn-numpy", "PyTorch sees no CUDA GPU"


def create_matcher(
    method: MatcherMethod | str,
    backend: BackendName | str,
    options: MatcherOptions,
    report: Callable[[str], None] | None = None,
) -> Matcher:
    """Construct the matcher for ``method`` on ``backend`` (see :func:`resolve_matcher`; the choice is reported).

    Args:
        method: ``mnn`` or ``lightglue``.
        backend: a :class:`~disk_trt_ros.contract.BackendName`.
        options: LightGlue's model, the backend options, the filters of mutual nearest neighbours.
        report: where to say what happens (the matcher chosen, ignored settings, engine build progress); default:
            this module's Python logger.
    """
    say = report or logger.info
    name, reason = resolve_matcher(method, backend)
    say(f"matcher {method} on {backend} -> {name}: {reason}")
    return load_class(MATCHERS[name]).create(options, say)
