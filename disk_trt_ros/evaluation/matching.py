# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``eval --matcher``: a matcher (mutual nearest neighbours, or LightGlue) run on each pair of consecutive frames,
and the quality of its matches: how many per pair, the fraction RANSAC keeps (inlier ratio) and, where the bag has
ground-truth homographies, the precision: the fraction of matches whose reprojection error under the true
homography is within 1, 3 and 5 px.

This is the matcher the matcher node runs (:func:`~disk_trt_ros.inference.feature_matching.match_features`), on
the extractor's features in the source frame; ``eval``'s own matching (mutual nearest neighbours with a ratio test,
:func:`~disk_trt_ros.evaluation.metrics.match_descriptors`) is reported beside it as before.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from disk_trt_ros.evaluation import metrics
from disk_trt_ros.evaluation.options import EvalOptions, EvaluationSettings
from disk_trt_ros.inference.base import BackendOptions, Features, Matcher, MatcherOptions
from disk_trt_ros.inference.feature_matching import match_features
from disk_trt_ros.inference.registry import create_matcher

CORRECT_THRESHOLD_PX = 3.0  # a drawn match is correct within this reprojection error


@dataclasses.dataclass(frozen=True)
class MatcherPair:
    """The matcher's matches of one frame pair and their verdicts.

    Attributes:
        matches: int64 ``[M, 2]`` (index in the previous frame, index in this one).
        inliers: bool ``[M]``, the matches RANSAC keeps.
        correct: bool ``[M]``, within :data:`CORRECT_THRESHOLD_PX` of the true homography; None without one.
        record: the pair's numbers for the frame record (``matcher_*`` keys and ``matching_ms``).
    """

    matches: np.ndarray
    inliers: np.ndarray
    correct: np.ndarray | None
    record: dict[str, Any]


def open_matcher(options: EvalOptions) -> Matcher:
    """The matcher ``options.matching`` asks for, with ``eval``'s threads and precision (LightGlue's engine)."""
    matching = options.matching
    assert matching is not None, "open_matcher needs EvalOptions with matching options"
    matcher_options = MatcherOptions(
        model=Path(matching.model) if matching.model else None,
        backend=BackendOptions(precision=options.precision, threads=options.threads),
        mnn=matching.mnn,
    )
    return create_matcher(matching.method, matching.backend, matcher_options)


def match_frames(
    matcher: Matcher,
    features_a: Features,
    size_a: tuple[int, int],
    features_b: Features,
    size_b: tuple[int, int],
    settings: EvaluationSettings,
    homography: np.ndarray | None,
) -> MatcherPair:
    """Match frame a's features with frame b's (keypoints in their source images of ``(width, height)`` sizes) and
    judge the matches: RANSAC, and the true ``homography`` from a to b when the bag has it."""
    begin = time.perf_counter()
    pairs, _ = match_features(matcher, features_a, size_a, features_b, size_b)
    elapsed_ms = (time.perf_counter() - begin) * 1e3
    matches = pairs.astype(np.int64)
    points_a = features_a.keypoints[matches[:, 0]]
    points_b = features_b.keypoints[matches[:, 1]]
    _, inliers = metrics.fit_geometry(points_a, points_b, settings.geometry, settings.ransac_threshold_px)
    record: dict[str, Any] = {
        "matcher_matches": len(matches),
        "matcher_inliers": int(inliers.sum()),
        "matcher_inlier_ratio": float(inliers.mean()) if len(matches) else None,
        "matching_ms": elapsed_ms,
    }
    correct = None
    if homography is not None:
        errors = metrics.reprojection_errors(points_a, points_b, homography)
        correct = errors <= CORRECT_THRESHOLD_PX
        for threshold in metrics.MMA_THRESHOLDS_PX:
            record[f"matcher_precision_{threshold:g}px"] = float((errors <= threshold).mean()) if len(matches) else None
    return MatcherPair(matches, inliers, correct, record)


def matching_summary(records: Sequence[dict[str, Any]], description: str) -> dict[str, Any]:
    """The report's matching section: the matcher, and statistics of its frame records' numbers."""

    def column(key: str) -> list[Any]:
        return [record.get(key) for record in records if "matcher_matches" in record]

    ground_truth = [record for record in records if "matcher_precision_1px" in record]
    result: dict[str, Any] = {
        "matcher": description,
        "pairs": len(column("matcher_matches")),
        "matches": metrics.summary(column("matcher_matches")),
        "inliers": metrics.summary(column("matcher_inliers")),
        "inlier_ratio": metrics.summary(column("matcher_inlier_ratio")),
        "ground_truth_pairs": len(ground_truth),
    }
    for threshold in metrics.MMA_THRESHOLDS_PX:
        key = f"precision_{threshold:g}px"
        result[key] = metrics.summary(record[f"matcher_{key}"] for record in ground_truth)["mean"]
    return result
