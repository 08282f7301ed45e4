# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The runtime side under CPython 3.9 without PyTorch, OpenCV, kornia, rclpy or launch, as a Jetson on JetPack 5 has it.

``make setup`` builds ``.py39/`` (scripts/python39_runtime.sh): Debian 11's CPython 3.9 with numpy 1.23.5, onnx 1.16.2
and onnxruntime 1.19.2 (requirements/python39.txt), the versions beside TensorRT 8.5's cp39 bindings. Every process
here runs that Python through :mod:`support.import_guard`, which refuses the heavy libraries: the runtime modules
import; ONNX Runtime finds the same features as under this test's Python (to the last bit but for descriptors: see
:func:`assert_same_features`); ``build-engine`` and the TensorRT backend run through the TensorRT double. The
models and photos come from this side (exporting needs PyTorch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from disk_trt_ros.inference.base import Features
from disk_trt_ros.inference.tensorrt.record import read_sidecar
from support.images import load_photo
from support.paths import REPO_ROOT, TEST_DIR, shared_photo_paths, subprocess_environment
from support.run_backend import load_features, run_backend
from support.runtime_side import runtime_modules

PYTHON39 = REPO_ROOT / ".py39" / "python"

pytestmark = pytest.mark.skipif(
    not PYTHON39.is_file(), reason=f"no CPython 3.9 at {PYTHON39}: `make setup` (scripts/python39_runtime.sh) makes it"
)


def run_python39(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """``python3.9 -m support.import_guard ARGUMENTS`` with only the checkout and test/ on its ``PYTHONPATH``."""
    return subprocess.run(
        [str(PYTHON39), "-m", "support.import_guard", *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(TEST_DIR)]), **environment},
        capture_output=True,
        text=True,
        timeout=300,
    )


def photos_for(model: Path, height: int, width: int, directory: Path) -> Path:
    """The shared photos at the model's size (RGB), saved as ``[N, H, W, 3]`` uint8 for the other Python."""
    path = directory / "images.npy"
    np.save(path, np.stack([load_photo(photo, height, width) for photo in shared_photo_paths()]))
    return path


def assert_same_features(ours: list[Features], expected: list[Features]) -> None:
    """Identical keypoints and scores, descriptors to float32 rounding: ONNX Runtime 1.19's Sqrt (its last cp39 release)
    misses the correctly rounded root by one unit in the last place on some rows, and the row normalisation divides by
    that root, so an element may differ by that relative error (2^-23) plus both sides' rounding (2^-24 each)."""
    assert len(ours) == len(expected) > 0
    for found, reference in zip(ours, expected):
        assert found.count == reference.count > 0
        np.testing.assert_array_equal(found.keypoints, reference.keypoints)
        np.testing.assert_array_equal(found.scores, reference.scores)
        np.testing.assert_allclose(found.descriptors, reference.descriptors, rtol=2.0**-23 + 2 * 2.0**-24, atol=0)


def test_the_runtime_side_imports_under_python_3_9_without_the_heavy_libraries() -> None:
    imported = run_python39("--import")
    assert imported.returncode == 0, imported.stderr
    report = json.loads(imported.stdout)
    assert report["python"].startswith("3.9.")
    assert report["imported"] == runtime_modules()
    assert (report["refused"], report["heavy_loaded"]) == ([], []), "not even an attempt to import them"


def test_the_import_guard_refuses_opencv_where_it_is_installed() -> None:
    """The guard bites: image conversion needs OpenCV, which this Python has."""
    pytest.importorskip("cv2")
    refused = subprocess.run(
        [sys.executable, "-m", "support.import_guard", "--import", "disk_trt_ros.image_conversion"],
        cwd=REPO_ROOT, env=subprocess_environment(), capture_output=True, text=True, timeout=120,
    )
    assert refused.returncode != 0 and "No module named 'cv2' (support.import_guard" in refused.stderr, refused.stderr


def test_onnxruntime_under_python_3_9_finds_the_same_features(export_model, tmp_path: Path) -> None:
    exported = export_model()
    images = photos_for(exported.path, exported.info.height, exported.info.width, tmp_path)
    ran = run_python39(
        "support.run_backend", "--backend", "onnxruntime", "--model", str(exported.path),
        "--images", str(images), "--out", str(tmp_path / "features.npz"),
    )
    assert ran.returncode == 0, ran.stderr
    expected = run_backend("onnxruntime", exported.path, np.load(images))
    assert_same_features(load_features(tmp_path / "features.npz"), expected)


def test_build_engine_and_the_tensorrt_backend_under_python_3_9(export_model, tmp_path: Path) -> None:
    """With the TensorRT 8.5 double: the build in one Python 3.9 process, the backend in another."""
    exported = export_model()
    images = photos_for(exported.path, exported.info.height, exported.info.width, tmp_path)
    engine = tmp_path / "disk.engine"
    built = run_python39(
        "support.trt_double", "build-engine", "--onnx", str(exported.path), "--engine", str(engine), "--fp16",
        TRT_DOUBLE_VERSION="8.5.3.1",
    )
    assert built.returncode == 0, built.stdout + built.stderr
    record = read_sidecar(engine)
    assert (record.tensorrt_version, record.precision, record.input_dtype) == ("8.5.3.1", "fp16", "uint8")
    ran = run_python39(
        "support.trt_double", "run-backend", "--backend", "tensorrt", "--model", str(engine),
        "--images", str(images), "--out", str(tmp_path / "features.npz"), TRT_DOUBLE_VERSION="8.5.3.1",
    )
    assert ran.returncode == 0, ran.stderr
    expected = run_backend("onnxruntime", exported.path, np.load(images))
    assert_same_features(load_features(tmp_path / "features.npz"), expected)
