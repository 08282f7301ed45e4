# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The features of one frame as a ``disk_trt_ros/msg/Keypoints`` message, and back."""

from __future__ import annotations

from array import array

import numpy as np
from std_msgs.msg import Header

from disk_trt_ros.contract import DESCRIPTOR_DIM
from disk_trt_ros.image_conversion import ModelInput
from disk_trt_ros.inference.base import Features
from disk_trt_ros.msg import Keypoints


def float32_array(values: np.ndarray) -> array:
    """``values`` flattened (row-major) as ``array('f')``: rclpy keeps float32[] fields in that type, so assigning
    one skips the per-element checks a list or a numpy array would go through."""
    result = array("f")
    result.frombytes(np.ascontiguousarray(values, dtype=np.float32).tobytes())
    return result


def keypoints_message(features: Features, model_input: ModelInput, header: Header) -> Keypoints:
    """The message for ``features`` detected in ``model_input``, keypoints mapped back to the source image.

    Args:
        features: keypoints in the model's frame, scores, descriptors ``[N, 128]``.
        model_input: the frame the features came from (gives the source size and the mapping back).
        header: the source image's header (stamp and frame_id are passed through).
    """
    return Keypoints(
        header=header,
        image_width=model_input.source_width,
        image_height=model_input.source_height,
        count=features.count,
        keypoints=float32_array(model_input.keypoints_to_source(features.keypoints)),
        scores=float32_array(features.scores),
        descriptor_dim=DESCRIPTOR_DIM,
        descriptors=float32_array(features.descriptors),
    )


def features_from_message(message: Keypoints) -> Features:
    """The arrays of a Keypoints message: keypoints ``[N, 2]`` in the source frame, scores ``[N]``, descriptors
    ``[N, D]``, all float32."""
    count = message.count
    return Features(
        keypoints=np.frombuffer(message.keypoints, dtype=np.float32).reshape(count, 2),
        scores=np.frombuffer(message.scores, dtype=np.float32).reshape(count),
        descriptors=np.frombuffer(message.descriptors, dtype=np.float32).reshape(count, message.descriptor_dim),
    )
