# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Fixtures shared by the test modules: exported random-weight models (cached for the session), an rclpy context,
and the TensorRT/CUDA doubles with a tiny contract model.

Harness code lives in ``support/`` (see support/__init__.py); PyTorch and kornia are imported only by the fixtures
and tests that need them, so that the tests which do not can run where PyTorch is not installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

from disk_trt_ros import __version__
from disk_trt_ros.contract import InputFormat, ModelInfo, TrtCompat
from support import trt_double

if TYPE_CHECKING:
    from kornia.feature import DISK

ROS_DOMAIN_ID = 1 + os.getpid() % 100  # one DDS domain per test process, apart from other ROS processes here
TORCH_THREADS = 2  # the CI machines' cores
DOUBLE_NEEDS_ONNXRUNTIME = "onnxruntime is not installed: the TensorRT double runs its engines with it"


def pytest_configure(config: pytest.Config) -> None:
    """PyTorch's thread count is process-wide: the test session sets it, once, where PyTorch is installed."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(TORCH_THREADS)


@dataclasses.dataclass(frozen=True)
class ExportedModel:
    path: Path
    info: ModelInfo
    disk: DISK


ModelFactory = Callable[..., ExportedModel]


@pytest.fixture(scope="session")
def export_model(tmp_path_factory: pytest.TempPathFactory) -> ModelFactory:
    """Export (once per settings) a random-weight model; keyword arguments override ModelInfo's test defaults.

    Defaults: seed 0, 128x160, K=64, rgb, TensorRT 8.2 compatibility (float32 input), window 5, threshold 0.
    Skips where PyTorch or kornia is not installed.
    """
    pytest.importorskip("torch", reason="exporting a model needs PyTorch")
    pytest.importorskip("kornia", reason="exporting a model needs kornia")
    from disk_trt_ros.export.onnx_export import export_onnx
    from disk_trt_ros.export.weights import random_disk

    cache: dict[tuple, ExportedModel] = {}
    directory = tmp_path_factory.mktemp("models")

    def factory(seed: int = 0, **overrides: object) -> ExportedModel:
        settings = {
            "height": 128, "width": 160, "max_keypoints": 64, "input_format": InputFormat.RGB,
            "nms_window": 5, "score_threshold": 0.0, "trt_compat": TrtCompat.TRT_8_2,
        }
        settings.update(overrides)
        settings["input_format"] = InputFormat(settings["input_format"])
        settings["trt_compat"] = TrtCompat(settings["trt_compat"])
        key = (seed, tuple(sorted((k, str(v)) for k, v in settings.items())))
        if key not in cache:
            disk, sha256 = random_disk(seed)
            info = ModelInfo(
                input_dtype=settings["trt_compat"].input_dtype, weights=f"random:{seed}", weights_sha256=sha256,
                package_version=__version__, **settings,  # type: ignore[arg-type]
            )
            path = directory / f"disk_{len(cache)}.onnx"
            export_onnx(disk, info, path)
            cache[key] = ExportedModel(path, info, disk)
        return cache[key]

    return factory


@pytest.fixture(scope="module")
def rclpy_context() -> Iterator[Any]:
    """An initialised rclpy context on :data:`ROS_DOMAIN_ID`, shut down after the module; skips without rclpy."""
    rclpy = pytest.importorskip(
        "rclpy", reason="rclpy is not installed: run `make setup` and `source install/setup.sh`"
    )
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ROS_DOMAIN_ID)
    yield context
    context.try_shutdown()


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    """A tiny ONNX model that follows the engine contract, 32x32 rgb, K=8 (the TensorRT double's engines run it with
    onnxruntime). Skips where onnxruntime is not installed."""
    pytest.importorskip("onnxruntime", reason=DOUBLE_NEEDS_ONNXRUNTIME)
    path = tmp_path / "model.onnx"
    trt_double.make_contract_onnx(path, trt_double.tiny_model_info())
    return path


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> trt_double.FakeGpu:
    """The double installed as ``tensorrt`` 10.0.1, with a fake GPU behind cuda-python's runtime; skips where
    onnxruntime is not installed."""
    pytest.importorskip("onnxruntime", reason=DOUBLE_NEEDS_ONNXRUNTIME)
    return trt_double.install(monkeypatch, "10.0.1")
