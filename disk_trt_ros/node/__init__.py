# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The ROS 2 nodes: image messages in, ``disk_trt_ros/msg/Keypoints`` out (``disk_node``); Keypoints in,
``disk_trt_ros/msg/Matches`` out (``matcher_node``).

Modules follow the frame's path: the conversion of the message to the model's input and of keypoints back to the
source frame (``disk_trt_ros.image_conversion``, ROS-free, shared with ``eval`` and ``bench``), the backend
(``disk_trt_ros.inference``), ``keypoints_message`` (features to the message), and around them ``disk_node``
(parameters, topics), ``diagnostics`` and ``debug_image``. Run it with
``python -m disk_trt_ros.node --ros-args -p model:=disk.onnx`` or ``ros2 run disk_trt_ros disk_node``.

The matcher: ``matcher_node`` (parameters, topics, temporal and stereo pairs), ``stamp_pairing`` (stereo pairs by
stamp, ROS-free), ``matches_message`` (Keypoints checked, Matches made), the matcher itself in
``disk_trt_ros.inference``. Run it with ``python -m disk_trt_ros.node.matcher_node --ros-args -p matcher:=mnn`` or
``ros2 run disk_trt_ros matcher_node``. What both share: ``parameters`` (read-only, with descriptors),
``newest_worker`` (newest wins under load), ``process`` (spinning until SIGINT/SIGTERM).
"""
