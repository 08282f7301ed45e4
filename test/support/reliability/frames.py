# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The frames of a reliability scenario: stamps that name their frame, the bad messages the node must reject, a real
photograph, and the check of a Keypoints message against the frame it answers."""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image

from disk_trt_ros.contract import ModelInfo
from disk_trt_ros.msg import Keypoints

STAMP_SEC = 1_700_000_000  # frame i is stamped STAMP_SEC + i ns, so a keypoints message names its frame

# Messages the node must reject, one of each kind in turn (issue 4's bad-message kinds).
BAD_FRAMES: dict[str, Callable[[], Image]] = {
    "data shorter than step x height": lambda: Image(height=48, width=64, encoding="rgb8", step=192, data=bytes(900)),
    "unknown encoding": lambda: Image(height=4, width=4, encoding="yuv_unheard_of", step=8, data=bytes(32)),
    "zero size": lambda: Image(height=0, width=0, encoding="rgb8", step=0, data=b""),
    "step below width x bytes per pixel": lambda: Image(height=8, width=8, encoding="mono16", step=8, data=bytes(64)),
}


def stamp_of(index: int) -> Time:
    return Time(sec=STAMP_SEC, nanosec=index)


def index_of(stamp: Time) -> int | None:
    return stamp.nanosec if stamp.sec == STAMP_SEC else None


def keypoints_problems(message: Keypoints, width: int, height: int, max_keypoints: int) -> list[str]:
    """What is wrong with a Keypoints message for a ``width`` x ``height`` source image (empty when nothing).

    Coordinates must lie in the image's area, ``[-0.5, width - 0.5] x [-0.5, height - 0.5]`` ((0, 0) is the centre
    of the top-left pixel); every value finite; scores descending; descriptor rows of unit length.
    """
    count, dim = message.count, message.descriptor_dim
    if (message.image_width, message.image_height) != (width, height):
        return [f"image size {message.image_width}x{message.image_height}, sent {width}x{height}"]
    if count > max_keypoints or len(message.keypoints) != 2 * count or len(message.scores) != count:
        return [f"count {count} (K={max_keypoints}) with {len(message.keypoints)} coordinates, "
                f"{len(message.scores)} scores"]
    if dim != 128 or len(message.descriptors) != count * dim:
        return [f"{len(message.descriptors)} descriptor values for {count} keypoints of dimension {dim}"]
    keypoints = np.asarray(message.keypoints, dtype=np.float32).reshape(count, 2)
    scores = np.asarray(message.scores, dtype=np.float32)
    descriptors = np.asarray(message.descriptors, dtype=np.float32).reshape(count, dim)
    problems = []
    for name, values in (("keypoints", keypoints), ("scores", scores), ("descriptors", descriptors)):
        if not np.all(np.isfinite(values)):
            problems.append(f"non-finite {name}")
    if np.any(keypoints < -0.5) or np.any(keypoints > np.array([width - 0.5, height - 0.5], np.float32)):
        problems.append(f"keypoints outside the {width}x{height} image: {keypoints[:3].tolist()}...")
    if np.any(np.diff(scores) > 0):
        problems.append("scores not descending")
    if count and not np.allclose(np.linalg.norm(descriptors, axis=1), 1.0, atol=1e-3):
        problems.append("descriptor rows not of unit length")
    return problems


def source_picture(info: ModelInfo) -> np.ndarray:
    """A real photograph (scikit-image's astronaut) at twice the model's size, RGB: the node resizes every frame."""
    from skimage import data as skimage_data

    return cv2.resize(skimage_data.astronaut(), (2 * info.width, 2 * info.height), interpolation=cv2.INTER_AREA)


class ScenarioFrames:
    """The frames of a scenario: one photograph as rgb8, and every ``bad_every``-th frame a bad message, each kind of
    :data:`BAD_FRAMES` in turn. Messages are made once and re-stamped for each frame."""

    def __init__(self, picture: np.ndarray, bad_every: int) -> None:
        height, width = picture.shape[:2]
        self._good = Image(height=height, width=width, encoding="rgb8", step=3 * width, data=picture.tobytes())
        self._size = (width, height)
        self._bad = [make() for make in BAD_FRAMES.values()]
        self._bad_every = bad_every

    def frame(self, index: int) -> tuple[Image, tuple[int, int] | None]:
        """Frame ``index`` and the source size its keypoints must report (None: it must be rejected)."""
        if self._bad_every and index % self._bad_every == self._bad_every - 1:
            return self._bad[(index // self._bad_every) % len(self._bad)], None
        return self._good, self._size
