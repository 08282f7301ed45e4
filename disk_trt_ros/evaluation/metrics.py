# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Quality metrics of keypoints and descriptors: matching, geometry, tracks, HPatches measures.

Backend agreement and nearest neighbours are in :mod:`disk_trt_ros.inference.comparison`.

Everything here is numpy and OpenCV on arrays; nothing knows about bags or backends. OpenCV's random number
generator (process state) is touched only by :func:`fit_geometry`, which seeds it before each fit.

Conventions: keypoints are float ``[N, 2]`` (x, y) pixel positions with (0, 0) the centre of the top-left pixel;
descriptors are float32 ``[N, D]`` with L2-normalised rows; ``H_ab`` is a 3x3 homography taking pixel positions
of image a to image b; matches are int64 ``[M, 2]`` index pairs (index into a, index into b).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Iterable, Sequence

import cv2
import numpy as np

from disk_trt_ros.inference.comparison import nearest_two

MMA_THRESHOLDS_PX: tuple[float, ...] = (1.0, 3.0, 5.0)


class Geometry(str, enum.Enum):
    """The two-view model RANSAC fits to matches."""

    HOMOGRAPHY = "homography"
    FUNDAMENTAL = "fundamental"

    @property
    def min_matches(self) -> int:
        return 4 if self is Geometry.HOMOGRAPHY else 8


@dataclasses.dataclass(frozen=True)
class PairMatches:
    """Matches between two frames and the RANSAC verdict on them.

    Attributes:
        matches: int64 ``[M, 2]`` mutual nearest neighbours that passed the ratio test.
        inliers: bool ``[M]``, True where the match agrees with ``model``; all False when no model was found.
        model: the fitted 3x3 homography (a to b) or fundamental matrix, or None (too few matches, RANSAC failed).
    """

    matches: np.ndarray
    inliers: np.ndarray
    model: np.ndarray | None

    @property
    def inlier_count(self) -> int:
        return int(self.inliers.sum())

    @property
    def inlier_ratio(self) -> float | None:
        """Inliers over matches; None without matches."""
        return self.inlier_count / len(self.matches) if len(self.matches) else None

    @property
    def inlier_matches(self) -> np.ndarray:
        return self.matches[self.inliers]


def match_descriptors(descriptors_a: np.ndarray, descriptors_b: np.ndarray, ratio: float) -> np.ndarray:
    """Mutual nearest neighbours in descriptor space that also pass Lowe's ratio test (both directions).

    A pair (i, j) is kept when j is i's nearest neighbour, i is j's, and in both directions the nearest distance
    is below ``ratio`` times the second-nearest. ``ratio=1`` disables the test. Returns int64 ``[M, 2]``.
    """
    if len(descriptors_a) == 0 or len(descriptors_b) == 0:
        return np.empty((0, 2), dtype=np.int64)
    forward, forward_first, forward_second = nearest_two(descriptors_a, descriptors_b)
    backward, backward_first, backward_second = nearest_two(descriptors_b, descriptors_a)
    rows = np.arange(len(descriptors_a))
    mutual = backward[forward] == rows
    distinct_forward = forward_first < ratio * forward_second
    distinct_backward = (backward_first < ratio * backward_second)[forward]
    keep = mutual & distinct_forward & distinct_backward
    return np.stack([rows[keep], forward[keep]], axis=1).astype(np.int64)


def fit_geometry(
    points_a: np.ndarray, points_b: np.ndarray, geometry: Geometry, threshold_px: float, seed: int = 0
) -> tuple[np.ndarray | None, np.ndarray]:
    """Fit a homography or fundamental matrix to corresponding points with RANSAC.

    Args:
        points_a, points_b: float ``[M, 2]`` corresponding (x, y) positions.
        geometry: the model to fit.
        threshold_px: RANSAC inlier threshold (reprojection error for a homography, distance to the epipolar
            line for a fundamental matrix), in pixels.
        seed: seeds OpenCV's RNG (``cv2.setRNGSeed``, the calling thread's generator) before the fit, so that
            repeated runs give the same inliers; this function owns that state and leaves it seeded.

    Returns:
        ``(model, inliers)``: the 3x3 model or None, and bool ``[M]`` inliers (all False without a model).
    """
    inliers = np.zeros(len(points_a), dtype=bool)
    if len(points_a) < geometry.min_matches:
        return None, inliers
    cv2.setRNGSeed(seed)
    a = np.ascontiguousarray(points_a, dtype=np.float64)
    b = np.ascontiguousarray(points_b, dtype=np.float64)
    if geometry is Geometry.HOMOGRAPHY:
        model, mask = cv2.findHomography(a, b, cv2.RANSAC, threshold_px, maxIters=2000, confidence=0.999)
    else:
        model, mask = cv2.findFundamentalMat(a, b, cv2.FM_RANSAC, threshold_px, 0.999, 2000)
    if model is None or mask is None or model.shape != (3, 3):
        return None, inliers
    return model, mask.reshape(-1).astype(bool)


def match_pair(
    keypoints_a: np.ndarray,
    descriptors_a: np.ndarray,
    keypoints_b: np.ndarray,
    descriptors_b: np.ndarray,
    geometry: Geometry,
    ratio: float,
    threshold_px: float,
) -> PairMatches:
    """Match two frames' descriptors and verify the matches geometrically."""
    matches = match_descriptors(descriptors_a, descriptors_b, ratio)
    model, inliers = fit_geometry(keypoints_a[matches[:, 0]], keypoints_b[matches[:, 1]], geometry, threshold_px)
    return PairMatches(matches=matches, inliers=inliers, model=model)


class TrackBook:
    """Keypoint tracks over a sequence of frames, continued through each pair's inlier matches.

    A keypoint matched (as an inlier) to a keypoint of the previous frame continues that keypoint's track; any
    other keypoint starts a new one. A track's length is the number of frames it spans.
    """

    def __init__(self) -> None:
        self._previous_tracks = np.empty(0, dtype=np.int64)
        self._lengths: list[int] = []

    def add_frame(self, keypoint_count: int, inlier_matches: np.ndarray | None) -> None:
        """Add the next frame.

        Args:
            keypoint_count: number of keypoints in the new frame.
            inlier_matches: int64 ``[M, 2]`` (index in the previous frame, index in this one), or None when the
                frame does not continue the previous one (the first frame, or after a gap).
        """
        tracks = np.full(keypoint_count, -1, dtype=np.int64)
        if inlier_matches is not None and len(inlier_matches):
            tracks[inlier_matches[:, 1]] = self._previous_tracks[inlier_matches[:, 0]]
            for track in tracks[inlier_matches[:, 1]]:
                self._lengths[track] += 1
        new = np.flatnonzero(tracks < 0)
        tracks[new] = np.arange(len(self._lengths), len(self._lengths) + len(new))
        self._lengths.extend([1] * len(new))
        self._previous_tracks = tracks

    def lengths(self) -> np.ndarray:
        """int64 ``[T]`` length in frames of every track that spans at least two frames."""
        lengths = np.asarray(self._lengths, dtype=np.int64)
        return lengths[lengths >= 2]


def warp_points(points: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homography to float ``[N, 2]`` (x, y) points; returns float64 ``[N, 2]``."""
    homogeneous = np.concatenate([points.astype(np.float64), np.ones((len(points), 1))], axis=1) @ homography.T
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def inside_image(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool ``[N]``: whether (x, y) points lie on the image's area ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.

    ``size`` is ``(width, height)``.
    """
    width, height = size
    return (
        (points[:, 0] >= -0.5) & (points[:, 0] <= width - 0.5) & (points[:, 1] >= -0.5) & (points[:, 1] <= height - 0.5)
    )


def repeatability(
    keypoints_a: np.ndarray,
    keypoints_b: np.ndarray,
    homography_ab: np.ndarray,
    size_a: tuple[int, int],
    size_b: tuple[int, int],
    threshold_px: float = 3.0,
) -> float | None:
    """Fraction of keypoints re-detected in the other image, over the region both images see (SuperPoint's form).

    Keypoints of a are warped into b and those of b into a; only keypoints whose warp lands inside the other image
    count. A keypoint is repeated when the other image has a keypoint within ``threshold_px`` of it (measured in
    b's frame). Repeatability = (repeated in a + repeated in b) / (counted in a + counted in b); None when no
    keypoint lies in the shared region.
    """
    warped_a = warp_points(keypoints_a, homography_ab)
    shared_a = inside_image(warped_a, size_b)
    shared_b = inside_image(warp_points(keypoints_b, np.linalg.inv(homography_ab)), size_a)
    points_a, points_b = warped_a[shared_a], keypoints_b[shared_b].astype(np.float64)
    total = len(points_a) + len(points_b)
    if total == 0:
        return None
    if len(points_a) == 0 or len(points_b) == 0:
        return 0.0
    _, distance_a, _ = nearest_two(points_a, points_b)
    _, distance_b, _ = nearest_two(points_b, points_a)
    return float(((distance_a <= threshold_px).sum() + (distance_b <= threshold_px).sum()) / total)


def matching_accuracy(
    matched_a: np.ndarray, matched_b: np.ndarray, homography_ab: np.ndarray, thresholds_px: Sequence[float]
) -> dict[float, float] | None:
    """Fraction of matches whose reprojection error under the true homography is within each threshold.

    Args:
        matched_a, matched_b: float ``[M, 2]`` positions of the matched keypoints in a and b.
        homography_ab: ground-truth homography from a to b.
        thresholds_px: error thresholds in pixels (the HPatches protocol uses 1 to 10; MMA at 1/3/5 px here).

    Returns:
        threshold -> fraction of correct matches, or None without matches.
    """
    if len(matched_a) == 0:
        return None
    errors = reprojection_errors(matched_a, matched_b, homography_ab)
    return {threshold: float((errors <= threshold).mean()) for threshold in thresholds_px}


def reprojection_errors(matched_a: np.ndarray, matched_b: np.ndarray, homography_ab: np.ndarray) -> np.ndarray:
    """float64 ``[M]``: the distance in b between each match's b position and its a position warped by the true
    homography."""
    return np.linalg.norm(warp_points(matched_a, homography_ab) - matched_b, axis=1)


def image_corners(size: tuple[int, int]) -> np.ndarray:
    """float64 ``[4, 2]`` centres of the corner pixels of an image of ``size = (width, height)``."""
    width, height = size
    return np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)


def corner_error(estimated_ab: np.ndarray, homography_ab: np.ndarray, size_a: tuple[int, int]) -> float:
    """Mean distance in pixels between image a's four corners warped by the estimated and the true homography."""
    corners = image_corners(size_a)
    errors = warp_points(corners, estimated_ab) - warp_points(corners, homography_ab)
    return float(np.linalg.norm(errors, axis=1).mean())


def summary(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """count, mean, min, p50, p95, p99 and max of the values that are not None (all None when there are none)."""
    present = np.array([value for value in values if value is not None], dtype=np.float64)
    if present.size == 0:
        return {"count": 0, "mean": None, "min": None, "p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(present, [50, 95, 99])
    return {
        "count": int(present.size),
        "mean": float(present.mean()),
        "min": float(present.min()),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(present.max()),
    }
