# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m disk_trt_ros build-engine --onnx M --engine E [--fp16|--fp32] [--workspace-mib N]
[--timing-cache F] [--tactic-sources A,B] [--if-needed] [--device D]``: build (or reuse) the engine ``E`` and its
sidecar ``E.json``.

``--if-needed`` rebuilds only when the sidecar no longer matches (see :mod:`~disk_trt_ros.inference.tensorrt.cache`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from disk_trt_ros.cli_arguments import integer, output_file
from disk_trt_ros.contract import Precision
from disk_trt_ros.inference.tensorrt.builder import DEFAULT_WORKSPACE_MIB, BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine

MAX_WORKSPACE_MIB = 1 << 20  # 1 TiB
MAX_DEVICE_INDEX = 255


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``build-engine``'s arguments to ``parser`` (called by :mod:`disk_trt_ros.cli`'s registry)."""
    parser.add_argument("--onnx", required=True, type=Path, help="exported model (python -m disk_trt_ros export)")
    parser.add_argument(
        "--engine", required=True, type=output_file, help="engine file to write; its sidecar is ENGINE.json"
    )
    precision = parser.add_mutually_exclusive_group()
    for choice, meaning in ((Precision.FP16, "fp16 (default)"), (Precision.FP32, "fp32 only")):
        precision.add_argument(f"--{choice}", dest="precision", action="store_const", const=choice, help=meaning)
    parser.set_defaults(precision=Precision.FP16)
    parser.add_argument(
        "--workspace-mib",
        type=integer(1, MAX_WORKSPACE_MIB),
        help=f"builder workspace limit (default {DEFAULT_WORKSPACE_MIB}; when not given, --if-needed accepts an engine "
        "built with any limit)",
    )
    parser.add_argument(
        "--timing-cache", type=output_file, help="TensorRT timing cache to load and update (speeds rebuilds)"
    )
    parser.add_argument(
        "--tactic-sources",
        type=lambda text: tuple(name.strip().upper() for name in text.split(",") if name.strip()),
        default=(),
        help="TensorRT tactic sources to enable, comma-separated (e.g. CUDNN,EDGE_MASK_CONVOLUTIONS; default: "
        "TensorRT's own choice); leave CUBLAS out where cuBLAS is not installed",
    )
    parser.add_argument(
        "--if-needed", action="store_true", help="reuse the engine when its sidecar matches and it deserializes"
    )
    parser.add_argument(
        "--device", type=integer(0, MAX_DEVICE_INDEX), default=0, help="CUDA device index (default %(default)s)"
    )


def main(args: argparse.Namespace) -> int:
    """Run ``build-engine`` with the parsed ``args``; the exit status."""
    settings = BuildSettings(args.precision, args.workspace_mib, args.timing_cache, args.tactic_sources)
    ensure_engine(args.onnx, args.engine, settings, if_needed=args.if_needed, device=args.device)
    return 0
