# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m disk_trt_ros.node --ros-args ...`` runs the node (as ``ros2 run disk_trt_ros disk_node`` does)."""

import sys

from disk_trt_ros.node.disk_node import main

sys.exit(main())
