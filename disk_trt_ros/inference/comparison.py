# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Comparing two sets of features of one image: nearest neighbours, and how closely keypoints and descriptors agree.

numpy only. ``bench --compare kornia`` and ``eval --reference`` measure backend agreement with :func:`agreement`;
the evaluation metrics match descriptors with :func:`nearest_two`.

Conventions: keypoints are float ``[N, 2]`` (x, y) pixel positions; descriptors float32 ``[N, D]`` with
L2-normalised rows; index pairs are int64 ``[M, 2]`` (index into the first set, index into the second).
"""

from __future__ import annotations

import dataclasses

import numpy as np

_CHUNK_ROWS = 1024  # rows of a distance matrix computed at once: 1024 x 8192 float32 is 32 MiB


def nearest_two(queries: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each query's nearest and second-nearest candidate under the Euclidean distance.

    Args:
        queries: float ``[N, D]``.
        candidates: float ``[M, D]`` with M >= 1.

    Returns:
        ``(nearest [N] int64, nearest_distance [N], second_distance [N])`` as float64 distances; the second
        distance is +inf when there is only one candidate.
    """
    dtype = np.result_type(queries.dtype, candidates.dtype, np.float32)
    queries = queries.astype(dtype, copy=False)
    candidates = candidates.astype(dtype, copy=False)
    candidate_norms = np.einsum("ij,ij->i", candidates, candidates)
    nearest = np.empty(len(queries), dtype=np.int64)
    first = np.empty(len(queries), dtype=np.float64)
    second = np.full(len(queries), np.inf, dtype=np.float64)
    for start in range(0, len(queries), _CHUNK_ROWS):
        block = queries[start : start + _CHUNK_ROWS]
        squared = candidate_norms[None, :] - 2.0 * block @ candidates.T + np.einsum("ij,ij->i", block, block)[:, None]
        np.maximum(squared, 0.0, out=squared)
        rows = np.arange(len(block))
        best = np.argmin(squared, axis=1)
        nearest[start : start + len(block)] = best
        first[start : start + len(block)] = squared[rows, best]
        if candidates.shape[0] > 1:
            squared[rows, best] = np.inf
            second[start : start + len(block)] = squared.min(axis=1)
    return nearest, np.sqrt(first), np.sqrt(second)


def mutual_nearest_neighbours(points_a: np.ndarray, points_b: np.ndarray, max_distance: float) -> np.ndarray:
    """Pairs (i, j) where ``points_b[j]`` is the nearest to ``points_a[i]`` and vice versa, within ``max_distance``.

    Works on any ``[N, D]`` vectors (positions or descriptors). Returns int64 ``[M, 2]``.
    """
    if len(points_a) == 0 or len(points_b) == 0:
        return np.empty((0, 2), dtype=np.int64)
    forward, distance, _ = nearest_two(points_a, points_b)
    backward, _, _ = nearest_two(points_b, points_a)
    keep = (backward[forward] == np.arange(len(points_a))) & (distance <= max_distance)
    return np.stack([np.flatnonzero(keep), forward[keep]], axis=1).astype(np.int64)



@dataclasses.dataclass(frozen=True)
class Agreement:
    """How closely one backend's features of a frame agree with a reference backend's.

    Attributes:
        overlap: keypoints at the same position (mutual nearest within the tolerance) over the larger count; 1.0
            when both are empty.
        matched: number of keypoints at the same position.
        descriptor_cosine_mean, descriptor_cosine_min: cosine between the descriptors of those keypoints; None
            without any.
        score_max_abs_diff: largest score difference between those keypoints; None without any.
    """

    overlap: float
    matched: int
    descriptor_cosine_mean: float | None
    descriptor_cosine_min: float | None
    score_max_abs_diff: float | None


def agreement(
    keypoints: np.ndarray,
    scores: np.ndarray,
    descriptors: np.ndarray,
    reference_keypoints: np.ndarray,
    reference_scores: np.ndarray,
    reference_descriptors: np.ndarray,
    tolerance_px: float,
) -> Agreement:
    """Compare one frame's features with a reference backend's features of the same frame."""
    larger = max(len(keypoints), len(reference_keypoints))
    pairs = mutual_nearest_neighbours(keypoints, reference_keypoints, tolerance_px)
    if len(pairs) == 0:
        return Agreement(
            overlap=0.0 if larger else 1.0, matched=0, descriptor_cosine_mean=None, descriptor_cosine_min=None,
            score_max_abs_diff=None,
        )
    cosine = np.einsum(
        "ij,ij->i", descriptors[pairs[:, 0]].astype(np.float64), reference_descriptors[pairs[:, 1]].astype(np.float64)
    )
    return Agreement(
        overlap=len(pairs) / larger,
        matched=len(pairs),
        descriptor_cosine_mean=float(cosine.mean()),
        descriptor_cosine_min=float(cosine.min()),
        score_max_abs_diff=float(np.abs(scores[pairs[:, 0]] - reference_scores[pairs[:, 1]]).max()),
    )
