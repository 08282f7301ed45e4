# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m disk_trt_ros make-sample-bag``: a camera sequence over real photographs, with ground truth.

The photographs are laid side by side on one plane (a poster wall); a virtual camera pans along it while it
zooms, rolls and tilts slightly, all as smooth functions of time, and each frame gets a little blur and sensor
noise. Each frame's homography from the wall to the frame is stored as ground truth, following the convention of
:mod:`disk_trt_ros.evaluation.bag_io`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from disk_trt_ros.cli_arguments import integer, number, output_path
from disk_trt_ros.errors import BagError
from disk_trt_ros.evaluation.bag_io import (
    COMPRESSED_IMAGE_TYPE,
    COMPRESSED_SUFFIX,
    HOMOGRAPHY_TYPE,
    IMAGE_TYPE,
    BagFormat,
    BagWriter,
    ground_truth_topic,
    homography_message,
    rgb8_image_message,
)
from disk_trt_ros.photos import load_photos

DEFAULT_TOPIC = "/camera/image_raw"
FIRST_STAMP_NS = 1_700_000_000 * 1_000_000_000  # fixed, so that the same arguments make the same bag

WALL_HEIGHT_PER_FRAME_HEIGHT = 1.6  # the wall is this many frame heights tall
PAN_PER_FRAME = 0.05  # fastest pan, in frame widths per frame
MAX_ROLL_DEG = 8.0
ZOOM_RANGE = 1.25  # closest zoom over farthest
MAX_TILT = 0.03  # perspective foreshortening at the frame's edge, relative
ROLL_PERIOD, ZOOM_PERIOD, TILT_PERIODS = 90.0, 70.0, (110.0, 130.0)  # frames
MAX_BLUR_SIGMA_PX = 0.8
NOISE_SIGMA = 2.0  # gray levels
MIN_SIDE, MAX_SIDE = 16, 8192  # frame width and height, pixels
MAX_FRAMES, MAX_FPS = 100_000, 1000.0


@dataclasses.dataclass(frozen=True)
class CameraPose:
    """Where the virtual camera looks on the wall at one instant.

    Attributes:
        centre: (x, y) wall position seen at the frame's centre.
        zoom: frame pixels per wall pixel.
        roll: rotation about the optical axis, radians.
        tilt: (x, y) perspective terms, relative foreshortening per frame pixel from the centre.
    """

    centre: tuple[float, float]
    zoom: float
    roll: float
    tilt: tuple[float, float]

    def wall_to_frame(self, frame_size: tuple[int, int]) -> np.ndarray:
        """3x3 homography from wall pixels to the pixels of a frame of ``frame_size = (width, height)``."""
        width, height = frame_size
        to_centre = np.array([[1, 0, -self.centre[0]], [0, 1, -self.centre[1]], [0, 0, 1]], dtype=np.float64)
        cos, sin = math.cos(self.roll), math.sin(self.roll)
        rotate_scale = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]]) * np.array([[self.zoom], [self.zoom], [1]])
        tilt = np.array([[1, 0, 0], [0, 1, 0], [self.tilt[0], self.tilt[1], 1]], dtype=np.float64)
        to_frame = np.array([[1, 0, (width - 1) / 2], [0, 1, (height - 1) / 2], [0, 0, 1]], dtype=np.float64)
        return to_frame @ tilt @ rotate_scale @ to_centre


def build_wall(photos: Sequence[np.ndarray], height: int) -> np.ndarray:
    """The photographs scaled to ``height`` pixels and placed side by side: RGB uint8 ``[height, W, 3]``."""
    scaled = []
    for photo in photos:
        width = max(1, round(photo.shape[1] * height / photo.shape[0]))
        interpolation = cv2.INTER_AREA if height < photo.shape[0] else cv2.INTER_CUBIC
        scaled.append(cv2.resize(photo, (width, height), interpolation=interpolation))
    return np.concatenate(scaled, axis=1)


def camera_path(wall_size: tuple[int, int], frame_size: tuple[int, int], frames: int) -> list[CameraPose]:
    """Smooth camera poses: a back-and-forth pan along the wall, with zoom, roll and tilt oscillating.

    The zoom never lets the frame's footprint leave the wall's height, and the pan keeps it inside the wall.
    """
    wall_width, wall_height = wall_size
    width, height = frame_size
    roll_max = math.radians(MAX_ROLL_DEG)
    footprint_height = height * math.cos(roll_max) + width * math.sin(roll_max)
    zoom_min = footprint_height * (1 + 2 * MAX_TILT) / (0.95 * wall_height)
    zoom_max = zoom_min * ZOOM_RANGE
    footprint_width = (width * math.cos(roll_max) + height * math.sin(roll_max)) * (1 + 2 * MAX_TILT) / zoom_min
    footprint_half_width = footprint_width / 2
    x_min, x_max = footprint_half_width, wall_width - footprint_half_width
    if x_max <= x_min:
        raise BagError(
            f"the photographs are too narrow for a {width}x{height} frame; give more photographs or wider ones"
        )
    # x(t) = x_min + span (1 - cos(2 pi t / T)) / 2 moves at most span pi / T wall pixels per frame.
    pan_period = max(2.0, (x_max - x_min) * math.pi * zoom_max / (PAN_PER_FRAME * width))
    poses = []
    for t in range(frames):
        zoom_phase = (1 - math.cos(2 * math.pi * t / ZOOM_PERIOD)) / 2
        zoom = zoom_min + (zoom_max - zoom_min) * zoom_phase
        vertical_room = max(0.0, (wall_height - footprint_height * (1 + 2 * MAX_TILT) / zoom) / 2)
        poses.append(
            CameraPose(
                centre=(
                    x_min + (x_max - x_min) * (1 - math.cos(2 * math.pi * t / pan_period)) / 2,
                    wall_height / 2 + 0.5 * vertical_room * math.sin(2 * math.pi * t / ZOOM_PERIOD),
                ),
                zoom=zoom,
                roll=roll_max * math.sin(2 * math.pi * t / ROLL_PERIOD),
                tilt=(
                    MAX_TILT / (width / 2) * math.sin(2 * math.pi * t / TILT_PERIODS[0]),
                    MAX_TILT / (height / 2) * math.sin(2 * math.pi * t / TILT_PERIODS[1]),
                ),
            )
        )
    return poses


def render_frame(
    wall: np.ndarray, wall_to_frame: np.ndarray, frame_size: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """The camera's view of the wall: RGB uint8 ``[height, width, 3]`` with a little blur and noise."""
    frame = cv2.warpPerspective(wall, wall_to_frame, frame_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    sigma = rng.uniform(0.0, MAX_BLUR_SIGMA_PX)
    if sigma > 0.1:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    noisy = frame.astype(np.float32) + rng.normal(0.0, NOISE_SIGMA, frame.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def write_sample_bag(
    out: Path,
    photos: Sequence[np.ndarray],
    *,
    frames: int,
    fps: float,
    width: int,
    height: int,
    bag_format: BagFormat,
    topic: str = DEFAULT_TOPIC,
    compressed: bool = False,
    seed: int = 0,
    overwrite: bool = False,
) -> None:
    """Write the sequence as ``sensor_msgs/Image`` rgb8 on ``topic`` (and JPEG on ``topic/compressed``).

    Header stamps and bag timestamps start at a fixed instant and advance by ``1/fps``; each frame's ground-truth
    homography is written on :func:`~disk_trt_ros.evaluation.bag_io.ground_truth_topic` with the same timestamp.
    """
    if frames < 1 or not 0 < fps < math.inf or width < MIN_SIDE or height < MIN_SIDE:
        raise BagError(
            f"need frames >= 1, a finite fps > 0 and a frame of at least {MIN_SIDE}x{MIN_SIDE}; got {frames} frames, "
            f"{fps} fps, {width}x{height}"
        )
    wall = build_wall(photos, round(WALL_HEIGHT_PER_FRAME_HEIGHT * height))
    poses = camera_path((wall.shape[1], wall.shape[0]), (width, height), frames)
    rng = np.random.default_rng(seed)
    with BagWriter(out, bag_format, overwrite=overwrite) as bag:
        image_topic = bag.add_topic(topic, IMAGE_TYPE)
        truth_topic = bag.add_topic(ground_truth_topic(topic), HOMOGRAPHY_TYPE)
        jpeg_topic = bag.add_topic(topic + COMPRESSED_SUFFIX, COMPRESSED_IMAGE_TYPE) if compressed else None
        types = bag.typestore.types
        for index, pose in enumerate(poses):
            stamp = FIRST_STAMP_NS + round(index * 1e9 / fps)
            homography = pose.wall_to_frame((width, height))
            frame = render_frame(wall, homography, (width, height), rng)
            image = rgb8_image_message(bag.typestore, stamp, "camera", frame)
            bag.write(image_topic, stamp, image)
            bag.write(truth_topic, stamp, homography_message(bag.typestore, homography))
            if jpeg_topic is not None:
                _, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
                jpeg_message = types[COMPRESSED_IMAGE_TYPE](header=image.header, format="jpeg", data=jpeg.reshape(-1))
                bag.write(jpeg_topic, stamp, jpeg_message)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``make-sample-bag``'s arguments to ``parser`` (called by :mod:`disk_trt_ros.cli`'s registry)."""
    parser.add_argument(
        "--out", type=output_path, required=True, help="bag to write: a directory, or a .bag file for ROS 1"
    )
    parser.add_argument(
        "--images", type=Path, help="directory of JPEG/PNG photographs (default: scikit-image's sample photos)"
    )
    parser.add_argument("--frames", type=integer(1, MAX_FRAMES), default=60, help="number of frames (default 60)")
    parser.add_argument(
        "--fps", type=number(0.0, MAX_FPS, above_low=True), default=10.0, help="frame rate of the stamps (default 10)"
    )
    side = integer(MIN_SIDE, MAX_SIDE)
    parser.add_argument("--width", type=side, default=640, help="frame width in pixels (default 640)")
    parser.add_argument("--height", type=side, default=480, help="frame height in pixels (default 480)")
    parser.add_argument(
        "--format", choices=[f.value for f in BagFormat], default=BagFormat.SQLITE3.value,
        help="rosbag2 storage (sqlite3, mcap) or a ROS 1 bag (default sqlite3)",
    )
    parser.add_argument("--topic", default=DEFAULT_TOPIC, help=f"image topic (default {DEFAULT_TOPIC})")
    parser.add_argument("--compressed", action="store_true", help="also write JPEG CompressedImage on TOPIC/compressed")
    parser.add_argument(
        "--seed", type=integer(0, 2**64 - 1), default=0, help="seed of the blur and noise (default 0)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")


def main(args: argparse.Namespace) -> int:
    """Run ``make-sample-bag`` with the parsed ``args``; the exit status."""
    photos = load_photos(args.images)
    write_sample_bag(
        args.out, photos, frames=args.frames, fps=args.fps, width=args.width, height=args.height,
        bag_format=BagFormat(args.format), topic=args.topic, compressed=args.compressed, seed=args.seed,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.frames} frames ({args.width}x{args.height}, {len(photos)} photographs) to {args.out}")
    return 0
