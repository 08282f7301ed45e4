# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A MatcherNode in this process beside a probe node (:class:`support.node_harness.NodeHarness`), and the Keypoints
messages the tests send it: features with known matches, stamped so that a Matches message names its frames."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from disk_trt_ros.inference.base import Features
from disk_trt_ros.msg import Keypoints, Matches
from disk_trt_ros.node.keypoints_message import float32_array
from disk_trt_ros.node.matcher_node import MatcherNode
from support.node_harness import NodeHarness, header_of, stamp_of
from support.waiting import wait_until

SOURCE_SIZE = (640, 480)  # (width, height) of the images the features come from


class MatcherUnderTest(NodeHarness):
    """A MatcherNode with an inbox for its matches."""

    def __init__(self, context: Any, parameters: dict[str, Any]) -> None:
        super().__init__(context, MatcherNode, "matcher_node", parameters, {"matches": Matches})
        self.matches = self.inboxes["matches"]

    def wait_for_matches(self, predicate: Callable[[Matches], bool], what: str, timeout: float = 20.0) -> Matches:
        return self.matches.wait_for(predicate, timeout, what)

    def wait_until_taken(self, index: int) -> None:
        """Wait until the worker holds frame ``index`` as the first frame of the next temporal pair. Newest wins: a
        frame sent before the worker takes the one before it replaces that one, so a test that needs every pair
        sends the next frame only then (the first frame of a sequence gives no message to wait for)."""

        def taken() -> bool:
            previous = self.node._previous  # the worker's; reading the reference is atomic
            return previous is not None and previous[0].message.header.stamp == stamp_of(index)

        wait_until(taken, 10.0, f"the matcher to take frame {index}")


def of_frames(index0: int, index1: int) -> Callable[[Matches], bool]:
    """Whether a Matches message pairs the frames stamped by :func:`stamp_of` ``index0`` and ``index1``."""
    return lambda message: (message.stamp0, message.stamp1) == (stamp_of(index0), stamp_of(index1))


def scene(seed: int, count: int) -> Features:
    """``count`` keypoints on the source image with random unit descriptors (scores descending)."""
    rng = np.random.default_rng(seed)
    descriptors = rng.standard_normal((count, 128)).astype(np.float32)
    descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
    keypoints = rng.uniform(0, [SOURCE_SIZE[0] - 1, SOURCE_SIZE[1] - 1], (count, 2)).round().astype(np.float32)
    return Features(keypoints, np.linspace(1.0, 0.1, count, dtype=np.float32), descriptors)


def seen_again(features: Features, seed: int, kept: float = 0.8) -> Features:
    """The same scene in another frame: a random ``kept`` part of the keypoints, in another order, each descriptor
    slightly perturbed, beside new keypoints of their own."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(features.count)[: int(kept * features.count)]
    fresh = scene(seed + 1000, features.count - len(order))
    descriptors = features.descriptors[order] + rng.normal(0, 0.02, (len(order), 128)).astype(np.float32)
    descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
    return Features(
        np.concatenate([features.keypoints[order], fresh.keypoints]),
        np.linspace(1.0, 0.1, features.count, dtype=np.float32),
        np.concatenate([descriptors, fresh.descriptors]).astype(np.float32),
    )


def keypoints_message(features: Features, index: int, frame_id: str = "camera_optical") -> Keypoints:
    """A Keypoints message of ``features`` in a :data:`SOURCE_SIZE` image, stamped as frame ``index``."""
    header = header_of(index)
    header.frame_id = frame_id
    return Keypoints(
        header=header,
        image_width=SOURCE_SIZE[0],
        image_height=SOURCE_SIZE[1],
        count=features.count,
        keypoints=float32_array(features.keypoints),
        scores=float32_array(features.scores),
        descriptor_dim=features.descriptors.shape[1],
        descriptors=float32_array(features.descriptors),
    )
