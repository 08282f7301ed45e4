#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""What checking one frame's outputs against the contract costs (``Features.from_outputs``), on this CPU.

Usage: ``source install/setup.sh && python scripts/bench_output_check.py [--max-keypoints 2048] [--runs 1000]``.
Prints the best of five rounds for the check alone (``output_violations``) and for ``from_outputs`` with it: valid
outputs of a 480x640 model with K keypoints, all slots used.
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np

from disk_trt_ros.contract import DESCRIPTOR_DIM, InputFormat, ModelInfo, TrtCompat
from disk_trt_ros.inference.base import Features, output_violations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-keypoints", type=int, default=2048)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    k = args.max_keypoints
    info = ModelInfo(height=480, width=640, max_keypoints=k, input_format=InputFormat.RGB, input_dtype="float32",
                     nms_window=5, score_threshold=0.0, trt_compat=TrtCompat.TRT_8_2, weights="random:0",
                     weights_sha256="", package_version="")
    rng = np.random.default_rng(0)
    keypoints = rng.integers(0, 480, (1, k, 2)).astype(np.float32)
    scores = np.sort(rng.random((1, k)).astype(np.float32))[:, ::-1].copy()
    descriptors = rng.normal(size=(1, k, DESCRIPTOR_DIM)).astype(np.float32)
    descriptors /= np.linalg.norm(descriptors, axis=2, keepdims=True)
    outputs = (keypoints, scores, descriptors, np.array([k], np.int32))
    features = Features.from_outputs(*outputs, info)
    for label, call in (("output_violations", lambda: output_violations(features, info)),
                        ("Features.from_outputs", lambda: Features.from_outputs(*outputs, info))):
        best = min(timeit.repeat(call, number=args.runs, repeat=5)) / args.runs
        print(f"{label}, K={k}: {best * 1e3:.3f} ms per frame")


if __name__ == "__main__":
    main()
