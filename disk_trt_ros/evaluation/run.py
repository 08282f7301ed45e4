# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Running an evaluation from its :class:`~disk_trt_ros.evaluation.options.EvalOptions`: the typed API under the
``eval`` command and ``make demo``.

Offline (``options.replay`` is None): frames are decoded and converted exactly as the node does, and a backend runs
in this process (:mod:`~disk_trt_ros.evaluation.offline`). With replay options: the bag is replayed into a running
``disk_node`` over DDS and what it publishes is evaluated (:mod:`~disk_trt_ros.evaluation.node_replay`, imported only
then: it needs rclpy and the built Keypoints interface).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from disk_trt_ros.errors import OptionsError
from disk_trt_ros.evaluation.matching import open_matcher
from disk_trt_ros.evaluation.offline import evaluate_offline
from disk_trt_ros.evaluation.options import EvalOptions
from disk_trt_ros.evaluation.report import summary_lines, write_report
from disk_trt_ros.evaluation.sequence import DrawnPair


def evaluate(options: EvalOptions) -> tuple[dict[str, Any], list[DrawnPair]]:
    """The report dictionary (what report.json holds) and the frame pairs to draw."""
    with contextlib.ExitStack() as resources:
        matcher = None
        if options.matching is not None:
            matcher = resources.enter_context(contextlib.closing(open_matcher(options)))
        if options.replay is None:
            return evaluate_offline(options, matcher)
        try:
            from disk_trt_ros.evaluation.node_replay import replay_into_node
        except ImportError as error:
            raise OptionsError(
                f"--node needs rclpy and the built Keypoints interface ({error}): run 'make setup' and "
                "'source install/setup.sh', or source your ROS 2 workspace"
            ) from error
        return replay_into_node(options, matcher)


def evaluate_to_directory(options: EvalOptions) -> list[Path]:
    """Evaluate, write the report into ``options.output_directory`` and print a summary; returns the files written
    (report.json, report.md, then the plots)."""
    report, drawn = evaluate(options)
    out = options.output_directory
    written = write_report(out, report, drawn)
    print(summary_lines(report, out))
    print(f"report: {written[1]} (numbers in {written[0]}, {len(written) - 2} plots)")
    return written
