# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``pip install .``: the offline tools without ROS (``disk-trt-ros export|check|build-engine|bench|eval|...``).

The ROS 2 side (Keypoints message, node, launch file) is built from CMakeLists.txt and package.xml by colcon in a
ROS 2 workspace, or by ``make setup`` in the development virtualenv (docs/ros_workspace.md).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(r'^__version__ = "([^"]+)"', Path(__file__).with_name("disk_trt_ros").joinpath(
    "__init__.py").read_text(), re.MULTILINE).group(1)

setup(
    name="disk_trt_ros",
    version=VERSION,
    description="DISK keypoints as one static ONNX graph for TensorRT, with a ROS 2 node",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["disk_trt_ros", "disk_trt_ros.*"]),
    package_data={"disk_trt_ros": ["data/*.json", "data/*.xml"]},
    install_requires=[
        "numpy",
        "onnx",
        "onnxruntime",
        "torch",
        "kornia>=0.9,<0.10",
        "opencv-python-headless",
        "rosbags",
        "matplotlib",
        "tqdm",
    ],
    extras_require={"samples": ["scikit-image"]},
    entry_points={"console_scripts": ["disk-trt-ros = disk_trt_ros.cli:main"]},
    # build/ is CMake's (make setup, colcon): setuptools keeps its files in a folder of its own there.
    options={"build": {"build_base": "build/setuptools"}},
)
