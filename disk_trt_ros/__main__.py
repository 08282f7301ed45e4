# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m disk_trt_ros COMMAND``: the command line (:mod:`disk_trt_ros.cli`)."""

import sys

from disk_trt_ros.cli import main

sys.exit(main())
