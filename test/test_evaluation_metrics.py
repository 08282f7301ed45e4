# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The metrics on cases with known answers: matching, RANSAC, tracks, HPatches measures, backend agreement."""

from __future__ import annotations

import numpy as np
import pytest

from disk_trt_ros.evaluation import metrics
from disk_trt_ros.evaluation.metrics import Geometry
from disk_trt_ros.inference import comparison

SIZE = (160, 128)  # (width, height)


def unit_rows(rng: np.random.Generator, count: int, dim: int = 128) -> np.ndarray:
    rows = rng.normal(size=(count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def random_points(rng: np.random.Generator, count: int) -> np.ndarray:
    return np.round(rng.uniform([0, 0], [SIZE[0] - 1, SIZE[1] - 1], size=(count, 2))).astype(np.float32)


KNOWN_HOMOGRAPHY = np.array([[0.95, -0.08, 9.0], [0.07, 1.02, -4.0], [1e-4, -2e-4, 1.0]])


def test_nearest_two_agrees_with_brute_force() -> None:
    rng = np.random.default_rng(0)
    queries, candidates = rng.normal(size=(1500, 5)), rng.normal(size=(40, 5))  # more rows than one chunk
    nearest, first, second = comparison.nearest_two(queries, candidates)
    distances = np.linalg.norm(queries[:, None] - candidates[None], axis=2)
    ordered = np.sort(distances, axis=1)
    np.testing.assert_array_equal(nearest, distances.argmin(axis=1))
    np.testing.assert_allclose(first, ordered[:, 0], atol=1e-9)
    np.testing.assert_allclose(second, ordered[:, 1], atol=1e-9)
    _, _, lone = comparison.nearest_two(queries[:3], candidates[:1])
    assert np.all(np.isinf(lone))


def test_mutual_nearest_neighbours_with_a_ratio_test_find_the_true_pairs_and_drop_ambiguous_ones() -> None:
    rng = np.random.default_rng(1)
    a = unit_rows(rng, 50)
    permutation = rng.permutation(50)
    b = a[permutation] + rng.normal(0, 0.01, (50, 128)).astype(np.float32)
    b[0] = b[1] + rng.normal(0, 0.001, 128).astype(np.float32)  # two near-identical rows: ambiguous
    matches = metrics.match_descriptors(a, b, ratio=0.9)
    assert all(permutation[j] == i for i, j in matches), "every match must be a true pair"
    assert {int(permutation[0]), int(permutation[1])}.isdisjoint(matches[:, 0]), "ambiguous rows must be dropped"
    assert len(matches) == 48
    assert len(metrics.match_descriptors(a, b, ratio=1.0)) >= 48
    assert metrics.match_descriptors(a[:0], b, ratio=0.9).shape == (0, 2)


def test_a_known_homography_is_recovered_and_its_outliers_rejected() -> None:
    rng = np.random.default_rng(2)
    points_a = random_points(rng, 200)
    descriptors_a = unit_rows(rng, 200)
    points_b = metrics.warp_points(points_a, KNOWN_HOMOGRAPHY).astype(np.float32)
    outliers = rng.choice(200, 40, replace=False)
    points_b[outliers] = random_points(rng, 40)  # matched descriptors, wrong places
    order = rng.permutation(200)
    pair = metrics.match_pair(points_a, descriptors_a, points_b[order], descriptors_a[order], Geometry.HOMOGRAPHY,
                              ratio=0.9, threshold_px=1.0)
    assert len(pair.matches) == 200
    inlier_rows = set(pair.matches[pair.inliers, 0].tolist())
    assert inlier_rows == set(range(200)) - set(outliers.tolist())
    assert pair.inlier_ratio == pytest.approx(0.8)
    assert metrics.corner_error(pair.model, KNOWN_HOMOGRAPHY, SIZE) < 0.01


def test_a_fundamental_matrix_is_fitted_to_a_3d_scene() -> None:
    rng = np.random.default_rng(3)
    scene = np.column_stack([rng.uniform(-1, 1, 100), rng.uniform(-1, 1, 100), rng.uniform(4, 8, 100)])
    camera = np.array([[100.0, 0, 80], [0, 100.0, 64], [0, 0, 1]])

    def project(points: np.ndarray) -> np.ndarray:
        pixels = points @ camera.T
        return (pixels[:, :2] / pixels[:, 2:]).astype(np.float32)

    angle = 0.1
    rotation = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    a, b = project(scene), project(scene @ rotation.T + [0.5, 0.1, 0.0])
    b[:10] += 25  # ten outliers
    model, inliers = metrics.fit_geometry(a, b, Geometry.FUNDAMENTAL, threshold_px=0.5)
    assert model is not None
    assert not inliers[:10].any() and inliers[10:].mean() > 0.95
    too_few_model, too_few_inliers = metrics.fit_geometry(a[:7], b[:7], Geometry.FUNDAMENTAL, 0.5)
    assert too_few_model is None and not too_few_inliers.any()


def test_identity_pairs_give_repeatability_one_full_accuracy_and_zero_corner_error() -> None:
    rng = np.random.default_rng(4)
    points, descriptors = random_points(rng, 150), unit_rows(rng, 150)
    pair = metrics.match_pair(points, descriptors, points, descriptors, Geometry.HOMOGRAPHY, 0.9, 3.0)
    assert metrics.repeatability(points, points, np.eye(3), SIZE, SIZE) == 1.0
    accuracy = metrics.matching_accuracy(points[pair.matches[:, 0]], points[pair.matches[:, 1]], np.eye(3), (1, 3, 5))
    assert accuracy == {1: 1.0, 3: 1.0, 5: 1.0}
    assert metrics.corner_error(pair.model, np.eye(3), SIZE) < 1e-6


def test_repeatability_counts_redetections_in_the_shared_region_only() -> None:
    a = np.array([[10, 10], [50, 50], [100, 60], [150, 120]], dtype=np.float32)
    shift = np.array([[1, 0, 40], [0, 1, 0], [0, 0, 1]], dtype=np.float64)  # b sees a moved 40 px right
    b = metrics.warp_points(a, shift).astype(np.float32)
    b[1] += [2.0, 2.0]  # 2.8 px off: repeated within 3 px, not within 2 px
    shared = 3 + 3  # a's last point lands at x=190, outside b (width 160); b's three points all land inside a
    assert metrics.repeatability(a, b[:3], shift, SIZE, SIZE, threshold_px=3.0) == pytest.approx(6 / shared)
    assert metrics.repeatability(a, b[:3], shift, SIZE, SIZE, threshold_px=2.0) == pytest.approx(4 / shared)
    assert metrics.repeatability(a[:0], b[:0], shift, SIZE, SIZE) is None


def test_matching_accuracy_thresholds_the_reprojection_error() -> None:
    a = np.zeros((4, 2), np.float32)
    b = np.array([[0.5, 0], [2, 0], [4, 0], [9, 0]], np.float32)
    assert metrics.matching_accuracy(a, b, np.eye(3), (1, 3, 5)) == {1: 0.25, 3: 0.5, 5: 0.75}
    assert metrics.matching_accuracy(a[:0], b[:0], np.eye(3), (1,)) is None


def test_tracks_follow_inlier_matches_through_the_frames() -> None:
    book = metrics.TrackBook()
    book.add_frame(3, None)  # keypoints 0, 1, 2
    book.add_frame(2, np.array([[0, 1], [2, 0]]))  # 0 -> 1, 2 -> 0
    book.add_frame(2, np.array([[1, 0]]))  # previous 1 (track of first 0) -> 0
    book.add_frame(1, np.empty((0, 2), np.int64))
    assert sorted(book.lengths().tolist()) == [2, 3]


def test_agreement_is_full_for_identical_features_and_low_for_another_model() -> None:
    rng = np.random.default_rng(5)
    points, scores, descriptors = random_points(rng, 64), np.sort(rng.random(64))[::-1], unit_rows(rng, 64)
    same = comparison.agreement(points, scores, descriptors, points[::-1], scores[::-1], descriptors[::-1], 1.0)
    assert (same.overlap, same.matched) == (1.0, 64)
    assert same.descriptor_cosine_min == pytest.approx(1.0) and same.score_max_abs_diff == 0.0
    other = comparison.agreement(points, scores, descriptors, random_points(rng, 64), scores, unit_rows(rng, 64), 1.0)
    assert other.overlap < 0.2
    empty = points[:0], scores[:0], descriptors[:0]
    assert comparison.agreement(*empty, *empty, 1.0).overlap == 1.0


def test_summary_skips_missing_values() -> None:
    result = metrics.summary([1.0, None, 3.0, 2.0])
    assert result["count"] == 3 and result["p50"] == 2.0 and result["max"] == 3.0
    assert metrics.summary([None])["mean"] is None
