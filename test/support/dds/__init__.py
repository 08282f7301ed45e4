# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Camera frames over DDS from other processes, as a camera driver sends them (issue 15).

Modules: ``camera`` (``python -m support.dds.camera``: a plain rclpy process publishing rgb8 frames at a rate, with
the reliability a driver uses), ``probe`` (this process's view of one node: its Keypoints' arrivals and its
/diagnostics counters), ``environment`` (the child processes' environment, apart from any middleware setting of
this process) and ``record`` (what a benchmark's figures are recorded with: machine, load, percentiles, model).
``test_dds_delivery.py`` uses them at a bounded count; ``scripts/dds_delivery.py`` and ``scripts/node_overhead.py``
at full length.
"""
