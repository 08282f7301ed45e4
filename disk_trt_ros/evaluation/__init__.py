# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Evaluation on rosbag replays.

Modules: ``bag_io`` (bags in and out, the ground-truth convention), ``sample_bag`` (``make-sample-bag``),
``metrics`` (matching, RANSAC, tracks, HPatches measures), ``sequence`` (metrics over a frame sequence),
``options`` (the typed options of an evaluation), ``run`` (:func:`~.run.evaluate`, the API under the CLI),
``offline`` (a backend in this process), ``node_replay`` (through a running node), ``report`` (report.json,
report.md, plots), ``cli`` (the ``eval`` command) and ``demo`` (``make demo``).
"""
