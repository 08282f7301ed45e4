# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A matcher on extracted features: keypoints mapped from their source image to the matcher's frame, padded to its
K, matched, and the matches returned as index pairs into the two feature sets (the matcher node and ``eval``)."""

from __future__ import annotations

import numpy as np

from disk_trt_ros.errors import ContractError
from disk_trt_ros.image_conversion import keypoints_to_model
from disk_trt_ros.inference.base import Features, KeypointSlots, Matcher


def matcher_slots(matcher: Matcher, features: Features, source_size: tuple[int, int], image: int) -> KeypointSlots:
    """``features`` (keypoints in an image of ``source_size``, ``(width, height)``) as ``matcher``'s input ``image``
    (0 or 1): keypoints in its frame (LightGlue normalises positions by it), in the first of its K slots.

    Raises:
        ContractError: more keypoints than the matcher's K.
    """
    frame = matcher.frame
    keypoints = features.keypoints if frame is None else keypoints_to_model(features.keypoints, source_size, frame)
    slots = matcher.max_keypoints or max(features.count, 1)  # a matcher for any K: the features' own count
    if features.count > slots:
        raise ContractError(
            f"image {image} has {features.count} keypoints, the matcher takes at most K={slots}: export the matcher "
            "for the extractor's K (python -m disk_trt_ros export-matcher --extractor DISK.onnx)"
        )
    return KeypointSlots.from_valid(keypoints, features.descriptors, slots)


def match_features(
    matcher: Matcher,
    features0: Features,
    source_size0: tuple[int, int],
    features1: Features,
    source_size1: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Match two images' features: int32 ``[N, 2]`` (index into ``features0``, index into ``features1``), in
    increasing order of the first, and their float32 ``[N]`` scores.

    Raises:
        ContractError: features the matcher cannot take (descriptor size, count).
    """
    slots0 = matcher_slots(matcher, features0, source_size0, 0)
    slots1 = matcher_slots(matcher, features1, source_size1, 1)
    return matcher.match(slots0, slots1).pairs()
