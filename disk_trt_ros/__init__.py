# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""DISK keypoints and descriptors as one static ONNX/TensorRT graph, with a ROS 2 node around it.

Sub-packages follow the pipeline: ``export`` (PyTorch module and ONNX export), ``inference`` (backends and the
engine cache), ``node`` (the ROS 2 node), ``evaluation`` (rosbag replays and reports).
"""

import pkgutil

# rosidl installs the generated ``disk_trt_ros.msg`` into another site-packages directory (the build's
# ``install/`` tree in the venv route); extending the package path lets both halves import as one package.
__path__ = pkgutil.extend_path(__path__, __name__)

__version__ = "0.1.0"
