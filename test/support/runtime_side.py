# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The runtime side: the modules a Jetson runs next to TensorRT, and the libraries they must not import.

They import without PyTorch, OpenCV, kornia, rclpy or launch, and run under Python 3.9 (JetPack 5): test_structure.py
checks their source, test_runtime_python39.py runs them under CPython 3.9. This module imports neither the package
nor pytest, so that such a Python can use it (:mod:`support.import_guard`).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "disk_trt_ros"

RUNTIME_MODULES = (
    "disk_trt_ros.errors",
    "disk_trt_ros.files",
    "disk_trt_ros.metadata",
    "disk_trt_ros.contract",
    "disk_trt_ros.matcher_contract",
    "disk_trt_ros.atomic",
    "disk_trt_ros.cli",
    "disk_trt_ros.cli_arguments",
    "disk_trt_ros.inference.base",
    "disk_trt_ros.inference.registry",
    "disk_trt_ros.inference.comparison",
    "disk_trt_ros.inference.onnxruntime_backend",
    "disk_trt_ros.inference.mnn",
    "disk_trt_ros.inference.bench",
)
RUNTIME_PACKAGES = ("disk_trt_ros.inference.tensorrt",)
HEAVY_LIBRARIES = ("torch", "cv2", "kornia", "rclpy", "launch")


def module_name(path: Path) -> str:
    """The dotted name of a source file of the package (a package's ``__init__.py`` is the package)."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_modules() -> list[str]:
    """:data:`RUNTIME_MODULES`, then every module of :data:`RUNTIME_PACKAGES`."""
    packages = [PACKAGE_DIR.parent.joinpath(*package.split(".")) for package in RUNTIME_PACKAGES]
    return list(RUNTIME_MODULES) + [module_name(path) for package in packages for path in sorted(package.rglob("*.py"))]
