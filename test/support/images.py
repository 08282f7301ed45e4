# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Test images: real photographs resized, noise, low contrast, a model's input formats, and Image messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from disk_trt_ros.contract import InputFormat


def load_photo(path: Path, height: int, width: int) -> np.ndarray:
    """A photo as RGB uint8 ``[height, width, 3]`` (area-resized)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {path}"
    return cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def noise_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def low_contrast(rgb: np.ndarray, gain: float = 0.05) -> np.ndarray:
    """The image squeezed around mid-grey: ``128 + gain * (rgb - 128)``."""
    return np.clip(np.rint(128.0 + gain * (rgb.astype(np.float32) - 128.0)), 0, 255).astype(np.uint8)


def in_format(rgb: np.ndarray, input_format: InputFormat) -> np.ndarray:
    """An RGB image in a model's input format: channel order swapped for bgr, the green channel as mono."""
    if input_format is InputFormat.BGR:
        return np.ascontiguousarray(rgb[..., ::-1])
    if input_format is InputFormat.MONO:
        return np.ascontiguousarray(rgb[..., 1:2])
    return rgb


def reference_rgb(image: np.ndarray, input_format: InputFormat) -> np.ndarray:
    """The RGB image kornia must see to match a model fed ``image`` in ``input_format``."""
    return np.ascontiguousarray(image[..., list(input_format.rgb_channels)])


def raw_message(pixels: np.ndarray, encoding: str, padding: int = 0, bigendian: bool = False) -> Any:
    """A ``sensor_msgs/Image`` holding ``pixels`` ([h, w, c] in the encoding's dtype) with ``padding`` bytes per row."""
    from sensor_msgs.msg import Image

    height, width = pixels.shape[:2]
    dtype = pixels.dtype.newbyteorder(">" if bigendian else "<")
    rows = pixels.astype(dtype).reshape(height, -1).view(np.uint8)
    padded = np.concatenate([rows, np.full((height, padding), 0xAB, np.uint8)], axis=1)
    return Image(
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=int(bigendian),
        step=padded.shape[1],
        data=padded.tobytes(),
    )
