# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Keypoints messages as a matcher takes them (checked), and the ``disk_trt_ros/msg/Matches`` message of a pair."""

from __future__ import annotations

from array import array

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from disk_trt_ros.contract import DESCRIPTOR_DIM
from disk_trt_ros.errors import KeypointsMessageError
from disk_trt_ros.inference.base import Features
from disk_trt_ros.msg import Keypoints, Matches
from disk_trt_ros.node.keypoints_message import features_from_message, float32_array


def stamp_text(stamp: Time) -> str:
    """A stamp as ``SECONDS.NANOSECONDS``, for messages."""
    return f"{stamp.sec}.{stamp.nanosec:09d}"


def stamp_ns(stamp: Time) -> int:
    """A stamp in nanoseconds."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def checked_features(message: Keypoints) -> Features:
    """The features of a Keypoints message, after checking that its arrays agree with its count and that it holds
    DISK's descriptors.

    Raises:
        KeypointsMessageError: naming the message (its stamp) and what is wrong.
    """
    count, dim = message.count, message.descriptor_dim
    name = f"Keypoints message stamped {stamp_text(message.header.stamp)}"
    lengths = (len(message.keypoints), len(message.scores), len(message.descriptors))
    if lengths != (2 * count, count, count * dim):
        raise KeypointsMessageError(
            f"{name} is malformed: count {count} and descriptor_dim {dim} need {2 * count} keypoint values, {count} "
            f"scores and {count * dim} descriptor values, it has {lengths[0]}, {lengths[1]} and {lengths[2]}"
        )
    if dim != DESCRIPTOR_DIM:
        raise KeypointsMessageError(
            f"{name} has {dim}-d descriptors; the matcher takes DISK's {DESCRIPTOR_DIM}-d descriptors"
        )
    if count and (message.image_width == 0 or message.image_height == 0):
        raise KeypointsMessageError(f"{name} has keypoints but no image size ({message.image_width}x"
                                    f"{message.image_height})")
    return features_from_message(message)


def checked_pair(message0: Keypoints, message1: Keypoints) -> tuple[Features, Features]:
    """The features of two messages to be matched, each checked (:func:`checked_features`), and their descriptor
    sizes checked against each other first.

    Raises:
        KeypointsMessageError: naming the message at fault.
    """
    if message0.descriptor_dim != message1.descriptor_dim:
        raise KeypointsMessageError(
            f"descriptor sizes differ: {message0.descriptor_dim} in the Keypoints message stamped "
            f"{stamp_text(message0.header.stamp)}, {message1.descriptor_dim} in the one stamped "
            f"{stamp_text(message1.header.stamp)}; match the keypoints of one extractor"
        )
    return checked_features(message0), checked_features(message1)


def uint32_array(values: np.ndarray) -> array:
    """``values`` as ``array('I')``, the type rclpy keeps uint32[] fields in."""
    result = array("I")
    result.frombytes(np.ascontiguousarray(values, dtype=np.uint32).tobytes())
    return result


def matches_message(
    header: Header, message0: Keypoints, message1: Keypoints, pairs: np.ndarray, scores: np.ndarray, method: str
) -> Matches:
    """The Matches message for ``pairs`` (int ``[N, 2]``: index into message 0's keypoints, into message 1's) with
    their ``scores``, stamped ``header``."""
    return Matches(
        header=header,
        stamp0=message0.header.stamp,
        frame_id0=message0.header.frame_id,
        stamp1=message1.header.stamp,
        frame_id1=message1.header.frame_id,
        method=method,
        count=len(pairs),
        indices0=uint32_array(pairs[:, 0]),
        indices1=uint32_array(pairs[:, 1]),
        scores=float32_array(scores),
    )
