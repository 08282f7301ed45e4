# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""TensorRT itself: the one place the ``tensorrt`` module is imported, its version, and engine deserialization.

Every other module of the package reaches TensorRT through :func:`import_tensorrt`, so that what must happen before
TensorRT is used (an install hint when it is missing, and any set-up before the first deserialization) happens in
one place.
"""

from __future__ import annotations

import importlib
import platform
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from disk_trt_ros.errors import TensorRTUnavailableError


def tensorrt_install_hint() -> str:
    """How to install TensorRT on this machine (JetPack on a Jetson, else the wheels or NVIDIA packages)."""
    if Path("/etc/nv_tegra_release").exists() or platform.machine() == "aarch64":
        return (
            "on a Jetson, TensorRT and its Python bindings come with JetPack (`sudo apt install nvidia-jetpack`, "
            "or `python3-libnvinfer` for the bindings); use the system Python or a venv made with "
            "--system-site-packages"
        )
    return (
        "on x86, `pip install tensorrt` (NVIDIA's wheels; they download from pypi.nvidia.com) or install NVIDIA's "
        "TensorRT packages (`sudo apt install tensorrt python3-libnvinfer` from NVIDIA's CUDA repository)"
    )


def import_tensorrt() -> ModuleType:
    """The ``tensorrt`` module, or :class:`TensorRTUnavailableError` saying what to install."""
    try:
        return importlib.import_module("tensorrt")
    except ImportError as error:
        raise TensorRTUnavailableError(f"TensorRT is not installed ({error}); {tensorrt_install_hint()}") from error


def tensorrt_major(trt: ModuleType) -> int:
    """Major version from ``trt.__version__`` (``"8.2.1.8"`` -> 8)."""
    try:
        return int(str(trt.__version__).split(".")[0])
    except ValueError as error:
        raise TensorRTUnavailableError(f"cannot read TensorRT's version from {trt.__version__!r}") from error


def recording_logger(trt: ModuleType, emit: Callable[[str], None] | None = None) -> Any:
    """A ``trt.ILogger`` that keeps TensorRT's warnings and errors in ``.messages`` (``"WARNING: text"``) and passes
    each to ``emit`` as it comes; below warnings, nothing is kept."""

    class RecordingLogger(trt.ILogger):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.messages: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity > trt.ILogger.Severity.WARNING:
                return
            line = f"{getattr(severity, 'name', severity)}: {msg}"
            self.messages.append(line)
            if emit is not None:
                emit(line)

    return RecordingLogger()


def register_plugins(trt: ModuleType, logger: Any) -> None:
    """Register TensorRT's own plugins (libnvinfer_plugin) with this process's plugin registry.

    TensorRT 8.2 to 8.5 import ONNX ``InstanceNormalization`` as a plugin layer; an engine holding one deserializes
    only in a process where the plugin's creator is registered. TensorRT registers each creator once, so calling this
    before every build and deserialization is cheap and safe.
    """
    if not trt.init_libnvinfer_plugins(logger, ""):
        raise TensorRTUnavailableError("TensorRT could not register its plugins (libnvinfer_plugin)")


def deserialize_engine(trt: ModuleType, data: bytes) -> tuple[Any, Any, list[str]]:
    """``(runtime, engine, messages)``: ``engine`` is None when TensorRT cannot deserialize ``data``, and
    ``messages`` are TensorRT's own warnings and errors. Keep ``runtime`` alive as long as the engine."""
    logger = recording_logger(trt)
    register_plugins(trt, logger)
    runtime = trt.Runtime(logger)
    try:
        engine = runtime.deserialize_cuda_engine(data)
    except RuntimeError as error:  # some versions raise instead of returning None
        logger.messages.append(f"ERROR: {error}")
        engine = None
    return runtime, engine, logger.messages


def deserialization_failure(data: bytes) -> str | None:
    """None when the installed TensorRT deserializes ``data``, else what TensorRT said."""
    trt = import_tensorrt()
    _, engine, messages = deserialize_engine(trt, data)
    if engine is not None:
        return None
    return "; ".join(message for message in messages if not message.startswith("WARNING")) or "no message"
