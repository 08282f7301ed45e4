# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m support.trt_double COMMAND ...``: run ``python -m disk_trt_ros COMMAND ...`` with TensorRT and CUDA
replaced by the doubles; ``python -m support.trt_double node --ros-args ...`` runs the node so, and
``python -m support.trt_double run-backend ...`` runs :mod:`support.run_backend`. Tests start real processes this way
(:func:`support.paths.subprocess_environment` puts ``support`` on their ``PYTHONPATH``).

Environment: ``TRT_DOUBLE_VERSION`` (TensorRT version, default 10.0.1), ``TRT_DOUBLE_BUILD_SECONDS`` (how long a
build takes), ``TRT_DOUBLE_BUILD_LOG`` (a file that gets one line per build).
"""

import os
import sys

from support.trt_double import FakeGpu, modules

sys.modules.update(modules(FakeGpu(), os.environ.get("TRT_DOUBLE_VERSION", "10.0.1")))
if sys.argv[1:2] == ["node"]:
    from disk_trt_ros.node.disk_node import main as node_main

    sys.argv[1:2] = []  # rclpy reads the --ros-args from sys.argv
    sys.exit(node_main())
if sys.argv[1:2] == ["run-backend"]:
    from support.run_backend import main as run_backend_main

    sys.exit(run_backend_main(sys.argv[2:]))
from disk_trt_ros.cli import main  # noqa: E402 - after the doubles are in sys.modules

sys.exit(main(sys.argv[1:]))
