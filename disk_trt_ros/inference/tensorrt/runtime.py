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
from typing import Any

from disk_trt_ros.errors import TensorRTUnavailableError


def tensorrt_install_hint() -> str:
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



def deserialize_engine(trt: ModuleType, data: bytes, logger: Any) -> tuple[Any, Any]:
    """``(runtime, engine)``; ``engine`` is None when TensorRT cannot deserialize ``data``. Keep ``runtime`` alive
    as long as the engine."""
    runtime = trt.Runtime(logger)
    try:
        engine = runtime.deserialize_cuda_engine(data)
    except RuntimeError:  # some versions raise instead of returning None
        engine = None
    return runtime, engine


def engine_deserializes(data: bytes) -> bool:
    trt = import_tensorrt()
    _, engine = deserialize_engine(trt, data, trt.Logger(trt.Logger.ERROR))
    return engine is not None

