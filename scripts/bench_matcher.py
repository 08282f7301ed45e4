#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Matcher benchmark: latency per image pair of mutual nearest neighbours (numpy, torch) and of LightGlue for DISK
(onnxruntime, torch), side by side with kornia's LightGlue, in one run.

Usage: python scripts/bench_matcher.py [--keypoints 2048 512] [--iters 10] [--warmup 2] [--device cpu|cuda]
                                       [--tensorrt auto|none|fp32|fp16] [--images DIR] [--json FILE]

- Keypoints: random-weight DISK (seed 0) on the first two photographs of ``--images`` (default: ../shared/data/images
  beside this checkout when present, else scikit-image's samples), resized to 480x640; K slots per image, all valid
  (the K strongest, which is what the extractor returns for that K).
- LightGlue: ``random:0`` weights (they cost what the real ones cost; their matches mean nothing), exported for each K
  with filter threshold 0 (random weights give no match above the default 0.1; the threshold costs nothing).
  kornia's LightGlue runs with the same weights and the same settings (all layers, no pruning:
  ``depth_confidence=-1, width_confidence=-1``) on the same keypoints, on ``--device``, as users call it (on CUDA
  with its flash attention in float16).
- Latency: numpy slots in, numpy matches out (uploads, downloads and synchronisation included), per pair; median and
  p90 over ``--iters`` rounds (ten calls per round for mutual nearest neighbours) after ``--warmup`` untimed rounds.
  Each round runs every matcher once in turn, so that other work on the machine slows them alike.
  Torch runs on ``--device`` (default: CUDA when available); onnxruntime on its CUDA provider when it has one, else
  the CPU.
- TensorRT (``--tensorrt``; ``auto``: fp16 where ``tensorrt`` imports, else none): the exported LightGlue's engine,
  built through the engine cache into the temporary directory (its build time is not timed), as the matcher node runs
  it (``create_matcher``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from disk_trt_ros import __version__
from disk_trt_ros.contract import BackendName, InputFormat, MatcherMethod, ModelInfo, Precision, TrtCompat
from disk_trt_ros.export.lightglue_graph import StaticLightGlue
from disk_trt_ros.export.lightglue_weights import random_lightglue
from disk_trt_ros.export.onnx_export import export_matcher_onnx
from disk_trt_ros.export.pipeline import DiskPipeline
from disk_trt_ros.export.weights import random_disk
from disk_trt_ros.inference.base import BackendOptions, KeypointSlots, Matcher, MatcherOptions, Matches
from disk_trt_ros.inference.bench import LatencyStats
from disk_trt_ros.inference.mnn import NumpyMnnMatcher
from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeLightGlue
from disk_trt_ros.inference.registry import create_matcher
from disk_trt_ros.inference.torch_backend import pick_device
from disk_trt_ros.inference.torch_matchers import TorchLightGlue, TorchMnnMatcher
from disk_trt_ros.matcher_contract import MatcherInfo
from disk_trt_ros.photos import describe_source, load_photos

HEIGHT, WIDTH = 480, 640
FILTER_THRESHOLD = 0.0  # random weights give no match above kornia's 0.1; the threshold costs nothing either way
MNN_REPEATS = 10  # mutual nearest neighbours take milliseconds: time ten calls per round
SHARED_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"

Pair = tuple[KeypointSlots, KeypointSlots]


def photo_pair_slots(directory: Path | None, max_keypoints: int, device: torch.device) -> Pair:
    """Random-weight DISK's K slots on the first two photographs, resized to HEIGHT x WIDTH."""
    disk, _ = random_disk(0)
    info = ModelInfo(HEIGHT, WIDTH, max_keypoints, InputFormat.RGB, "float32", 5, 0.0, TrtCompat.TRT_8_2,
                     "random:0", "", __version__)
    pipeline = DiskPipeline(disk, info).eval().to(device)
    slots = []
    for rgb in load_photos(directory)[:2]:
        image = torch.from_numpy(rgb).to(device).permute(2, 0, 1)[None].to(torch.float32)
        image = F.interpolate(image, size=(HEIGHT, WIDTH), mode="bilinear", antialias=True).clamp(0, 255).round()
        with torch.inference_mode():
            keypoints, _, descriptors, count = pipeline(image.permute(0, 2, 3, 1))
        slots.append(KeypointSlots(keypoints.cpu().numpy(), descriptors.cpu().numpy(), count.cpu().numpy()))
        if slots[-1].count < max_keypoints:
            raise SystemExit(f"DISK found only {slots[-1].count} keypoints, fewer than K={max_keypoints}")
    return slots[0], slots[1]


def first_slots(slots: KeypointSlots, k: int) -> KeypointSlots:
    """The first ``k`` slots (the ``k`` strongest keypoints), all valid."""
    return KeypointSlots(
        np.ascontiguousarray(slots.keypoints[:, :k]), np.ascontiguousarray(slots.descriptors[:, :k]),
        np.array([k], dtype=np.int32),
    )


def kornia_runner(lightglue: torch.nn.Module, device: torch.device) -> Callable[[Pair], Matches]:
    """kornia's LightGlue from numpy slots to numpy matches (valid keypoints only), like :meth:`Matcher.match`."""
    lightglue = lightglue.to(device).eval()
    size = torch.tensor([[WIDTH, HEIGHT]], device=device)

    def image(slots: KeypointSlots) -> dict[str, torch.Tensor]:
        count = slots.count
        return {
            "keypoints": torch.from_numpy(slots.keypoints[:, :count]).to(device),
            "descriptors": torch.from_numpy(slots.descriptors[:, :count]).to(device),
            "image_size": size,
        }

    def run(pair: Pair) -> Matches:
        with torch.inference_mode():
            result = lightglue({"image0": image(pair[0]), "image1": image(pair[1])})
        matches0 = result["matches0"].to(torch.int32).cpu().numpy()
        return Matches(matches0, result["matching_scores0"].float().cpu().numpy() * (matches0 >= 0))

    return run


@dataclasses.dataclass
class Row:
    method: str
    device: str
    keypoints: int
    stats: LatencyStats
    agreement: str


def interleaved_latency(
    runners: dict[str, Callable[[], object]], rounds: int, warmup: int, repeats: dict[str, int]
) -> dict[str, LatencyStats]:
    """Time the runners in turn, round after round (``repeats[name]`` timed calls per round), so that other work on the
    machine slows them alike; ``warmup`` untimed rounds first."""
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for round_index in range(warmup + rounds):
        for name, run in runners.items():
            for _ in range(repeats.get(name, 1)):
                started = time.perf_counter()
                run()
                if round_index >= warmup:
                    seconds[name].append(time.perf_counter() - started)
    return {name: LatencyStats.from_seconds(values) for name, values in seconds.items()}


def bench_k(k: int, pair: Pair, device: torch.device, args: argparse.Namespace, directory: str) -> list[Row]:
    """Time every matcher and kornia's LightGlue at K=k on the pair."""
    lightglue, sha256 = random_lightglue(0)
    info = MatcherInfo(MatcherMethod.LIGHTGLUE, HEIGHT, WIDTH, k, FILTER_THRESHOLD, TrtCompat.TRT_8_2, "random:0",
                       sha256, __version__)
    path = os.path.join(directory, f"lightglue_{k}.onnx")
    export_matcher_onnx(lightglue, info, path)
    onnxruntime = OnnxRuntimeLightGlue(path, threads=args.threads)
    ort_device = "cuda" if "CUDAExecutionProvider" in onnxruntime.providers else "cpu"
    pair = (first_slots(pair[0], k), first_slots(pair[1], k))
    lightglue.conf.filter_threshold = FILTER_THRESHOLD
    kornia = kornia_runner(lightglue, device)
    matchers: list[tuple[Matcher, str]] = [
        (NumpyMnnMatcher(), "cpu"),
        (TorchMnnMatcher(device=str(device)), str(device)),
        (onnxruntime, ort_device),
        (TorchLightGlue(StaticLightGlue(lightglue, info), str(device)), str(device)),
    ]
    if args.tensorrt != "none":
        options = MatcherOptions(model=Path(path), backend=BackendOptions(precision=Precision(args.tensorrt)))
        matchers.append((create_matcher(MatcherMethod.LIGHTGLUE, BackendName.TENSORRT, options, print), "cuda"))
    runners: dict[str, Callable[[], object]] = {"kornia LightGlue": lambda: kornia(pair)}
    runners.update({matcher.name: functools.partial(matcher.match, *pair) for matcher, _ in matchers})
    repeats = {matcher.name: MNN_REPEATS for matcher, _ in matchers if "mnn" in matcher.name}
    stats = interleaved_latency(runners, args.iters, args.warmup, repeats)
    reference_mnn = matchers[0][0].match(*pair)
    reference_lightglue = kornia(pair)
    rows = [Row("kornia LightGlue", str(device), k, stats["kornia LightGlue"], f"{reference_lightglue.count} matches")]
    for matcher, where in matchers:
        matches = matcher.match(*pair)
        reference, against = (reference_mnn, "numpy MNN") if "mnn" in matcher.name else (reference_lightglue, "kornia")
        differing = int((matches.matches0 != reference.matches0).sum())
        summary = f"{matches.count} matches, {differing} rows differ from {against}"
        rows.append(Row(matcher.name, where, k, stats[matcher.name], summary))
        print(f"# {matcher.describe()}")
    return rows


def machine() -> str:
    import kornia
    import onnxruntime

    cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, {cuda}, load average {os.getloadavg()[0]:.2f}; Python "
        f"{platform.python_version()}, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"kornia {kornia.__version__}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keypoints", type=int, nargs="+", default=[2048, 512], help="K values (default 2048 512)")
    parser.add_argument("--iters", type=int, default=10, help="timed rounds (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--threads", type=int, help="onnxruntime CPU threads (default: one per core)")
    parser.add_argument("--tensorrt", choices=("auto", "none", "fp32", "fp16"), default="auto",
                        help="LightGlue's TensorRT engine at this precision (auto: fp16 where tensorrt imports)")
    parser.add_argument("--images", type=Path, help="directory of photographs (default ../shared/data/images)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args()
    if args.tensorrt == "auto":
        args.tensorrt = "fp16" if importlib.util.find_spec("tensorrt") is not None else "none"
    device = pick_device(args.device)
    directory = args.images or (SHARED_PHOTOS if SHARED_PHOTOS.is_dir() else None)
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"# {' '.join(sys.argv)}\n# {started.isoformat(timespec='seconds')}, {machine()}")
    print(f"# keypoints: random DISK on the first two photographs of {describe_source(directory)}, {WIDTH}x{HEIGHT}")
    pair = photo_pair_slots(directory, max(args.keypoints), device)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as temporary:
        for k in args.keypoints:
            rows += bench_k(k, pair, device, args, temporary)
    kornia_medians = {row.keypoints: row.stats.median_ms for row in rows if row.method.startswith("kornia")}
    print("| K | matcher | device | median ms | p90 ms | × kornia LightGlue | output |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        ratio = row.stats.median_ms / kornia_medians[row.keypoints]
        print(f"| {row.keypoints} | {row.method} | {row.device} | {row.stats.median_ms:.2f} | {row.stats.p90_ms:.2f} | "
              f"{ratio:.3f} | {row.agreement} |")
    if args.json:
        figures = {"command": sys.argv, "date": started.isoformat(timespec="seconds"), "machine": machine(),
                   "rows": [dataclasses.asdict(row) for row in rows]}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
