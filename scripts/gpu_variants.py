#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""GPU experiment: where the PyTorch-CUDA pipeline's time goes, and which precision/layout variants pay.

Usage (on a CUDA machine, repository root): python scripts/gpu_variants.py [--iters 200] [--compile]

Times, with CUDA events (median and p99 of --iters runs after warm-up), at 480x640, K=2048, random:0 weights:
kornia's DISK as users run it (cuDNN TF32 allowed, PyTorch's default) and in strict fp32, and DiskPipeline
under CUDA graphs in strict fp32, TF32, fp16 autocast, a U-Net run wholly in float16, and the latter in
channels_last (and compiled with torch.compile with --compile). Each variant's keypoints are compared with strict-fp32
kornia on the same photo.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from disk_trt_ros import __version__
from disk_trt_ros.contract import InputFormat, ModelInfo, TrtCompat
from disk_trt_ros.export.pipeline import DiskPipeline
from disk_trt_ros.export.weights import random_disk

HEIGHT, WIDTH, K = 480, 640, 2048


class HalfUnet(torch.nn.Module):
    """The U-Net wholly in float16 (InstanceNorm included), float32 in and out."""

    def __init__(self, unet: torch.nn.Module, channels_last: bool) -> None:
        super().__init__()
        self.channels_last = channels_last
        self.unet = unet.half().to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = rgb.half()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.unet(x).float().contiguous()


def time_cuda(run: Callable[[], object], iters: int, warmup: int = 20) -> tuple[float, float]:
    for _ in range(warmup):
        run()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times), float(np.percentile(times, 99))


def graphed(forward: Callable[[], tuple[torch.Tensor, ...]]) -> tuple[Callable[[], None], tuple[torch.Tensor, ...]]:
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            forward()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outputs = forward()
    return graph.replay, outputs


def cudnn_flags(allow_tf32: bool) -> contextlib.AbstractContextManager:
    return torch.backends.cudnn.flags(enabled=True, allow_tf32=allow_tf32)


def half_unet(pipeline: DiskPipeline, channels_last: bool) -> None:
    pipeline.unet = HalfUnet(pipeline.unet, channels_last)


def forward_of(
    pipeline: DiskPipeline, static_input: torch.Tensor, context: Callable[[], contextlib.AbstractContextManager]
) -> Callable[[], tuple[torch.Tensor, ...]]:
    def forward() -> tuple[torch.Tensor, ...]:
        with torch.inference_mode(), context():
            return pipeline(static_input)

    return forward


def keypoint_set(xy: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(x), int(y)) for x, y in xy.tolist()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--photo", default="")
    args = parser.parse_args()
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = False
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")

    disk, sha256 = random_disk(0)
    info = ModelInfo(
        HEIGHT, WIDTH, K, InputFormat.RGB, "uint8", 5, 0.0, TrtCompat.TRT_10, "random:0", sha256, __version__
    )
    if args.photo and Path(args.photo).is_file():
        bgr = cv2.resize(cv2.imread(args.photo), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    else:
        from skimage import data

        image = cv2.resize(data.astronaut(), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    pixels = torch.from_numpy(image).to(device).unsqueeze(0)
    rgb = pixels.permute(0, 3, 1, 2).float().div(255.0)

    disk = disk.to(device).eval()
    with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        reference = keypoint_set(disk(rgb, n=K)[0].keypoints)
    rows = []

    def report(name: str, timing: tuple[float, float], keypoints: set[tuple[int, int]]) -> None:
        differing = len(keypoints ^ reference)
        rows.append((name, *timing, differing))
        print(f"{name:<44} median {timing[0]:7.3f} ms  p99 {timing[1]:7.3f} ms  "
              f"differing {differing:5d} of {len(reference)}", flush=True)

    with torch.inference_mode():
        for label, tf32 in (("kornia DISK, default (TF32 convs)", True), ("kornia DISK, strict fp32", False)):
            with torch.backends.cudnn.flags(enabled=True, allow_tf32=tf32):
                report(label, time_cuda(lambda: disk(rgb, n=K), args.iters), keypoint_set(disk(rgb, n=K)[0].keypoints))
            with torch.backends.cudnn.flags(enabled=True, allow_tf32=tf32):
                report(label.replace("DISK", "U-Net only"), time_cuda(lambda: disk.unet(rgb), args.iters), reference)

    variants: list[tuple[str, Callable[[DiskPipeline], None], Callable[[], contextlib.AbstractContextManager]]] = [
        ("pipeline, CUDA graph, strict fp32", lambda p: None, lambda: cudnn_flags(allow_tf32=False)),
        ("pipeline, CUDA graph, TF32", lambda p: None, lambda: cudnn_flags(allow_tf32=True)),
        ("pipeline, CUDA graph, fp16 autocast", lambda p: None, lambda: torch.autocast("cuda", dtype=torch.float16)),
        ("pipeline, CUDA graph, U-Net in fp16", lambda p: half_unet(p, False), contextlib.nullcontext),
        ("pipeline, CUDA graph, U-Net fp16 channels_last", lambda p: half_unet(p, True), contextlib.nullcontext),
    ]
    if args.compile:
        variants.append((
            "pipeline, CUDA graph, U-Net fp16 compiled",
            lambda p: setattr(p, "unet", torch.compile(HalfUnet(p.unet, True), mode="max-autotune-no-cudagraphs")),
            contextlib.nullcontext,
        ))
    for name, modify, context in variants:
        fresh, _ = random_disk(0)
        pipeline = DiskPipeline(fresh, info).to(device).eval()
        modify(pipeline)
        try:
            replay, outputs = graphed(forward_of(pipeline, pixels.clone(), context))
        except Exception as error:  # an experiment: report and go on
            print(f"{name}: failed: {error}", flush=True)
            continue
        timing = time_cuda(replay, args.iters)
        count = int(outputs[3][0])  # after the replays: capturing alone runs nothing
        report(name, timing, keypoint_set(outputs[0][0, :count]))
    print("\nvariant | median ms | p99 ms | keypoints differing from strict-fp32 kornia")
    for name, median, p99, differing in rows:
        print(f"{name} | {median:.3f} | {p99:.3f} | {differing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
