# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m disk_trt_ros bench``: a backend's latency on real photographs, optionally against kornia's DISK.

``bench --backend X --model M [--iters N] [--compare kornia]`` prints the median, p90 and p99 latency and the
frames per second of ``Backend.run`` (a uint8 image in, numpy features out: copies and synchronisation included),
after warm-up runs; for TensorRT also the engine's GPU time alone (CUDA events) and the per-frame overhead beyond
it. The photographs are those of ``--images`` (default: ``../shared/data/images`` beside this checkout when present,
else scikit-image's sample photos), resized to the model's size.

``--compare kornia`` also times ``kornia.feature.DISK`` with the same weights (rebuilt from the model's metadata:
``random:SEED`` weights are regenerated, a checkpoint path is loaded; its sha256 must match the model's), on the
backend's device, from the same uint8 images to numpy features, and prints the ratio of the medians and how well
the keypoints agree (same pixel, descriptor cosine, score difference).

Loading and converting the photographs needs OpenCV; it is imported only then, so that importing this module (and
the runtime side of :mod:`disk_trt_ros.inference`) does not.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from disk_trt_ros.cli_arguments import integer, output_file
from disk_trt_ros.contract import BackendName, ModelInfo, Precision
from disk_trt_ros.inference.base import MAX_THREADS, Backend, Features
from disk_trt_ros.inference.comparison import agreement
from disk_trt_ros.inference.registry import create_backend, resolve_backend_name
from disk_trt_ros.photos import describe_source, load_photos, shared_photo_directory

SAME_PIXEL_PX = 0.5  # keypoints are integer pixels: within half a pixel means the same pixel
MAX_RUNS = 1_000_000

Runner = Callable[[np.ndarray], Features]


@dataclasses.dataclass(frozen=True)
class LatencyStats:
    """Latency of repeated runs, in milliseconds, and the frame rate of running them back to back."""

    median_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    fps: float
    runs: int

    @classmethod
    def from_seconds(cls, seconds: Sequence[float]) -> LatencyStats:
        milliseconds = np.asarray(seconds, dtype=np.float64) * 1e3
        median, p90, p99 = np.percentile(milliseconds, [50, 90, 99])
        mean = float(milliseconds.mean())
        return cls(float(median), float(p90), float(p99), mean, 1e3 / mean, len(milliseconds))

    def row(self, label: str) -> str:
        return f"{label:<28} {self.median_ms:9.2f} {self.p90_ms:9.2f} {self.p99_ms:9.2f} {self.fps:9.1f}"


def measure(run: Runner, images: Sequence[np.ndarray], iterations: int, warmup: int) -> LatencyStats:
    """Time ``run`` over ``images`` in turn: ``warmup`` untimed runs, then ``iterations`` timed ones."""
    for index in range(warmup):
        run(images[index % len(images)])
    seconds = []
    for index in range(iterations):
        started = time.perf_counter()
        run(images[index % len(images)])
        seconds.append(time.perf_counter() - started)
    return LatencyStats.from_seconds(seconds)


def engine_latency(backend: Backend, images: Sequence[np.ndarray], iterations: int) -> LatencyStats | None:
    """The model's GPU time alone over ``images`` in turn, where the backend measures it (else None)."""
    milliseconds = []
    for index in range(iterations):
        measured = backend.engine_milliseconds(images[index % len(images)])
        if measured is None:
            return None
        milliseconds.append(measured / 1e3)
    return LatencyStats.from_seconds(milliseconds)


def bench_images(info: ModelInfo, directory: Path | None) -> tuple[list[np.ndarray], str]:
    """The photographs of ``directory`` (None: scikit-image's) in the model's size and input format, converted as the
    node converts, and where they came from."""
    from disk_trt_ros.image_conversion import ImageConverter  # OpenCV: only where photographs are converted

    photos, source = load_photos(directory), describe_source(directory)
    converter = ImageConverter(info.height, info.width, info.input_format)
    images = [converter.from_pixels(rgb, "rgb").image for rgb in photos]
    return images, f"{len(images)} photos from {source}"


def kornia_runner(info: ModelInfo, weights: str, device: str, allow_tf32: bool = True) -> Runner:
    """kornia's DISK with the model's weights, K, NMS window and threshold, from a uint8 image in the model's input
    format to numpy features (like ``Backend.run``).

    ``allow_tf32`` is PyTorch's default, which lets cuDNN run float32 convolutions in TF32 on GPUs that have it: that
    is how users run kornia, and it changes keypoints; ``False`` gives strict float32, the numerical reference.
    """
    import contextlib

    import torch

    from disk_trt_ros.export.weights import load_disk, load_exported

    remedy = "pass --weights with the checkpoint the model was exported from"
    disk = load_exported(load_disk, weights, info.weights_sha256, "the model", remedy).to(device).eval()
    order = list(info.input_format.rgb_channels)

    def run(image: np.ndarray) -> Features:
        strict = torch.backends.cudnn.flags(enabled=True, allow_tf32=False)
        numerics = strict if not allow_tf32 else contextlib.nullcontext()
        with torch.inference_mode(), numerics:
            pixels = torch.from_numpy(image).to(device)[..., order].permute(2, 0, 1).unsqueeze(0)
            rgb = pixels.to(torch.float32).div(255.0)
            result = disk(rgb, n=info.max_keypoints, window_size=info.nms_window, score_threshold=info.score_threshold)[
                0
            ]
            return Features(
                result.keypoints.cpu().numpy(), result.detection_scores.cpu().numpy(), result.descriptors.cpu().numpy()
            )

    return run


def agreement_summary(ours: Sequence[Features], reference: Sequence[Features]) -> dict[str, float | int]:
    """Worst case over the images of how ``ours`` agrees with ``reference`` (same pixel within half a pixel)."""
    results = [
        agreement(a.keypoints, a.scores, a.descriptors, b.keypoints, b.scores, b.descriptors, SAME_PIXEL_PX)
        for a, b in zip(ours, reference)
    ]
    return {
        "images": len(results),
        "overlap_min": min(r.overlap for r in results),
        "differing_max": max(max(a.count, b.count) - r.matched for a, b, r in zip(ours, reference, results)),
        "score_abs_diff_max": max((r.score_max_abs_diff or 0.0) for r in results),
        "descriptor_cosine_min": min(
            (r.descriptor_cosine_min if r.descriptor_cosine_min is not None else 1.0) for r in results
        ),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``bench``'s arguments to ``parser`` (called by :mod:`disk_trt_ros.cli`'s registry)."""
    parser.add_argument(
        "--backend", choices=BackendName.values(), default="auto", help="backend to time (default %(default)s)"
    )
    parser.add_argument("--model", required=True, help="exported ONNX model (a TensorRT engine for --backend tensorrt)")
    parser.add_argument(
        "--engine", type=output_file, help="TensorRT engine for the model (built when missing or stale)"
    )
    parser.add_argument("--precision", choices=Precision.values(), default="fp32", help="default %(default)s")
    parser.add_argument("--threads", type=integer(1, MAX_THREADS), help="ONNX Runtime CPU threads (default: its own)")
    parser.add_argument(
        "--torch-compile", action="store_true", help="torch backend on CUDA: compile the U-Net (slow start, faster run)"
    )
    parser.add_argument("--iters", type=integer(1, MAX_RUNS), default=100, help="timed runs (default %(default)s)")
    parser.add_argument(
        "--warmup", type=integer(0, MAX_RUNS), default=10, help="untimed runs first (default %(default)s)"
    )
    parser.add_argument(
        "--images", type=Path,
        help="directory of JPEG/PNG photographs (default: ../shared/data/images beside this checkout when present, "
        "else scikit-image's)",
    )
    parser.add_argument("--compare", choices=("kornia",), help="also time kornia's DISK with the same weights")
    parser.add_argument("--weights", help="weights for kornia (default: those the model's metadata names)")
    parser.add_argument("--json", type=output_file, help="also write the results to this JSON file")


def main(args: argparse.Namespace) -> int:
    """Run ``bench`` with the parsed ``args``; the exit status."""
    results = run_bench(args)
    if args.json is not None:
        from disk_trt_ros.atomic import atomic_write_bytes

        atomic_write_bytes(args.json, (json.dumps(results, indent=2) + "\n").encode())
    return 0


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Time the backend (and kornia); print the table; return every figure."""
    name, reason = resolve_backend_name(args.backend)
    if args.backend == "auto":
        print(f"backend auto -> {name}: {reason}")
    backend = create_backend(
        name, args.model, precision=args.precision, threads=args.threads, engine_path=args.engine,
        compile_unet=args.torch_compile,
    )
    try:
        info = backend.info
        images, source = bench_images(info, args.images or shared_photo_directory())
        print(f"backend: {backend.describe()}")
        print(f"images: {source}; {args.iters} timed runs after {args.warmup} warm-up runs")
        stats = measure(backend.run, images, args.iters, args.warmup)
        results: dict[str, Any] = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.node(),
            "backend": backend.describe(),
            "model": str(args.model),
            "images": source,
            "latency": dataclasses.asdict(stats),
        }
        print(f"{'':<28} {'median ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'fps':>9}")
        print(stats.row(f"{backend.name} ({backend.precision})"))
        engine = engine_latency(backend, images, args.iters)
        if engine is not None:
            print(engine.row("  engine alone (CUDA events)"))
            print(f"  per-frame overhead beyond the engine: {stats.median_ms - engine.median_ms:.3f} ms (median)")
            results.update(engine=dataclasses.asdict(engine), overhead_ms=stats.median_ms - engine.median_ms)
        if args.compare == "kornia":
            device = backend.compute_device
            weights = args.weights or info.weights
            kornia = kornia_runner(info, weights, device)
            kornia_stats = measure(kornia, images, args.iters, args.warmup)
            ratio = stats.median_ms / kornia_stats.median_ms
            print(kornia_stats.row(f"kornia DISK ({device})"))
            results.update(kornia=dataclasses.asdict(kornia_stats), kornia_device=device, ratio=ratio)
            reference = kornia
            if device == "cuda":
                reference = kornia_runner(info, weights, device, allow_tf32=False)
                strict_stats = measure(reference, images, args.iters, args.warmup)
                print(strict_stats.row("kornia DISK (cuda, no TF32)"))
                results.update(kornia_strict_fp32=dataclasses.asdict(strict_stats))
            print(f"median ratio: {ratio:.3f}x kornia")
            expected = [reference(i) for i in images]
            if device == "cuda":  # kornia in TF32 against strict fp32
                kornia_agreement = agreement_summary([kornia(i) for i in images], expected)
                print(f"kornia (TF32) keeps {kornia_agreement['overlap_min']:.4f} of strict fp32's keypoints at least")
                results.update(kornia_agreement=kornia_agreement)
            agreement = agreement_summary([backend.run(i) for i in images], expected)
            print(
                f"agreement with kornia{' (strict fp32)' if device == 'cuda' else ''} over {agreement['images']} "
                f"images: keypoint overlap >= {agreement['overlap_min']:.4f}, at most {agreement['differing_max']} "
                f"differing keypoints, score difference <= {agreement['score_abs_diff_max']:.2e}, "
                f"descriptor cosine >= {agreement['descriptor_cosine_min']:.6f}"
            )
            results.update(agreement=agreement)
        return results
    finally:
        backend.close()
