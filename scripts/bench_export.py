#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Export benchmark: onnxruntime (CPU) on the exported model vs kornia's DISK (CPU), same run, same photos.

Usage: python scripts/bench_export.py [--weights random:0|PATH] [--iters 20] [--threads N] [--out FILE.json]

Exports a model for each size (240x320, K=1024 and 480x640, K=2048; default rgb, --trt-compat 8.2), times it with
`python -m disk_trt_ros bench --backend onnxruntime --compare kornia`, and prints the medians and their ratio.
Random weights (the default) time the same network as pretrained ones; the keypoints themselves mean nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

from disk_trt_ros import __version__
from disk_trt_ros.contract import InputFormat, ModelInfo, TrtCompat
from disk_trt_ros.export.onnx_export import export_onnx
from disk_trt_ros.export.weights import load_disk
from disk_trt_ros.inference import bench

SIZES = ((240, 320, 1024), (480, 640, 2048))
GOAL_RATIO = 0.8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="random:0")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--threads", type=int, help="onnxruntime threads (default: one per core)")
    parser.add_argument("--out", type=Path, help="write every figure to this JSON file")
    args = parser.parse_args()
    disk, sha256 = load_disk(args.weights)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for height, width, max_keypoints in SIZES:
            info = ModelInfo(
                height=height, width=width, max_keypoints=max_keypoints, input_format=InputFormat.RGB,
                input_dtype="float32", nms_window=5, score_threshold=0.0, trt_compat=TrtCompat.TRT_8_2,
                weights=args.weights, weights_sha256=sha256, package_version=__version__,
            )
            model = Path(directory) / f"disk_{height}x{width}.onnx"
            export_onnx(disk, info, model)
            bench_parser = argparse.ArgumentParser()
            bench.add_arguments(bench_parser)
            bench_arguments = ["--backend", "onnxruntime", "--model", str(model), "--iters", str(args.iters),
                               "--warmup", "3", "--compare", "kornia"]
            if args.threads:
                bench_arguments += ["--threads", str(args.threads)]
            print(f"\n== {height}x{width}, K={max_keypoints}, weights {args.weights}")
            results = bench.run_bench(bench_parser.parse_args(bench_arguments))
            rows.append({"size": f"{height}x{width}", "max_keypoints": max_keypoints, **results})
    machine = platform.processor() or platform.machine()
    print(f"\nmachine: {platform.node()}, {machine}, python {platform.python_version()}")
    print(f"{'input':<10} {'K':>5} {'onnxruntime ms':>15} {'kornia ms':>10} {'ratio':>7}  goal <= {GOAL_RATIO}")
    for row in rows:
        verdict = "met" if row["ratio"] <= GOAL_RATIO else "missed"
        print(f"{row['size']:<10} {row['max_keypoints']:>5} {row['latency']['median_ms']:>15.1f} "
              f"{row['kornia']['median_ms']:>10.1f} {row['ratio']:>7.3f}  {verdict}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
