# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``export-matcher``: write LightGlue for DISK as one static ONNX graph for a fixed K and keypoint frame."""

from __future__ import annotations

import argparse

from disk_trt_ros import __version__
from disk_trt_ros.cli_arguments import integer, number, output_file
from disk_trt_ros.contract import MatcherMethod, TrtCompat, read_onnx_model_info
from disk_trt_ros.errors import ModelNotFoundError, OptionsError
from disk_trt_ros.export.cli import MAX_EXPORT_KEYPOINTS, MAX_EXPORT_SIDE
from disk_trt_ros.matcher_contract import MatcherInfo

DEFAULT_FILTER_THRESHOLD = 0.1  # kornia's LightGlue default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``export-matcher``'s arguments to ``parser`` (called by :mod:`disk_trt_ros.cli`'s registry)."""
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
    side = integer(1, MAX_EXPORT_SIDE)
    parser.add_argument("--height", type=side, help="keypoint frame height in pixels (the extractor's input height)")
    parser.add_argument("--width", type=side, help="keypoint frame width in pixels (the extractor's input width)")
    parser.add_argument(
        "--max-keypoints", type=integer(1, MAX_EXPORT_KEYPOINTS), help="K, the number of keypoint slots of each image"
    )
    parser.add_argument(
        "--filter-threshold",
        type=number(0.0, 1.0),
        default=DEFAULT_FILTER_THRESHOLD,
        help=f"keep matches whose probability is above it (default {DEFAULT_FILTER_THRESHOLD}, as kornia)",
    )
    parser.add_argument(
        "--trt-compat",
        choices=[c.value for c in TrtCompat],
        default=TrtCompat.TRT_8_2.value,
        help="oldest TensorRT the model must build on (sets the opset: 13 for 8.2, the default; 17 for 10)",
    )
    parser.add_argument(
        "--output", required=True, type=output_file, help="ONNX file to write (written atomically)"
    )


def frame_and_slots(args: argparse.Namespace) -> tuple[int, int, int]:
    """(height, width, K) from the arguments, or from the extractor's metadata; :class:`OptionsError` otherwise."""
    given = {"height": args.height, "width": args.width, "max_keypoints": args.max_keypoints}
    if args.extractor:
        try:
            extractor = read_onnx_model_info(args.extractor)
        except ModelNotFoundError as error:
            raise ModelNotFoundError(f"--extractor {args.extractor}: no such file") from error
        for name, value in given.items():
            if value is not None and value != getattr(extractor, name):
                raise OptionsError(
                    f"--{name.replace('_', '-')} {value} differs from the extractor's {getattr(extractor, name)}; "
                    "give one or the other"
                )
        return extractor.height, extractor.width, extractor.max_keypoints
    missing = [f"--{name.replace('_', '-')}" for name, value in given.items() if value is None]
    if missing:
        raise OptionsError(f"give {', '.join(missing)}, or --extractor MODEL to take them from an exported extractor")
    return args.height, args.width, args.max_keypoints


def main(args: argparse.Namespace) -> int:
    """Run ``export-matcher`` with the parsed ``args``; the exit status."""
    from disk_trt_ros.export.cli import export_checked
    from disk_trt_ros.export.lightglue_weights import load_lightglue
    from disk_trt_ros.export.onnx_export import export_matcher_onnx

    compat = TrtCompat(args.trt_compat)
    height, width, max_keypoints = frame_and_slots(args)
    info = MatcherInfo(
        method=MatcherMethod.LIGHTGLUE,
        height=height,
        width=width,
        max_keypoints=max_keypoints,
        filter_threshold=args.filter_threshold,
        trt_compat=compat,
        weights=args.weights,
        weights_sha256="",
        package_version=__version__,
    )
    summary = (
        f"LightGlue for DISK, K={info.max_keypoints} per image, keypoints in a {info.width}x{info.height} frame, "
        f"filter threshold {info.filter_threshold}, opset {compat.max_opset}"
    )
    return export_checked(info, load_lightglue, export_matcher_onnx, args.output, summary)
