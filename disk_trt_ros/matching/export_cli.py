"""``export-matcher``: write LightGlue for DISK as one static ONNX graph for a fixed K and keypoint frame."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from disk_trt_ros import __version__
from disk_trt_ros.contract import ContractError, TrtCompat
from disk_trt_ros.matching.contract import LIGHTGLUE, MatcherInfo

DEFAULT_FILTER_THRESHOLD = 0.1  # kornia's LightGlue default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--weights",
        default="disk",
        help="'disk' (kornia's download of LightGlue's DISK weights), the path of disk_lightglue.pth (or of a state "
        "dict of kornia's LightGlue), or 'random:SEED' (random weights, for tests only). Default: disk",
    )
    parser.add_argument(
        "--extractor",
        help="an extractor exported by 'python -m disk_trt_ros export': take the keypoint frame and K from it",
    )
    parser.add_argument("--height", type=int, help="keypoint frame height in pixels (the extractor's input height)")
    parser.add_argument("--width", type=int, help="keypoint frame width in pixels (the extractor's input width)")
    parser.add_argument("--max-keypoints", type=int, help="K, the number of keypoint slots of each image")
    parser.add_argument(
        "--filter-threshold",
        type=float,
        default=DEFAULT_FILTER_THRESHOLD,
        help=f"keep matches whose probability is above it (default {DEFAULT_FILTER_THRESHOLD}, as kornia)",
    )
    parser.add_argument(
        "--trt-compat",
        choices=[c.value for c in TrtCompat],
        default=TrtCompat.TRT_8_2.value,
        help="oldest TensorRT the model must build on (sets the opset: 13 for 8.2, the default; 17 for 10)",
    )
    parser.add_argument("--output", required=True, help="ONNX file to write (written atomically)")


def frame_and_slots(args: argparse.Namespace) -> tuple[int, int, int]:
    """(height, width, K) from the arguments, or from the extractor's metadata; :class:`ContractError` otherwise."""
    given = {"height": args.height, "width": args.width, "max_keypoints": args.max_keypoints}
    if args.extractor:
        from disk_trt_ros.contract import read_onnx_model_info

        try:
            extractor = read_onnx_model_info(args.extractor)
        except FileNotFoundError as error:
            raise ContractError(f"--extractor {args.extractor}: no such file") from error
        for name, value in given.items():
            if value is not None and value != getattr(extractor, name):
                raise ContractError(
                    f"--{name.replace('_', '-')} {value} differs from the extractor's {getattr(extractor, name)}; "
                    "give one or the other"
                )
        return extractor.height, extractor.width, extractor.max_keypoints
    missing = [f"--{name.replace('_', '-')}" for name, value in given.items() if value is None]
    if missing:
        raise ContractError(f"give {', '.join(missing)}, or --extractor MODEL to take them from an exported extractor")
    return args.height, args.width, args.max_keypoints


def main(args: argparse.Namespace) -> int:
    from disk_trt_ros.export.trt_check import check_model
    from disk_trt_ros.errors import WeightsError
    from disk_trt_ros.matching.lightglue_export import export_matcher_onnx
    from disk_trt_ros.matching.lightglue_weights import load_lightglue

    compat = TrtCompat(args.trt_compat)
    try:
        height, width, max_keypoints = frame_and_slots(args)
        info = MatcherInfo(
            method=LIGHTGLUE,
            height=height,
            width=width,
            max_keypoints=max_keypoints,
            filter_threshold=args.filter_threshold,
            trt_compat=compat,
            weights=args.weights,
            weights_sha256="",
            package_version=__version__,
        )
        info.validate()
        lightglue, sha256 = load_lightglue(args.weights)
    except (ContractError, WeightsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"weights: {args.weights} sha256 {sha256}")
    info = dataclasses.replace(info, weights_sha256=sha256)
    if os.path.exists(args.output):
        print(f"replacing the existing {args.output}")
    model = export_matcher_onnx(lightglue, info, args.output)
    violations = check_model(model, compat.value)
    print(
        f"wrote {args.output}: LightGlue for DISK, K={info.max_keypoints} per image, keypoints in a "
        f"{info.width}x{info.height} frame, filter threshold {info.filter_threshold}, opset {compat.max_opset}, "
        f"{len(model.graph.node)} nodes"
    )
    for violation in violations:
        print(f"  TensorRT {compat.value} check: {violation}", file=sys.stderr)
    if violations:
        print("error: the exported graph breaks the TensorRT support rules above; please report this", file=sys.stderr)
        return 1
    print(f"TensorRT {compat.value} support check: ok")
    return 0
