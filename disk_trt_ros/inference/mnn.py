# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Mutual nearest neighbour matching of descriptors, with an optional ratio test and distance threshold: the rule,
its numpy implementation (brute force over the valid slots, the reference that the torch one must equal) and the
matcher that runs it on the CPU.

The rule, for image 0's valid slots ``i < num_keypoints0`` and image 1's valid slots ``j < num_keypoints1``:

- similarity ``s[i, j] = descriptors0[i] . descriptors1[j]`` (float32 matrix product); distance
  ``d[i, j] = sqrt(max(2 - 2 s[i, j], 0))``, the Euclidean distance of unit descriptors, in float32.
- The nearest neighbour of ``i`` is the ``j`` with the smallest ``d[i, j]``; **ties go to the smallest index**.
  The same holds for the nearest neighbour of ``j`` among the ``i``.
- ``(i, j)`` is a match when each is the other's nearest neighbour, and
  - with ``ratio_threshold`` ``r``: ``d[i, j] / second <= r`` in both directions (Lowe's ratio test, as kornia's
    ``match_smnn``), where ``second`` is the second smallest distance of the row of ``i`` (of the column of ``j``),
    counting ties: two equal nearest distances give a ratio of 1, and ``0 / 0`` fails. With fewer than two valid
    slots in either image there is no second neighbour and no match;
  - with ``max_distance``: ``d[i, j] <= max_distance``.
- Its score is ``s[i, j]``, the cosine similarity of the two descriptors.

Every comparison runs on the same float32 values in numpy and torch, so the two agree exactly wherever their
matrix products agree bit for bit; BLAS libraries may round the products differently in the last bit, which can
only turn a decision that a near-tie of a few ulp made (docs/matching.md reports how often that happened).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from disk_trt_ros.errors import ContractError
from disk_trt_ros.inference.base import KeypointSlots, Matcher, MatcherOptions, Matches, MnnSettings
from disk_trt_ros.matcher_contract import NO_MATCH


def check_descriptor_slots(descriptors: np.ndarray, num_keypoints: np.ndarray, image: int) -> int:
    """The valid count of float32 ``[1, K, D]`` descriptors; :class:`ContractError` names a malformed input."""
    if descriptors.ndim != 3 or descriptors.shape[0] != 1 or descriptors.dtype != np.float32:
        raise ContractError(f"descriptors{image} must be float32 [1, K, D], not {descriptors.dtype}{descriptors.shape}")
    count = int(np.asarray(num_keypoints).reshape(-1)[0])
    if not 0 <= count <= descriptors.shape[1]:
        raise ContractError(f"num_keypoints{image}={count} is outside 0..{descriptors.shape[1]}")
    return count


def mutual_nearest_neighbours(
    descriptors0: np.ndarray,
    num_keypoints0: np.ndarray,
    descriptors1: np.ndarray,
    num_keypoints1: np.ndarray,
    settings: MnnSettings = MnnSettings(),
) -> Matches:
    """Match two images' descriptor slots by the rule of the module docstring.

    Args:
        descriptors0, descriptors1: float32 ``[1, K0, D]`` and ``[1, K1, D]`` (D equal).
        num_keypoints0, num_keypoints1: int32 ``[1]``, the valid slots of each.

    Returns:
        :class:`Matches` with ``matches0`` int32 ``[1, K0]`` (slot in image 1 or -1) and ``scores0`` float32
        ``[1, K0]`` (cosine similarity, 0 where unmatched).
    """
    count0 = check_descriptor_slots(descriptors0, num_keypoints0, 0)
    count1 = check_descriptor_slots(descriptors1, num_keypoints1, 1)
    if descriptors0.shape[2] != descriptors1.shape[2]:
        raise ContractError(
            f"descriptor sizes differ: {descriptors0.shape[2]} in image 0, {descriptors1.shape[2]} in image 1"
        )
    matches0 = np.full((1, descriptors0.shape[1]), NO_MATCH, dtype=np.int32)
    scores0 = np.zeros((1, descriptors0.shape[1]), dtype=np.float32)
    if count0 == 0 or count1 == 0:
        return Matches(matches0, scores0)
    similarity = descriptors0[0, :count0] @ descriptors1[0, :count1].T
    distance = descriptor_distance(similarity)
    nearest1 = distance.argmin(axis=1)  # numpy's argmin returns the first of equal minima
    nearest0 = distance.argmin(axis=0)
    rows = np.arange(count0)
    nearest_distance = distance[rows, nearest1]
    keep = nearest0[nearest1] == rows
    if settings.ratio_threshold is not None:
        if count0 < 2 or count1 < 2:
            return Matches(matches0, scores0)
        ratio_threshold = np.float32(settings.ratio_threshold)
        second_in_row = np.partition(distance, 1, axis=1)[:, 1]
        second_in_column = np.partition(distance, 1, axis=0)[1, :][nearest1]
        with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 is NaN and fails the test, as documented
            keep &= nearest_distance / second_in_row <= ratio_threshold
            keep &= nearest_distance / second_in_column <= ratio_threshold
    if settings.max_distance is not None:
        keep &= nearest_distance <= np.float32(settings.max_distance)
    matches0[0, :count0] = np.where(keep, nearest1, NO_MATCH)
    scores0[0, :count0] = np.where(keep, similarity[rows, nearest1], np.float32(0.0))
    return Matches(matches0, scores0)


def descriptor_distance(similarity: np.ndarray) -> np.ndarray:
    """float32 ``sqrt(max(2 - 2 s, 0))``: the distance of unit descriptors from their cosine similarity."""
    return np.sqrt(np.maximum(np.float32(2.0) - np.float32(2.0) * similarity, np.float32(0.0)))


def ignored_model_report(name: str, options: MatcherOptions, report: Callable[[str], None]) -> None:
    """Say that mutual nearest neighbours ignore a model they were given."""
    if options.model is not None:
        report(f"{name} matches descriptors and needs no model; {options.model} is ignored")


class NumpyMnnMatcher(Matcher):
    """Mutual nearest neighbours in numpy, on the CPU, for any K."""

    name = "mnn-numpy"

    def __init__(self, settings: MnnSettings = MnnSettings()) -> None:
        super().__init__(None)
        self.settings = settings

    @classmethod
    def create(cls, options: MatcherOptions, report: Callable[[str], None]) -> NumpyMnnMatcher:
        ignored_model_report(cls.name, options, report)
        return cls(options.mnn)

    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        return mutual_nearest_neighbours(
            image0.descriptors, image0.num_keypoints, image1.descriptors, image1.num_keypoints, self.settings
        )

    def describe(self) -> str:
        return f"{super().describe()}, {self.settings}"
