#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""LightGlue for DISK checked on real TensorRT: parse, build, run, parity and latency of the exported matcher.

Three steps, as ``scripts/tensorrt_check.py`` for the extractor:

    python scripts/matcher_tensorrt_check.py prepare --out DIR [--keypoints 2048 ...]
        (here, with PyTorch and kornia) exports LightGlue (``random:0`` weights, filter threshold 0) for each K at
        480x640, takes random-weight DISK's K slots on the first two photographs (``bench_matcher.py``'s pair), and
        stores the pair with two references: kornia's LightGlue (CPU, float32) and ONNX Runtime on the export.
    python scripts/matcher_tensorrt_check.py run DIR --out RESULTS.json [--tactic-sources CUDNN] [--iters 200]
        (on the GPU machine: numpy, onnx, tensorrt, a CUDA binding) for each K and precision, ``build-engine`` in a
        process of its own, then ``TensorRTLightGlue`` in this one: matches against both references, the latency
        of ``match`` (numpy slots in, numpy matches out) and of the engine alone (CUDA events).
    python scripts/matcher_tensorrt_check.py report RESULTS.json
        prints the Markdown table of docs/matching.md.

"differing" counts the slots of image 0 whose match (or no match) differs from the reference's; the score
difference is over the slots matched alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tensorrt_check import build_in_subprocess, percentiles, wall_milliseconds

PRECISIONS = ("fp32", "fp16")
PAIR_ARRAYS = ("keypoints", "descriptors", "num_keypoints")


def prepare(out: Path, keypoints: list[int], images: Path | None) -> None:
    """Export LightGlue for each K and store its pair of slots and the two references under ``out``."""
    import torch
    from bench_matcher import (
        FILTER_THRESHOLD,
        HEIGHT,
        SHARED_PHOTOS,
        WIDTH,
        first_slots,
        kornia_runner,
        photo_pair_slots,
    )

    from disk_trt_ros import __version__
    from disk_trt_ros.contract import MatcherMethod, TrtCompat
    from disk_trt_ros.export.lightglue_weights import random_lightglue
    from disk_trt_ros.export.onnx_export import export_matcher_onnx
    from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeLightGlue
    from disk_trt_ros.matcher_contract import MatcherInfo

    out.mkdir(parents=True, exist_ok=True)
    cpu = torch.device("cpu")
    full_pair = photo_pair_slots(images or (SHARED_PHOTOS if SHARED_PHOTOS.is_dir() else None), max(keypoints), cpu)
    for k in keypoints:
        lightglue, sha256 = random_lightglue(0)
        info = MatcherInfo(MatcherMethod.LIGHTGLUE, HEIGHT, WIDTH, k, FILTER_THRESHOLD, TrtCompat.TRT_8_2, "random:0",
                           sha256, __version__)
        model = out / f"lightglue_{k}.onnx"
        export_matcher_onnx(lightglue, info, model)
        lightglue.conf.filter_threshold = FILTER_THRESHOLD
        pair = (first_slots(full_pair[0], k), first_slots(full_pair[1], k))
        arrays = {f"{name}{index}": getattr(slots, name) for index, slots in enumerate(pair) for name in PAIR_ARRAYS}
        references = {
            "kornia": kornia_runner(lightglue, cpu)(pair), "onnxruntime": OnnxRuntimeLightGlue(str(model)).match(*pair)
        }
        for reference, matches in references.items():
            arrays[f"{reference}_matches0"], arrays[f"{reference}_scores0"] = matches.matches0, matches.scores0
        np.savez_compressed(out / f"lightglue_{k}.npz", **arrays)
        print(f"prepared K={k}: {model.stat().st_size / 1e6:.1f} MB model, kornia {references['kornia'].count} "
              f"matches, onnxruntime {references['onnxruntime'].count}", flush=True)


def agreement(matches0: np.ndarray, scores0: np.ndarray, data: Any, reference: str) -> dict[str, Any]:
    """How one pair's matches agree with a stored reference's."""
    expected, expected_scores = data[f"{reference}_matches0"], data[f"{reference}_scores0"]
    alike = (matches0 == expected) & (expected >= 0)
    return {
        "matches": int((matches0 >= 0).sum()),
        "reference_matches": int((expected >= 0).sum()),
        "differing": int((matches0 != expected).sum()),
        "score_diff": float(np.abs(scores0[alike] - expected_scores[alike]).max()) if alike.any() else 0.0,
    }


def run(directory: Path, out: Path, timing_cache: Path | None, tactic_sources: str | None, iterations: int) -> None:
    """Build each prepared LightGlue in both precisions, load each engine here, and measure it (see the module)."""
    from disk_trt_ros.inference.base import KeypointSlots, matcher_inputs
    from disk_trt_ros.inference.tensorrt.matcher import TensorRTLightGlue
    from disk_trt_ros.inference.tensorrt.record import read_sidecar
    from disk_trt_ros.inference.tensorrt.runtime import import_tensorrt

    trt = import_tensorrt()
    results: list[dict[str, Any]] = []
    for model in sorted(directory.glob("lightglue_*.onnx"), key=lambda path: int(path.stem.split("_")[1])):
        data = np.load(model.with_suffix(".npz"))
        pair = [KeypointSlots(*(data[f"{name}{index}"] for name in PAIR_ARRAYS)) for index in (0, 1)]
        for precision in PRECISIONS:
            engine = model.with_suffix(f".{precision}.engine")
            entry: dict[str, Any] = {
                "model": model.stem, "keypoints": int(pair[0].keypoints.shape[1]), "precision": precision,
                "tensorrt": str(trt.__version__), "tactic_sources": tactic_sources or "default",
                **build_in_subprocess(model, engine, precision, timing_cache, tactic_sources),
            }
            if "build_error" in entry:
                results.append(entry)
                out.write_text(json.dumps(results, indent=1) + "\n")
                continue
            record = read_sidecar(engine)
            matcher = TensorRTLightGlue(engine)
            try:
                matches = matcher.match(*pair)
                layers = matcher.engine.layers()
                entry.update(
                    gpu=record.gpu_name, build_s=record.build_seconds, engine_mb=round(engine.stat().st_size / 1e6, 2),
                    layers=len(layers), plugin_layers=sum("Plugin" in layer["type"] for layer in layers),
                    warnings=record.build_warnings,
                    **{reference: agreement(matches.matches0, matches.scores0, data, reference)
                       for reference in ("kornia", "onnxruntime")},
                )
                for _ in range(20):
                    matcher.match(*pair)
                match_ms = wall_milliseconds(matcher.match, [pair] * iterations)
                engine_ms = [matcher.engine.engine_milliseconds(matcher_inputs(*pair)) for _ in range(iterations)]
                entry["match_ms"], entry["engine_ms"] = percentiles(match_ms), percentiles(engine_ms)
            finally:
                matcher.close()
            results.append(entry)
            print(json.dumps({key: value for key, value in entry.items() if key != "warnings"}), flush=True)
            out.write_text(json.dumps(results, indent=1) + "\n")


def report(path: Path) -> str:
    """The Markdown table of the results: one row per K and precision."""
    lines = [
        "| K | precision | build s | engine MB | plugin layers | match p50 / p90 ms | engine p50 ms | matches "
        "| vs kornia: differing rows, max score diff | vs ONNX Runtime: differing rows, max score diff |",
        "|" + " --- |" * 10,
    ]
    for entry in json.loads(path.read_text()):
        if "build_error" in entry:
            lines.append(f"| {entry['keypoints']} | {entry['precision']} | build failed |" + " |" * 7)
            continue
        kornia, onnxruntime = entry["kornia"], entry["onnxruntime"]
        lines.append(
            f"| {entry['keypoints']} | {entry['precision']} | {entry['build_s']:.0f} | {entry['engine_mb']:.1f} "
            f"| {entry['plugin_layers']} | {entry['match_ms']['p50']:.3f} / {entry['match_ms']['p90']:.3f} "
            f"| {entry['engine_ms']['p50']:.3f} | {kornia['matches']} (kornia {kornia['reference_matches']}) "
            f"| {kornia['differing']}, {kornia['score_diff']:.1e} "
            f"| {onnxruntime['differing']}, {onnxruntime['score_diff']:.1e} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare", help="export LightGlue and store the references (here)")
    prepare_parser.add_argument("--out", type=Path, required=True)
    prepare_parser.add_argument("--keypoints", type=int, nargs="+", default=[2048])
    prepare_parser.add_argument("--images", type=Path, help="photographs (default: bench_matcher.py's)")
    run_parser = commands.add_parser("run", help="build, load and measure every engine (on the GPU machine)")
    run_parser.add_argument("directory", type=Path)
    run_parser.add_argument("--out", type=Path, required=True)
    run_parser.add_argument("--timing-cache", type=Path)
    run_parser.add_argument("--tactic-sources", help="build-engine's --tactic-sources (default: TensorRT's)")
    run_parser.add_argument("--iters", type=int, default=200)
    report_parser = commands.add_parser("report", help="print the Markdown table")
    report_parser.add_argument("results", type=Path)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.out, args.keypoints, args.images)
    elif args.command == "run":
        run(args.directory, args.out, args.timing_cache, args.tactic_sources, args.iters)
    else:
        print(report(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
