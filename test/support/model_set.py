# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The exported models and inputs of test_tensorrt_real.py, as a directory that a machine without PyTorch can take.

The TensorRT 8.5 bundle on the GPU machine runs Python 3.9 with numpy and onnx, without PyTorch, OpenCV or kornia,
so the models are exported here (:func:`write_model_set`, run by ``scripts/export_test_models.py``) and the test
reads them there (:func:`read_model_set`) from the directory that ``DISK_TRT_ROS_TEST_MODELS`` names.

A model set directory holds, for each of :data:`PROFILES`, ``NAME.onnx`` (random weights) and ``NAME.images.npy``:
the photographs converted as the node converts them, in the model's size and input format (uint8 ``[N, H, W, C]``);
and ``manifest.json``: ``{"models": [{"name", "onnx", "images"}], "photos": where the photographs came from}``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from disk_trt_ros.contract import InputFormat, InstanceNorm, ModelInfo, TrtCompat, read_onnx_model_info

MODEL_SET_VARIABLE = "DISK_TRT_ROS_TEST_MODELS"
MANIFEST = "manifest.json"

# name -> the settings of an rgb export with window 5 and threshold 0 (as kornia); one with the instance norms
# decomposed, so that the graph without a plugin runs on real TensorRT too
PROFILES = {
    "rgb_240x320_k1024": {"height": 240, "width": 320, "max_keypoints": 1024, "trt_compat": TrtCompat.TRT_8_2},
    "rgb_128x160_k64_uint8": {"height": 128, "width": 160, "max_keypoints": 64, "trt_compat": TrtCompat.TRT_10},
    "rgb_240x320_k1024_decomposed": {
        "height": 240, "width": 320, "max_keypoints": 1024, "trt_compat": TrtCompat.TRT_8_2,
        "instance_norm": InstanceNorm.DECOMPOSED,
    },
}


@dataclasses.dataclass(frozen=True)
class ModelWithImages:
    """An exported model and the images to run it on (uint8 ``[N, H, W, C]`` in its input format)."""

    name: str
    onnx: Path
    info: ModelInfo
    images: np.ndarray


def write_model_set(directory: Path, seed: int = 0) -> Path:
    """Export :data:`PROFILES` with ``random:SEED`` weights and convert the shared photographs (scikit-image's where
    ../shared is absent) for each; returns ``directory``. Needs PyTorch, kornia and OpenCV."""
    from disk_trt_ros import __version__
    from disk_trt_ros.export.onnx_export import export_onnx
    from disk_trt_ros.export.weights import random_disk
    from disk_trt_ros.image_conversion import ImageConverter
    from disk_trt_ros.photos import describe_source, load_photos, shared_photo_directory

    directory.mkdir(parents=True, exist_ok=True)
    disk, sha256 = random_disk(seed)
    photos = load_photos(shared_photo_directory())
    entries = []
    for name, settings in PROFILES.items():
        info = ModelInfo(
            **settings, input_format=InputFormat.RGB, input_dtype=settings["trt_compat"].input_dtype, nms_window=5,
            score_threshold=0.0, weights=f"random:{seed}", weights_sha256=sha256, package_version=__version__,
        )
        entry = {"name": name, "onnx": f"{name}.onnx", "images": f"{name}.images.npy"}
        export_onnx(disk, info, directory / entry["onnx"])
        converter = ImageConverter(info.height, info.width, info.input_format)
        np.save(directory / entry["images"], np.stack([converter.from_pixels(rgb, "rgb").image for rgb in photos]))
        entries.append(entry)
    manifest = {"models": entries, "photos": describe_source(shared_photo_directory())}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return directory


def read_model_set(directory: Path) -> list[ModelWithImages]:
    """The models and images of a directory written by :func:`write_model_set` (numpy and onnx only)."""
    manifest = json.loads((directory / MANIFEST).read_text())
    return [
        ModelWithImages(
            entry["name"],
            directory / entry["onnx"],
            read_onnx_model_info(str(directory / entry["onnx"])),
            np.load(directory / entry["images"]),
        )
        for entry in manifest["models"]
    ]
