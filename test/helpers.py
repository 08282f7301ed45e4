"""Shared test helpers: photos from ../shared, kornia's DISK as the reference, keypoint-set comparison."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import cv2
import numpy as np
import pytest
import torch
from kornia.feature import DISK

from disk_trt_ros.contract import InputFormat, ModelInfo
from disk_trt_ros.inference.base import Features

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
PHOTO_DIR = SHARED_DIR / "data" / "images"

T = TypeVar("T")


def shared_photo_paths() -> list[Path]:
    """The real photographs in ../shared/data/images; skips the calling test when they are absent."""
    paths = sorted(p for p in PHOTO_DIR.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        pytest.skip(f"no photographs in {PHOTO_DIR} (../shared is absent)")
    return paths


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


@contextlib.contextmanager
def spinning(node: Any, context: Any, shutdown_timeout: float = 2.0) -> Iterator[Any]:
    """Spin an rclpy ``node`` on its own executor thread while the block runs; then stop it and destroy the node."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        yield node
    finally:
        executor.shutdown(timeout_sec=shutdown_timeout)
        node.destroy_node()


def spin_until(executor: Any, condition: Callable[[], T], timeout: float, what: str) -> T:
    """Spin an rclpy executor until ``condition()`` is truthy and return it; AssertionError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        executor.spin_once(timeout_sec=0.05)
    return result


def kornia_features(disk: DISK, rgb: np.ndarray, info: ModelInfo) -> Features:
    """kornia's DISK on an RGB uint8 image (as float in [0, 1]), with the model's K, window and threshold."""
    images = torch.from_numpy(rgb).to(torch.float32).div(255.0).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        result = disk(images, n=info.max_keypoints, window_size=info.nms_window, score_threshold=info.score_threshold)[0]
    return Features(result.keypoints.numpy(), result.detection_scores.numpy(), result.descriptors.numpy())


@dataclasses.dataclass
class Agreement:
    """How two keypoint sets on the same image agree."""

    count_a: int
    count_b: int
    only_a: list[tuple[int, int, float]]
    only_b: list[tuple[int, int, float]]
    max_score_difference: float
    min_descriptor_cosine: float

    @property
    def differing(self) -> int:
        return len(self.only_a) + len(self.only_b)

    def explain(self) -> str:
        return f"{self.count_a} vs {self.count_b} keypoints; only in ours (x, y, score): {self.only_a[:10]}; only in reference: {self.only_b[:10]}"


def agreement(a: Features, b: Features) -> Agreement:
    """Compare keypoint sets by pixel; scores and descriptors are compared on the shared keypoints."""
    index_a = {(int(x), int(y)): i for i, (x, y) in enumerate(a.keypoints)}
    index_b = {(int(x), int(y)): i for i, (x, y) in enumerate(b.keypoints)}
    shared = sorted(set(index_a) & set(index_b))
    rows_a = [index_a[k] for k in shared]
    rows_b = [index_b[k] for k in shared]
    score_difference = float(np.abs(a.scores[rows_a] - b.scores[rows_b]).max()) if shared else 0.0
    cosine = float((a.descriptors[rows_a] * b.descriptors[rows_b]).sum(axis=1).min()) if shared else 1.0
    return Agreement(
        count_a=a.count,
        count_b=b.count,
        only_a=[(x, y, float(a.scores[index_a[(x, y)]])) for x, y in sorted(set(index_a) - set(index_b))],
        only_b=[(x, y, float(b.scores[index_b[(x, y)]])) for x, y in sorted(set(index_b) - set(index_a))],
        max_score_difference=score_difference,
        min_descriptor_cosine=cosine,
    )


def assert_matches_reference(ours: Features, reference: Features, info: ModelInfo, tolerance: float = 1e-4) -> Agreement:
    """The export issue's criteria: same set up to 0.1% of K float ties, scores within 1e-4, cosine >= 0.9999.

    Each differing keypoint must be explained as a float tie: either its score lies within ``tolerance`` of the
    weakest kept score (a tie at the K cut), or the other set has a differing keypoint inside the same NMS window
    whose score is within ``tolerance`` (two neighbours whose order rounding decided).
    """
    result = agreement(ours, reference)
    allowed = int(0.001 * info.max_keypoints)
    assert result.differing <= allowed, result.explain()
    cut = float(min(ours.scores.min(), reference.scores.min())) if ours.count and reference.count else 0.0
    for side, other in ((result.only_a, result.only_b), (result.only_b, result.only_a)):
        for x, y, score in side:
            at_cut = result.count_a == info.max_keypoints and abs(score - cut) <= tolerance
            swapped = any(
                max(abs(x - ox), abs(y - oy)) < info.nms_window and abs(score - other_score) <= tolerance
                for ox, oy, other_score in other
            )
            assert at_cut or swapped, f"({x}, {y}, {score}) is not a float tie: {result.explain()}"
    assert result.max_score_difference <= tolerance, result.explain()
    assert result.min_descriptor_cosine >= 0.9999, result.explain()
    return result
