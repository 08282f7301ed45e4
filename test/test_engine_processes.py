# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""An engine built in one process loads and runs in another, because the loading process registers TensorRT's plugins.

TensorRT 8.2 to 8.5 import ONNX ``InstanceNormalization`` as a plugin layer, and an engine holding one deserializes
only in a process whose plugin registry has the plugin's creator. The TensorRT double keeps such a registry per
process, empty until ``init_libnvinfer_plugins``; the model is a real exported DISK model (9 InstanceNormalization
nodes). Each process below is a new Python with the doubles (``python -m support.trt_double``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import disk_trt_ros.inference.tensorrt.runtime as tensorrt_runtime
from disk_trt_ros.errors import EngineCacheError
from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
from support import trt_double
from support.images import load_photo
from support.paths import REPO_ROOT, shared_photo_paths, subprocess_environment
from support.run_backend import load_features, run_backend

VERSION = "8.5.3.1"  # a version that imports InstanceNormalization as a plugin
PLUGIN_CREATOR = "InstanceNormalization_TRT"


def run_double(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """``python -m support.trt_double ARGUMENTS`` in a new process with TensorRT :data:`VERSION`."""
    return subprocess.run(
        trt_double.command(*arguments),
        cwd=REPO_ROOT,
        env=subprocess_environment(TRT_DOUBLE_VERSION=VERSION, **environment),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def built_elsewhere(export_model, tmp_path_factory: pytest.TempPathFactory):
    """A DISK model and its fp16 engine, built by ``build-engine`` in another process."""
    exported = export_model()
    directory = tmp_path_factory.mktemp("engine")
    engine, log = directory / "disk.engine", directory / "builds.log"
    built = run_double(
        "build-engine", "--onnx", str(exported.path), "--engine", str(engine), "--fp16", TRT_DOUBLE_BUILD_LOG=str(log)
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert json.loads(log.read_text())["plugins"] == [PLUGIN_CREATOR], "the engine holds plugin layers"
    return exported, engine


def test_an_engine_built_in_one_process_runs_in_another(built_elsewhere, tmp_path: Path) -> None:
    exported, engine = built_elsewhere
    images = np.stack([load_photo(path, exported.info.height, exported.info.width) for path in shared_photo_paths()])
    np.save(tmp_path / "images.npy", images)
    ran = run_double(
        "run-backend", "--backend", "tensorrt", "--model", str(engine),
        "--images", str(tmp_path / "images.npy"), "--out", str(tmp_path / "features.npz"),
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    expected = run_backend("onnxruntime", exported.path, images)
    features = load_features(tmp_path / "features.npz")
    assert len(features) == len(expected) == len(images)
    for ours, reference in zip(features, expected):
        assert ours.count == reference.count > 0
        np.testing.assert_array_equal(ours.keypoints, reference.keypoints)
        np.testing.assert_array_equal(ours.scores, reference.scores)
        np.testing.assert_array_equal(ours.descriptors, reference.descriptors)


def test_without_registered_plugins_the_load_fails_with_tensorrts_message(
    monkeypatch: pytest.MonkeyPatch, built_elsewhere
) -> None:
    """This process has never registered TensorRT's plugins: with the registration taken out, deserialization fails
    and the error quotes TensorRT; with it, the same engine loads."""
    _, engine = built_elsewhere
    trt_double.install(monkeypatch, VERSION)
    with monkeypatch.context() as patch:
        patch.setattr(tensorrt_runtime, "register_plugins", lambda trt, logger: None)
        with pytest.raises(EngineCacheError) as refused:
            TensorRTBackend(engine)
    message = str(refused.value)
    assert f"cannot deserialize {engine}" in message
    assert f"getPluginCreator could not find plugin: {PLUGIN_CREATOR}" in message
    assert "IPluginCreator not found in Plugin Registry" in message
    assert "another GPU" not in message, "TensorRT's own words, not a guess"
    TensorRTBackend(engine).close()
