# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``~/debug_image``: the model's input with its keypoints drawn, at a limited rate."""

from __future__ import annotations

import time
from array import array
from typing import Callable

import cv2
import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from disk_trt_ros.contract import InputFormat

KEYPOINT_COLOUR_BGR = (0, 255, 0)


def draw_keypoints(image: np.ndarray, input_format: InputFormat, keypoints: np.ndarray) -> np.ndarray:
    """A bgr8 copy of the model input ``image`` (uint8 ``[H, W, C]``) with a circle at each ``[N, 2]`` (x, y)."""
    canvas = np.ascontiguousarray(image[..., list(input_format.rgb_channels[::-1])])
    for x, y in np.rint(keypoints).astype(np.int32):
        cv2.circle(canvas, (int(x), int(y)), 2, KEYPOINT_COLOUR_BGR, thickness=1)
    return canvas


def bgr8_message(image: np.ndarray, header: Header) -> Image:
    """A ``sensor_msgs/Image`` (bgr8) holding the uint8 ``[H, W, 3]`` ``image``."""
    height, width = image.shape[:2]
    message = Image(height=height, width=width, encoding="bgr8", is_bigendian=0, step=width * 3, header=header)
    message.data = array("B", np.ascontiguousarray(image).tobytes())  # rclpy's own type: no per-byte checks
    return message


class RateLimiter:
    """Lets an event through at most ``max_rate_hz`` times a second (every time when ``max_rate_hz`` is 0)."""

    def __init__(self, max_rate_hz: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._period = 1.0 / max_rate_hz if max_rate_hz > 0 else 0.0
        self._clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        """True (and the period restarts) when the event may happen now."""
        now = self._clock()
        if self._last is not None and now - self._last < self._period:
            return False
        self._last = now
        return True
