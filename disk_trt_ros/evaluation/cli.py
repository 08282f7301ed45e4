# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m disk_trt_ros eval``: run the extractor over an image topic of a bag and write a report.

The arguments become :class:`~disk_trt_ros.evaluation.options.EvalOptions`, and
:func:`~disk_trt_ros.evaluation.run.evaluate_to_directory` does the rest: offline by default (a backend in this
process), or with ``--node`` through a running ``disk_node`` over DDS.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from disk_trt_ros.cli_arguments import integer, number, output_directory
from disk_trt_ros.contract import BackendName, MatcherMethod, Precision
from disk_trt_ros.errors import OptionsError
from disk_trt_ros.evaluation.bag_io import BagFormat
from disk_trt_ros.evaluation.metrics import Geometry
from disk_trt_ros.evaluation.options import EvalOptions, EvaluationSettings, MatchingOptions, ReplayOptions
from disk_trt_ros.evaluation.run import evaluate_to_directory
from disk_trt_ros.image_conversion import DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_LIMIT
from disk_trt_ros.inference.base import MAX_THREADS, MnnSettings

MAX_FRAMES = 10**9
MAX_PIXELS_THRESHOLD = 1000.0  # RANSAC inlier threshold
MAX_RATE = 1000.0  # playback, a multiple of the bag's
MAX_WAIT_S = 86400.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``eval``'s arguments to ``parser`` (called by :mod:`disk_trt_ros.cli`'s registry)."""
    parser.add_argument("--bag", type=Path, required=True, help="rosbag2 directory (sqlite3 or mcap) or ROS 1 .bag")
    parser.add_argument("--topic", required=True, help="sensor_msgs/Image or CompressedImage topic to evaluate")
    parser.add_argument("--model", help="exported ONNX model (or TensorRT engine); with --node only for the report")
    backends, precisions = BackendName.values(), Precision.values()
    parser.add_argument("--backend", choices=backends, default="auto", help="inference backend (default auto)")
    parser.add_argument("--precision", choices=precisions, default="fp32", help="precision (default fp32)")
    parser.add_argument("--threads", type=integer(1, MAX_THREADS), help="CPU threads for ONNX Runtime and PyTorch")
    parser.add_argument("--reference", choices=backends, help="a second backend to compare with on every frame")
    parser.add_argument("--reference-model", help="the reference backend's model (default: --model)")
    parser.add_argument("--reference-precision", choices=precisions, default="fp32", help="(default fp32)")
    parser.add_argument("--max-frames", type=integer(1, MAX_FRAMES), help="evaluate at most this many frames")
    parser.add_argument("--out", type=output_directory, help="report directory (default: eval_<bag name>)")
    parser.add_argument(
        "--max-image-pixels", type=integer(1, MAX_IMAGE_PIXELS_LIMIT), default=DEFAULT_MAX_IMAGE_PIXELS,
        help="frames over this many pixels (width x height) are rejected before decoding, as the node's parameter "
        "max_image_pixels does (default %(default)s: 8192x4320)",
    )
    parser.add_argument(
        "--geometry", choices=[g.value for g in Geometry], default=Geometry.HOMOGRAPHY.value,
        help="model RANSAC fits to frame-to-frame matches: homography (planar scenes, rotations) or fundamental "
        "(general 3D scenes); default homography",
    )
    defaults = EvaluationSettings()
    parser.add_argument(
        "--ratio", type=number(0.0, 1.0, above_low=True), default=defaults.ratio,
        help="ratio test threshold (1 disables it)",
    )
    parser.add_argument(
        "--ransac-threshold", type=number(0.0, MAX_PIXELS_THRESHOLD, above_low=True),
        default=defaults.ransac_threshold_px, help="RANSAC inlier threshold, pixels",
    )
    parser.add_argument("--ground-truth-topic", help="homography topic (default: TOPIC/ground_truth_homography)")
    matching = parser.add_argument_group("matcher")
    matching.add_argument(
        "--matcher", choices=MatcherMethod.values(),
        help="also match each pair of consecutive frames with this matcher, as the matcher node does, and report its "
        "matches per pair, inlier ratio and precision against the ground truth",
    )
    matching.add_argument("--matcher-backend", choices=backends, default="auto", help="the matcher's (default auto)")
    matching.add_argument("--matcher-model", help="lightglue: the exported matcher (python -m disk_trt_ros "
                          "export-matcher)")
    matching.add_argument(
        "--matcher-ratio", type=number(0.0, 1.0, above_low=True),
        help="mnn: ratio test threshold in (0, 1] (default: none)",
    )
    matching.add_argument(
        "--matcher-max-distance", type=number(0.0, 2.0), help="mnn: largest descriptor distance, in [0, 2]"
    )
    node = parser.add_argument_group("node mode")
    node.add_argument("--node", action="store_true", help="replay into a running disk_node, not a backend here")
    node.add_argument(
        "--rate", type=number(0.0, MAX_RATE, above_low=True), default=1.0,
        help="playback rate, a multiple of the bag's (default 1)",
    )
    node.add_argument("--as-fast-as-possible", action="store_true", help="publish frames back to back, ignoring stamps")
    node.add_argument("--node-image-topic", default="image", help="topic the node subscribes (default image)")
    node.add_argument("--node-keypoints-topic", default="keypoints", help="the node's keypoints (default keypoints)")
    node.add_argument(
        "--wait-for-node", type=number(0.0, MAX_WAIT_S, above_low=True), default=10.0,
        help="seconds to wait for the node to answer",
    )
    node.add_argument(
        "--settle", type=number(0.0, MAX_WAIT_S), default=5.0, help="seconds to wait for the last keypoints"
    )
    node.add_argument(
        "--record-format", choices=[BagFormat.SQLITE3.value, BagFormat.MCAP.value], default=BagFormat.MCAP.value,
        help="storage of the recorded output bag OUT/keypoints_bag (default mcap)",
    )


def options_from(args: argparse.Namespace) -> EvalOptions:
    """The typed options the parsed arguments stand for; raises OptionsError for a combination that cannot work."""
    replay = ReplayOptions(
        image_topic=args.node_image_topic,
        keypoints_topic=args.node_keypoints_topic,
        rate=args.rate,
        as_fast_as_possible=args.as_fast_as_possible,
        wait_for_node_s=args.wait_for_node,
        settle_s=args.settle,
        record_format=BagFormat(args.record_format),
    )
    return EvalOptions(
        bag=args.bag,
        topic=args.topic,
        model=args.model,
        backend=BackendName(args.backend),
        precision=Precision(args.precision),
        threads=args.threads,
        reference=BackendName(args.reference) if args.reference else None,
        reference_model=args.reference_model,
        reference_precision=Precision(args.reference_precision),
        max_frames=args.max_frames,
        out=args.out,
        ground_truth_topic=args.ground_truth_topic,
        max_image_pixels=args.max_image_pixels,
        settings=EvaluationSettings(
            geometry=Geometry(args.geometry), ratio=args.ratio, ransac_threshold_px=args.ransac_threshold
        ),
        replay=replay if args.node else None,
        matching=matching_from(args),
    )


def matching_from(args: argparse.Namespace) -> MatchingOptions | None:
    """The matcher options the ``--matcher*`` arguments stand for (None without ``--matcher``)."""
    if args.matcher is None:
        if args.matcher_model or args.matcher_ratio is not None or args.matcher_max_distance is not None:
            raise OptionsError("--matcher-model, --matcher-ratio and --matcher-max-distance need --matcher")
        return None
    return MatchingOptions(
        method=MatcherMethod(args.matcher),
        backend=BackendName(args.matcher_backend),
        model=args.matcher_model,
        mnn=MnnSettings(ratio_threshold=args.matcher_ratio, max_distance=args.matcher_max_distance),
    )


def main(args: argparse.Namespace) -> int:
    """Run ``eval`` with the parsed ``args``; the exit status."""
    evaluate_to_directory(options_from(args))
    return 0
