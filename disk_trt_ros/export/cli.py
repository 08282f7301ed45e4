# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``export``: write DISK as one static ONNX graph for a fixed input size."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import TYPE_CHECKING, Callable, TypeVar

from disk_trt_ros import __version__
from disk_trt_ros.cli_arguments import integer, number, output_file
from disk_trt_ros.contract import SIZE_MULTIPLE, Fp16Policy, InputFormat, InstanceNorm, ModelInfo, TrtCompat
from disk_trt_ros.errors import ContractError
from disk_trt_ros.matcher_contract import MatcherInfo

if TYPE_CHECKING:
    import onnx

Info = TypeVar("Info", ModelInfo, MatcherInfo)
Module = TypeVar("Module")

MAX_EXPORT_SIDE = 8192  # DCI 8K's width; DISK's U-Net at that size already needs tens of GB to export
MAX_EXPORT_KEYPOINTS = 65536
MAX_NMS_WINDOW = 255


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``export``'s arguments to ``parser`` (called by :mod:`disk_trt_ros.cli`'s registry)."""
    parser.add_argument(
        "--weights",
        default="depth",
        help="'depth' or 'epipolar' (kornia's pretrained download), a checkpoint path ({'extractor': state_dict} "
        "or a bare state dict), or 'random:SEED' (random weights, for tests only). Default: depth",
    )
    side = integer(SIZE_MULTIPLE, MAX_EXPORT_SIDE)
    parser.add_argument("--height", type=side, default=480, help="input height, a multiple of 16 (default 480)")
    parser.add_argument("--width", type=side, default=640, help="input width, a multiple of 16 (default 640)")
    parser.add_argument(
        "--max-keypoints", type=integer(1, MAX_EXPORT_KEYPOINTS), default=2048,
        help="K, the number of output slots (default 2048)",
    )
    parser.add_argument(
        "--nms-window", type=integer(3, MAX_NMS_WINDOW), default=5, help="odd NMS window side (default 5, as kornia)"
    )
    parser.add_argument(
        "--score-threshold", type=number(), default=0.0, help="keep scores strictly above it (default 0.0, as kornia)"
    )
    parser.add_argument("--input-format", choices=[f.value for f in InputFormat], default="rgb", help="default rgb")
    parser.add_argument(
        "--trt-compat",
        choices=[c.value for c in TrtCompat],
        default=TrtCompat.TRT_8_2.value,
        help="oldest TensorRT the model must build on; 8.2 (default) builds on every TensorRT from 8.2 on and takes "
        "a float32 image, 10 takes a uint8 image",
    )
    parser.add_argument(
        "--instance-norm",
        choices=InstanceNorm.values(),
        default=InstanceNorm.ONNX.value,
        help="how the U-Net's instance norms are written: onnx (default), InstanceNormalization nodes, which TensorRT "
        "8.2 to 8.5 run as a cuDNN-backed plugin; decomposed, plain reductions and arithmetic that need no plugin "
        "(docs/export.md)",
    )
    parser.add_argument(
        "--fp16-policy",
        choices=Fp16Policy.values(),
        default=Fp16Policy.FP32_DETECTOR.value,
        help="what an fp16 TensorRT engine computes in float16: fp32-detector (default), nothing (strict float32); "
        "tf32-detector, nothing, float32 on TF32 tensor cores; fp16-unet, the U-Net but its heat-map head, float32 "
        "on TF32; each faster and keeping fewer of strict fp32's keypoints than the one before (docs/export.md)",
    )
    parser.add_argument("--output", required=True, type=output_file, help="ONNX file to write (written atomically)")


def main(args: argparse.Namespace) -> int:
    """Run ``export`` with the parsed ``args``; the exit status."""
    from disk_trt_ros.export.onnx_export import export_onnx
    from disk_trt_ros.export.weights import load_disk

    compat = TrtCompat(args.trt_compat)
    info = ModelInfo(
        height=args.height,
        width=args.width,
        max_keypoints=args.max_keypoints,
        input_format=InputFormat(args.input_format),
        input_dtype=compat.input_dtype,
        nms_window=args.nms_window,
        score_threshold=args.score_threshold,
        trt_compat=compat,
        weights=args.weights,
        weights_sha256="",
        package_version=__version__,
        instance_norm=InstanceNorm(args.instance_norm),
        fp16_policy=Fp16Policy(args.fp16_policy),
    )
    summary = (
        f"image {list(info.input_shape)} {info.input_dtype} {info.input_format.value}, K={info.max_keypoints}, "
        f"opset {compat.max_opset}, instance norms {info.instance_norm}, fp16 policy {info.fp16_policy}"
    )
    return export_checked(info, load_disk, export_onnx, args.output, summary)


def export_checked(
    info: Info,
    load: Callable[[str], tuple[Module, str]],
    export: Callable[[Module, Info, str], onnx.ModelProto],
    output: str,
    summary: str,
) -> int:
    """What ``export`` and ``export-matcher`` do once they have the settings: check them, load the weights
    (``load(info.weights)``), ``export`` the model with the weights' sha256 in its metadata to ``output`` (saying
    when it replaces a file), and check the graph against the TensorRT support rules of ``info.trt_compat``.

    Raises:
        ContractError: invalid settings, or a written graph that breaks those rules (each violation is printed).
        WeightsError: the weights cannot be loaded.
    """
    from disk_trt_ros.export.trt_check import check_model

    info.validate()
    module, sha256 = load(info.weights)
    info = dataclasses.replace(info, weights_sha256=sha256)
    print(f"weights: {info.weights} sha256 {sha256}")
    if os.path.exists(output):
        print(f"replacing the existing {output}")
    model = export(module, info, output)
    compat = info.trt_compat
    violations = check_model(model, compat.value)
    print(f"wrote {output}: {summary}, {len(model.graph.node)} nodes")
    for violation in violations:
        print(f"  TensorRT {compat.value} check: {violation}", file=sys.stderr)
    if violations:
        raise ContractError("the exported graph breaks the TensorRT support rules above; please report this")
    print(f"TensorRT {compat.value} support check: ok")
    return 0
