"""``python -m disk_trt_ros eval``: run the extractor over an image topic of a bag and write a report.

Offline (default): frames are decoded and converted exactly as the node does, and a backend runs in this process.
With ``--node``: the bag is replayed into a running ``disk_node`` over DDS and what it publishes is evaluated
(see :mod:`disk_trt_ros.evaluation.node_replay`).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from disk_trt_ros import __version__
from disk_trt_ros.contract import BackendName, ModelInfo, Precision
from disk_trt_ros.errors import ImageConversionError, OptionsError
from disk_trt_ros.evaluation.bag_io import BagFormat, ImageBag
from disk_trt_ros.evaluation.metrics import Geometry
from disk_trt_ros.evaluation.report import write_report
from disk_trt_ros.evaluation.sequence import EvaluationSettings, FrameResult, SequenceEvaluator, convert
from disk_trt_ros.image_conversion import ImageConverter, ModelInput
from disk_trt_ros.inference.base import Backend, Features
from disk_trt_ros.inference.registry import create_backend

MAX_LISTED_REJECTIONS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bag", type=Path, required=True, help="rosbag2 directory (sqlite3 or mcap) or ROS 1 .bag")
    parser.add_argument("--topic", required=True, help="sensor_msgs/Image or CompressedImage topic to evaluate")
    parser.add_argument("--model", help="exported ONNX model (or TensorRT engine); with --node only for the report")
    backends, precisions = BackendName.values(), Precision.values()
    parser.add_argument("--backend", choices=backends, default="auto", help="inference backend (default auto)")
    parser.add_argument("--precision", choices=precisions, default="fp32", help="precision (default fp32)")
    parser.add_argument("--threads", type=int, help="CPU threads for ONNX Runtime and PyTorch")
    parser.add_argument("--reference", choices=backends, help="a second backend to compare with on every frame")
    parser.add_argument("--reference-model", help="the reference backend's model (default: --model)")
    parser.add_argument("--reference-precision", choices=precisions, default="fp32", help="(default fp32)")
    parser.add_argument("--max-frames", type=int, help="evaluate at most this many frames")
    parser.add_argument("--out", type=Path, help="report directory (default: eval_<bag name>)")
    parser.add_argument(
        "--geometry", choices=[g.value for g in Geometry], default=Geometry.HOMOGRAPHY.value,
        help="model RANSAC fits to frame-to-frame matches: homography (planar scenes, rotations) or fundamental "
        "(general 3D scenes); default homography",
    )
    defaults = EvaluationSettings()
    parser.add_argument("--ratio", type=float, default=defaults.ratio, help="ratio test threshold (1 disables it)")
    parser.add_argument(
        "--ransac-threshold", type=float, default=defaults.ransac_threshold_px, help="RANSAC inlier threshold, pixels"
    )
    parser.add_argument("--ground-truth-topic", help="homography topic (default: TOPIC/ground_truth_homography)")
    node = parser.add_argument_group("node mode")
    node.add_argument("--node", action="store_true", help="replay into a running disk_node, not a backend here")
    node.add_argument("--rate", type=float, default=1.0, help="playback rate, a multiple of the bag's (default 1)")
    node.add_argument("--as-fast-as-possible", action="store_true", help="publish frames back to back, ignoring stamps")
    node.add_argument("--node-image-topic", default="image", help="topic the node subscribes (default image)")
    node.add_argument("--node-keypoints-topic", default="keypoints", help="the node's keypoints (default keypoints)")
    node.add_argument("--wait-for-node", type=float, default=10.0, help="seconds to wait for the node to answer")
    node.add_argument("--settle", type=float, default=5.0, help="seconds to wait for the last keypoints")
    node.add_argument(
        "--record-format", choices=[BagFormat.SQLITE3.value, BagFormat.MCAP.value], default=BagFormat.MCAP.value,
        help="storage of the recorded output bag OUT/keypoints_bag (default mcap)",
    )


def settings_from(args: argparse.Namespace) -> EvaluationSettings:
    return EvaluationSettings(
        geometry=Geometry(args.geometry), ratio=args.ratio, ransac_threshold_px=args.ransac_threshold
    )


def output_directory(args: argparse.Namespace) -> Path:
    """The report directory: ``--out``, else ``eval_<bag name>`` in the working directory."""
    return args.out or Path(f"eval_{args.bag.resolve().name}")


def main(args: argparse.Namespace) -> int:
    out = output_directory(args)
    check_arguments(args)
    if args.node:
        report, drawn = node_mode(args)
    else:
        report, drawn = evaluate_offline(args, settings_from(args))
    written = write_report(out, report, drawn)
    print(summary_lines(report, out))
    print(f"report: {written[1]} (numbers in {written[0]}, {len(written) - 2} plots)")
    return 0


def node_mode(args: argparse.Namespace) -> tuple[dict[str, Any], list[Any]]:
    """Replay into a running node (imported here: it needs rclpy and the built Keypoints interface)."""
    try:
        from disk_trt_ros.evaluation.node_replay import replay_into_node
    except ImportError as error:
        raise OptionsError(
            f"--node needs rclpy and the built Keypoints interface ({error}): run 'make setup' and "
            "'source install/setup.sh', or source your ROS 2 workspace"
        ) from error
    return replay_into_node(args, settings_from(args))


def check_arguments(args: argparse.Namespace) -> None:
    """Raise :class:`OptionsError` naming the first argument combination that cannot work."""
    if not args.node and not args.model:
        raise OptionsError("--model is required (an exported ONNX model or an engine), unless --node is given")
    if args.node and args.reference:
        raise OptionsError("--reference compares two backends in this process; it cannot be used with --node")
    if args.reference_model and not args.reference:
        raise OptionsError("--reference-model needs --reference BACKEND")
    if args.max_frames is not None and args.max_frames < 1:
        raise OptionsError(f"--max-frames must be at least 1, got {args.max_frames}")
    if args.threads is not None and args.threads < 1:
        raise OptionsError(f"--threads must be at least 1, got {args.threads}")
    if args.rate <= 0:
        raise OptionsError(f"--rate must be positive, got {args.rate}")
    if not 0 < args.ratio <= 1:
        raise OptionsError(f"--ratio must be in (0, 1], got {args.ratio}")
    if args.ransac_threshold <= 0:
        raise OptionsError(f"--ransac-threshold must be positive, got {args.ransac_threshold}")


def model_block(info: ModelInfo | None, path: str | None, description: str | None) -> dict[str, Any]:
    """What report.json says about a model; ``random_weights`` tells the report to warn about meaningless keypoints."""
    if info is None:
        return {"path": path, "description": description or "not given (pass --model to state it in the report)"}
    from disk_trt_ros.export.weights import RANDOM_PREFIX

    return {
        "path": path,
        "description": description or f"{info.width}x{info.height} {info.input_format.value}, K={info.max_keypoints}",
        "weights": info.weights,
        "weights_sha256": info.weights_sha256,
        "random_weights": info.weights.startswith(RANDOM_PREFIX),
        "height": info.height,
        "width": info.width,
        "max_keypoints": info.max_keypoints,
        "input_format": info.input_format.value,
        "exported_by": info.package_version,
    }


def base_report(args: argparse.Namespace, bag: ImageBag, settings: EvaluationSettings, mode: str) -> dict[str, Any]:
    return {
        "tool": {
            "package_version": __version__,
            "arguments": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        },
        "mode": mode,
        "bag": {
            "path": str(args.bag),
            "topic": bag.topic,
            "frames_on_topic": bag.frame_count,
            "ground_truth_topic": bag.ground_truth_topic,
        },
        "settings": {
            "geometry": settings.geometry.value,
            "ratio": settings.ratio,
            "ransac_threshold_px": settings.ransac_threshold_px,
            "repeatability_threshold_px": settings.repeatability_threshold_px,
            "agreement_tolerance_px": settings.agreement_tolerance_px,
        },
    }


def evaluate_offline(
    args: argparse.Namespace, settings: EvaluationSettings
) -> tuple[dict[str, Any], list[Any]]:
    """Run the backend (and the reference) on every frame; returns the report dictionary and the drawn pairs."""
    with contextlib.ExitStack() as resources:
        backend = resources.enter_context(contextlib.closing(
            create_backend(args.backend, args.model, precision=args.precision, threads=args.threads)
        ))
        reference = None
        if args.reference:
            reference = resources.enter_context(contextlib.closing(create_backend(
                args.reference, args.reference_model or args.model, precision=args.reference_precision,
                threads=args.threads,
            )))
        bag = resources.enter_context(ImageBag(args.bag, args.topic, args.ground_truth_topic))
        report = base_report(args, bag, settings, "offline")
        report["model"] = model_block(backend.info, args.model, backend.describe())
        if reference is not None:
            report["reference"] = model_block(reference.info, args.reference_model or args.model, reference.describe())
        total = bag.frame_count if args.max_frames is None else min(args.max_frames, bag.frame_count)
        evaluator = SequenceEvaluator(settings, total)
        rejected = run_frames(bag, total, backend, reference, evaluator, args.max_frames)
    report.update(rejected)
    report["summary"] = evaluator.summary()
    report["frames"] = evaluator.records
    report["notes"] = [
        "Latencies are measured in this process around the backend's run() (inference) and around message "
        "conversion plus inference (total), after one warm-up run; throughput is frames over the sum of totals."
    ] + [f"rejected {rejection}" for rejection in report["rejections"]]
    return report, evaluator.drawn_pairs


def run_frames(
    bag: ImageBag,
    total: int,
    backend: Backend,
    reference: Backend | None,
    evaluator: SequenceEvaluator,
    max_frames: int | None,
) -> dict[str, Any]:
    """Convert, run and evaluate each frame with a progress bar; returns rejections and throughput for the report.

    Each backend runs once on a blank image first, so that the first frame's latency is not its warm-up.
    """
    converter = ImageConverter(backend.info.height, backend.info.width, backend.info.input_format)
    backend.run(np.zeros(backend.info.input_shape[1:], dtype=np.uint8))
    reference_converter = None
    if reference is not None:
        reference_converter = ImageConverter(reference.info.height, reference.info.width, reference.info.input_format)
        reference.run(np.zeros(reference.info.input_shape[1:], dtype=np.uint8))
    rejections: list[str] = []
    busy_s = 0.0
    frames = bag.frames(max_frames, on_unreadable=lambda _, reason: rejections.append(reason))
    for frame in tqdm(frames, total=total, unit="frame", desc="eval"):
        begin = time.perf_counter()
        try:
            model_input = convert(converter, frame.message, frame.compressed)
        except ImageConversionError as error:
            rejections.append(f"frame {frame.index}: {error}")
            continue
        inference_begin = time.perf_counter()
        features = backend.run(model_input.image)
        end = time.perf_counter()
        busy_s += end - begin
        reference_features = None
        if reference is not None and reference_converter is not None:
            reference_input = convert(reference_converter, frame.message, frame.compressed)
            reference_features = in_source_frame(reference.run(reference_input.image), reference_input)
        evaluator.add(
            FrameResult(
                frame=frame,
                features=in_source_frame(features, model_input),
                source_size=(model_input.source_width, model_input.source_height),
                timings_ms={"inference": (end - inference_begin) * 1e3, "total": (end - begin) * 1e3},
                reference=reference_features,
            )
        )
    evaluated = len(evaluator.records)
    return {
        "rejected_frames": len(rejections),
        "rejections": rejections[:MAX_LISTED_REJECTIONS],
        "throughput_fps": evaluated / busy_s if busy_s > 0 else None,
    }


def in_source_frame(features: Features, model_input: ModelInput) -> Features:
    """``features`` with keypoints mapped from the model's frame to the source image's."""
    return Features(model_input.keypoints_to_source(features.keypoints), features.scores, features.descriptors)


def summary_lines(report: dict[str, Any], out: Path) -> str:
    """A few lines for the terminal: what ran, how fast, how well."""
    summary = report["summary"]
    lines = [f"evaluated {summary['frames']} frames of {report['bag']['topic']} ({report['mode']})"]
    if "node" in report:
        node = report["node"]
        lines.append(
            f"  published {node['published']} frames to the node, {node['delivered']} delivered, "
            f"{node['dropped']} dropped ({node['rate']})"
        )
    for key in ("latency_inference_ms", "latency_end_to_end_ms"):
        if key in summary and summary[key]["count"]:
            latency = summary[key]
            lines.append(
                f"  {key[len('latency_'):-len('_ms')].replace('_', '-')} latency ms: p50 {latency['p50']:.1f}, "
                f"p95 {latency['p95']:.1f}, p99 {latency['p99']:.1f}"
            )
    if summary["keypoints"]["count"]:
        lines.append(f"  keypoints per frame: mean {summary['keypoints']['mean']:.0f}")
    if summary["inliers"]["count"]:
        lines.append(
            f"  matches {summary['matches']['mean']:.0f}, inliers {summary['inliers']['mean']:.0f} per pair (mean)"
        )
    if report.get("model", {}).get("random_weights"):
        lines.append("  the model has random weights: its keypoints are meaningless for quality")
    return "\n".join(lines)
