"""Fixtures shared by the test modules: exported random-weight models, cached for the session."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import torch
from kornia.feature import DISK

from disk_trt_ros import __version__
from disk_trt_ros.contract import InputFormat, ModelInfo, TrtCompat
from disk_trt_ros.export.onnx_export import export_onnx
from disk_trt_ros.export.weights import random_disk

torch.set_num_threads(2)

ROS_DOMAIN_ID = 1 + os.getpid() % 100  # one DDS domain per test process, apart from other ROS processes here


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
    """
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
    rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed: run `make setup` and `source install/setup.sh`")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ROS_DOMAIN_ID)
    yield context
    context.try_shutdown()
