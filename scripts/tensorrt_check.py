#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The TensorRT path checked on real TensorRT: build-engine and the TensorRT backend over the export profiles.

Three steps, the first and last on a development machine, the middle on a GPU machine with TensorRT:

    python scripts/tensorrt_check.py prepare --out DIR [--profiles NAME,...]
        exports each profile's model (random:0 weights), converts the photographs as the node does, and stores the
        references: kornia's DISK in strict float32 and ONNX Runtime on the exported model (both on the CPU).
    python scripts/tensorrt_check.py run DIR --out RESULTS.json [--timing-cache FILE] [--iters 200]
        for each profile and precision: `python -m disk_trt_ros build-engine` in its own process, then the TensorRT
        backend in this one (so every engine is loaded by another process than the one that built it): engine
        inspector (layers, plugins), latency (CUDA events around the engine alone; the frame's GPU work, a uint8
        image into pinned memory to the outputs in pinned memory, synchronised; `Backend.run`, which also copies
        the features out and checks them), and agreement with both references on every photograph.
    python scripts/tensorrt_check.py report RESULTS.json...
        prints the Markdown tables of docs/tensorrt.md.

`run` needs only numpy, onnx, tensorrt and a CUDA binding (no PyTorch, OpenCV or kornia), on Python 3.9 or later.
Agreement is measured as in the export's tests: the share of the reference's keypoints found at the same pixel,
the largest score difference and the smallest descriptor cosine over the keypoints both have.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

WEIGHTS = "random:0"
PRECISIONS = ("fp32", "fp16")


@dataclasses.dataclass(frozen=True)
class Profile:
    """One exported model: its size, K, input format, how its instance norms are written (``--instance-norm``) and
    what its fp16 engine computes in float16 (``--fp16-policy``); the precisions it is built in (a policy changes only
    the fp16 engine: its fp32 engine is the base profile's)."""

    name: str
    height: int
    width: int
    max_keypoints: int
    input_format: str = "rgb"
    instance_norm: str = "onnx"
    fp16_policy: str = "fp32-detector"
    precisions: tuple[str, ...] = PRECISIONS


PROFILES = (
    Profile("rgb_480x640_k2048", 480, 640, 2048),
    Profile("rgb_480x640_k4096", 480, 640, 4096),
    Profile("rgb_480x640_k8192", 480, 640, 8192),
    Profile("rgb_240x320_k1024", 240, 320, 1024),
    Profile("rgb_240x320_k2048", 240, 320, 2048),
    Profile("rgb_240x320_k4096", 240, 320, 4096),
    Profile("rgb_240x320_k8192", 240, 320, 8192),
    Profile("mono_240x320_k1024", 240, 320, 1024, "mono"),
    Profile("bgr_240x320_k2048", 240, 320, 2048, "bgr"),
    Profile("rgb_480x640_k2048_decomposed", 480, 640, 2048, instance_norm="decomposed"),
    Profile("rgb_240x320_k1024_decomposed", 240, 320, 1024, instance_norm="decomposed"),
    Profile("rgb_480x640_k2048_tf32detector", 480, 640, 2048, fp16_policy="tf32-detector", precisions=("fp16",)),
    Profile("rgb_480x640_k2048_fp16unet", 480, 640, 2048, fp16_policy="fp16-unet", precisions=("fp16",)),
    Profile("rgb_240x320_k1024_tf32detector", 240, 320, 1024, fp16_policy="tf32-detector", precisions=("fp16",)),
    Profile("rgb_240x320_k1024_fp16unet", 240, 320, 1024, fp16_policy="fp16-unet", precisions=("fp16",)),
    Profile("rgb_480x640_k2048_fp16unet_decomposed", 480, 640, 2048, instance_norm="decomposed",
            fp16_policy="fp16-unet", precisions=("fp16",)),
    Profile("rgb_240x320_k1024_fp16unet_decomposed", 240, 320, 1024, instance_norm="decomposed",
            fp16_policy="fp16-unet", precisions=("fp16",)),
)


def prepare(out: Path, profiles: Iterable[Profile]) -> None:
    """Export the models and store their inputs and references under ``out`` (one ``.onnx`` and ``.npz`` each)."""
    from disk_trt_ros import __version__
    from disk_trt_ros.contract import Fp16Policy, InputFormat, InstanceNorm, ModelInfo, TrtCompat
    from disk_trt_ros.export.onnx_export import export_onnx
    from disk_trt_ros.export.weights import load_disk
    from disk_trt_ros.inference.bench import bench_images, kornia_runner
    from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
    from disk_trt_ros.photos import shared_photo_directory

    out.mkdir(parents=True, exist_ok=True)
    disk, sha256 = load_disk(WEIGHTS)
    for profile in profiles:
        info = ModelInfo(
            height=profile.height, width=profile.width, max_keypoints=profile.max_keypoints,
            input_format=InputFormat(profile.input_format), input_dtype="float32", nms_window=5, score_threshold=0.0,
            trt_compat=TrtCompat.TRT_8_2, weights=WEIGHTS, weights_sha256=sha256, package_version=__version__,
            instance_norm=InstanceNorm(profile.instance_norm), fp16_policy=Fp16Policy(profile.fp16_policy),
        )
        model = out / f"{profile.name}.onnx"
        export_onnx(disk, info, model)
        images, _ = bench_images(info, shared_photo_directory())
        kornia = kornia_runner(info, WEIGHTS, "cpu", allow_tf32=False)
        onnxruntime = OnnxRuntimeBackend(str(model))
        arrays: dict[str, np.ndarray] = {"images": np.stack(images)}
        for reference, run in (("kornia", kornia), ("onnxruntime", onnxruntime.run)):
            for index, image in enumerate(images):
                features = run(image)
                arrays[f"{reference}_{index}_keypoints"] = features.keypoints
                arrays[f"{reference}_{index}_scores"] = features.scores
                # float16 halves the files; the direction it keeps is good to a cosine of 1 - 1e-7
                arrays[f"{reference}_{index}_descriptors"] = features.descriptors.astype(np.float16)
        np.savez_compressed(out / f"{profile.name}.npz", **arrays)
        print(f"prepared {profile.name}: {model.stat().st_size / 1e6:.1f} MB model, {len(images)} photos", flush=True)


def agreement(
    keypoints: np.ndarray, scores: np.ndarray, descriptors: np.ndarray, reference: dict[str, np.ndarray]
) -> dict[str, Any]:
    """How ``(keypoints, scores, descriptors)`` agree with a reference on one image (keypoints are integer pixels)."""
    ours = {(int(x), int(y)): row for row, (x, y) in enumerate(keypoints)}
    theirs = {(int(x), int(y)): row for row, (x, y) in enumerate(reference["keypoints"])}
    shared = sorted(set(ours) & set(theirs))
    rows_ours, rows_theirs = [ours[k] for k in shared], [theirs[k] for k in shared]
    reference_descriptors = reference["descriptors"].astype(np.float32)  # stored as float16: renormalised below
    reference_descriptors /= np.maximum(np.linalg.norm(reference_descriptors, axis=1, keepdims=True), 1e-12)
    if not shared:
        score_diff, cosine = 0.0, 1.0
    else:
        score_diff = float(np.abs(scores[rows_ours] - reference["scores"][rows_theirs]).max())
        cosine = float((descriptors[rows_ours] * reference_descriptors[rows_theirs]).sum(axis=1).min())
    return {
        "reference": len(theirs),
        "ours": len(ours),
        "kept": len(shared) / max(len(theirs), 1),
        "differing": len(set(ours) ^ set(theirs)),
        "score_diff": score_diff,
        "cosine": cosine,
    }


def build_in_subprocess(
    model: Path, engine: Path, precision: str, timing_cache: Path | None, tactic_sources: str | None = None
) -> dict[str, Any]:
    """``python -m disk_trt_ros build-engine`` in a process of its own: ``build_wall_s``, and ``build_error`` (the
    tail of its output, also printed) when it failed."""
    command = [sys.executable, "-m", "disk_trt_ros", "build-engine", "--onnx", str(model), "--engine", str(engine),
               f"--{precision}"]
    command += ["--timing-cache", str(timing_cache)] if timing_cache is not None else []
    command += ["--tactic-sources", tactic_sources] if tactic_sources else []
    started = time.monotonic()
    built = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY)
    result: dict[str, Any] = {"build_wall_s": round(time.monotonic() - started, 1)}
    if built.returncode != 0:
        result["build_error"] = (built.stdout + built.stderr)[-3000:]
        print(f"{model.stem} {precision}: build FAILED\n{result['build_error']}", flush=True)
    return result


def wall_milliseconds(call: Callable[..., object], calls: Sequence[Sequence[Any]]) -> list[float]:
    """Wall time of ``call(*arguments)`` for each ``arguments`` of ``calls``, in milliseconds."""
    milliseconds = []
    for arguments in calls:
        began = time.perf_counter()
        call(*arguments)
        milliseconds.append((time.perf_counter() - began) * 1e3)
    return milliseconds


def percentiles(milliseconds: list[float]) -> dict[str, float]:
    """The median and 90th percentile of timings, as the results store them."""
    return {"p50": float(np.median(milliseconds)), "p90": float(np.percentile(milliseconds, 90))}


def run(directory: Path, out: Path, timing_cache: Path | None, iterations: int) -> None:
    """Build every prepared profile in both precisions, load each engine here, and measure it (see the module)."""
    from disk_trt_ros.contract import INPUT_NAME, OUTPUT_NAMES
    from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
    from disk_trt_ros.inference.tensorrt.record import read_sidecar
    from disk_trt_ros.inference.tensorrt.runtime import import_tensorrt

    trt = import_tensorrt()
    results: list[dict[str, Any]] = []
    for profile in PROFILES:
        model = directory / f"{profile.name}.onnx"
        if not model.is_file():
            continue
        data = np.load(directory / f"{profile.name}.npz")
        images = list(data["images"])
        for precision in profile.precisions:
            engine = directory / f"{profile.name}.{precision}.engine"
            entry: dict[str, Any] = {
                "profile": dataclasses.asdict(profile), "precision": precision, "tensorrt": str(trt.__version__),
                **build_in_subprocess(model, engine, precision, timing_cache),
            }
            if "build_error" in entry:
                results.append(entry)
                continue
            record = read_sidecar(engine)
            backend = TensorRTBackend(engine)
            try:
                layers = backend.layers()
                plugin_layers = [layer for layer in layers if "Plugin" in layer["type"]]
                entry.update(
                    gpu=record.gpu_name, build_s=record.build_seconds, engine_mb=round(engine.stat().st_size / 1e6, 2),
                    input_dtype=record.input_dtype, fp32_layers=record.fp32_layers, warnings=record.build_warnings,
                    layers=len(layers), plugins=sorted({layer["type"] for layer in plugin_layers}),
                    plugin_layers=len(plugin_layers), cuda_graph=backend.engine.graph_description,
                )
                for reference in ("kornia", "onnxruntime"):
                    entry[reference] = []
                    for index, image in enumerate(images):
                        features = backend.run(image)
                        expected = {
                            name: data[f"{reference}_{index}_{name}"] for name in ("keypoints", "scores", "descriptors")
                        }
                        entry[reference].append(
                            agreement(features.keypoints, features.scores, features.descriptors, expected)
                        )
                for _ in range(20):  # warm-up
                    backend.run(images[0])
                engine_ms = [backend.engine_milliseconds(images[i % len(images)]) for i in range(iterations)]
                run_ms = wall_milliseconds(backend.run, [(images[i % len(images)],) for i in range(iterations)])
                frames = [({INPUT_NAME: images[i % len(images)]}, OUTPUT_NAMES) for i in range(iterations)]
                execute_ms = wall_milliseconds(backend.engine.execute, frames)
                steps = [backend.timed_run(images[i % len(images)])[1] for i in range(50)]
                entry["steps_ms"] = {name: float(np.median([step[name] for step in steps])) for name in steps[0]}
                entry["engine_ms"], entry["run_ms"] = percentiles(engine_ms), percentiles(run_ms)
                entry["execute_ms"] = percentiles(execute_ms)
            finally:
                backend.close()
            results.append(entry)
            print(summary_line(entry), flush=True)
            out.write_text(json.dumps(results, indent=1) + "\n")
    out.write_text(json.dumps(results, indent=1) + "\n")


def summary_line(entry: dict[str, Any]) -> str:
    kept = min(a["kept"] for a in entry["kornia"])
    return (
        f"{entry['profile']['name']:<20} {entry['precision']}: build {entry['build_s']:.0f} s, "
        f"{entry['engine_mb']:.1f} MB, plugins {entry['plugin_layers']}, fp32 layers {entry['fp32_layers']}, "
        f"input {entry['input_dtype']}, engine {entry['engine_ms']['p50']:.3f}/{entry['engine_ms']['p90']:.3f} ms, "
        f"run {entry['run_ms']['p50']:.3f}/{entry['run_ms']['p90']:.3f} ms, "
        f"GPU work {entry['execute_ms']['p50']:.3f} ms, "
        f"{entry.get('cuda_graph', 'CUDA graph not recorded')}, steps "
        f"{ {name: round(value, 3) for name, value in entry['steps_ms'].items()} }, kornia kept >= {kept:.4f}, "
        f"differing {[a['differing'] for a in entry['kornia']]}, score <= "
        f"{max(a['score_diff'] for a in entry['kornia']):.1e}, "
        f"cosine >= {min(a['cosine'] for a in entry['kornia']):.5f}"
    )


def gpu_overhead(entry: dict[str, Any]) -> str:
    """The frame's GPU work (copies, launch, synchronisation) beyond the engine alone, in ms; "—" for results
    recorded before it was measured."""
    if "execute_ms" not in entry:
        return "—"
    return f"{entry['execute_ms']['p50'] - entry['engine_ms']['p50']:.3f}"


def report(paths: Iterable[Path]) -> str:
    """Markdown tables of the results: one row per profile and precision, then the warnings."""
    entries = [entry for path in paths for entry in json.loads(path.read_text())]
    lines = [
        "| profile | precision | build s | engine MB | plugin layers | fp32 layers | image input | engine p50 / p90 ms "
        "| run p50 / p90 ms | overhead ms: run / GPU work | kornia: kept (min) | differing | max score diff "
        "| min cosine | ONNX Runtime: kept (min) | max score diff |",
        "|" + " --- |" * 16,
    ]
    warnings: dict[str, set[str]] = {}
    for entry in entries:
        name = entry["profile"]["name"]
        if "build_error" in entry:
            lines.append(f"| {name} | {entry['precision']} | build failed |" + " |" * 13)
            continue
        kornia, onnxruntime = entry["kornia"], entry["onnxruntime"]
        lines.append(
            f"| {name} | {entry['precision']} | {entry['build_s']:.0f} | {entry['engine_mb']:.1f} "
            f"| {entry['plugin_layers']} | {entry['fp32_layers']} | {entry['input_dtype']} "
            f"| {entry['engine_ms']['p50']:.3f} / {entry['engine_ms']['p90']:.3f} "
            f"| {entry['run_ms']['p50']:.3f} / {entry['run_ms']['p90']:.3f} "
            f"| {entry['run_ms']['p50'] - entry['engine_ms']['p50']:.3f} / {gpu_overhead(entry)} "
            f"| {min(a['kept'] for a in kornia):.2%} | {max(a['differing'] for a in kornia)} "
            f"| {max(a['score_diff'] for a in kornia):.1e} | {min(a['cosine'] for a in kornia):.5f} "
            f"| {min(a['kept'] for a in onnxruntime):.2%} | {max(a['score_diff'] for a in onnxruntime):.1e} |"
        )
        for warning in entry["warnings"]:
            warnings.setdefault(warning, set()).add(f"{name} {entry['precision']}")
    steps = [entry for entry in entries if "steps_ms" in entry]
    if steps:
        names = list(steps[0]["steps_ms"])
        lines += [
            "", "Where a frame's time goes (ms, median of 50 frames, the stream synchronised after each step):", ""
        ]
        lines += ["| profile | precision | " + " | ".join(names) + " |", "|" + " --- |" * (len(names) + 2)]
        lines += [
            f"| {entry['profile']['name']} | {entry['precision']} | "
            + " | ".join(f"{entry['steps_ms'][name]:.3f}" for name in names) + " |"
            for entry in steps
        ]
    lines += ["", "TensorRT's warnings while parsing and building:", ""]
    lines += [f"- `{text}` ({len(where)} builds)" for text, where in sorted(warnings.items())] or ["- none"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare", help="export the models and store the references (here)")
    prepare_parser.add_argument("--out", type=Path, required=True)
    prepare_parser.add_argument("--profiles", help="comma-separated profile names (default: all)")
    run_parser = commands.add_parser("run", help="build, load and measure every engine (on the GPU machine)")
    run_parser.add_argument("directory", type=Path)
    run_parser.add_argument("--out", type=Path, required=True)
    run_parser.add_argument("--timing-cache", type=Path)
    run_parser.add_argument("--iters", type=int, default=200)
    report_parser = commands.add_parser("report", help="print the Markdown tables")
    report_parser.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "prepare":
        names = set(args.profiles.split(",")) if args.profiles else {profile.name for profile in PROFILES}
        unknown = names - {profile.name for profile in PROFILES}
        if unknown:
            parser.error(f"unknown profiles {sorted(unknown)}; choose from {[p.name for p in PROFILES]}")
        prepare(args.out, [profile for profile in PROFILES if profile.name in names])
    elif args.command == "run":
        run(args.directory, args.out, args.timing_cache, args.iters)
    else:
        print(report(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
