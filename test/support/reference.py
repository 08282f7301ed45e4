# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""kornia's DISK as the numerical reference, and the export issue's criteria for agreeing with it (imports PyTorch)."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from kornia.feature import DISK

from disk_trt_ros.contract import ModelInfo
from disk_trt_ros.inference.base import Features


def kornia_features(disk: DISK, rgb: np.ndarray, info: ModelInfo) -> Features:
    """kornia's DISK on an RGB uint8 image (as float in [0, 1]), with the model's K, window and threshold."""
    images = torch.from_numpy(rgb).to(torch.float32).div(255.0).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        results = disk(images, n=info.max_keypoints, window_size=info.nms_window, score_threshold=info.score_threshold)
    result = results[0]
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
        return (
            f"{self.count_a} vs {self.count_b} keypoints; only in ours (x, y, score): {self.only_a[:10]}; "
            f"only in reference: {self.only_b[:10]}"
        )


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


def assert_matches_reference(
    ours: Features, reference: Features, info: ModelInfo, tolerance: float = 1e-4
) -> Agreement:
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
