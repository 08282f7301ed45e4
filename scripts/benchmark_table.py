#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The TensorRT 8.5 table of docs/benchmarks.md: kornia, the PyTorch backend and TensorRT, from one device session.

python scripts/benchmark_table.py torch DIR --out TORCH.json [--iters 200]
on the GPU machine's own Python (PyTorch with CUDA, kornia carried as wheels): for every model that
`scripts/tensorrt_check.py prepare` wrote to DIR, `bench --backend torch --precision fp16 --torch-compile
--compare kornia` in this process (so the compiled U-Net is reused across K), which also times kornia's DISK
as users run it (TF32 allowed) and in strict fp32. Variants (``rgb_480x640_k2048_fp16unet``) are skipped: their
rows are compared with their base model's figures.
python scripts/benchmark_table.py render TORCH.json TENSORRT.json...
the Markdown table: per model, the medians of kornia, the compiled PyTorch backend (fp16) and the TensorRT
backend (fp32 and fp16: `run`, a uint8 frame in and numpy features out, and the engine alone), with ratios
to kornia, and the share of kornia's strict-fp32 keypoints that the fp16 TensorRT engine, the PyTorch backend and
kornia in TF32 keep (worst photograph), and the fp16 backend's time beyond its engine: all of `run`, and the
frame's GPU work alone (copies, launch, synchronisation: `run` without copying out and checking the features).
Below the table, kornia's medians across the K of each frame size: the same network timed minutes apart, so the
spread of the reference that the ratios divide by.
A variant (``rgb_480x640_k2048_fp16unet``) is compared with its base model's kornia and PyTorch figures.
TENSORRT.json are `scripts/tensorrt_check.py run` results of the same session.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))


def base_model(name: str) -> str:
    """``rgb_480x640_k2048`` for itself and for its variants (``rgb_480x640_k2048_fp16unet``)."""
    return re.match(r"\w+?_\d+x\d+_k\d+", name).group(0)


def bench_torch(directory: Path, out: Path, iterations: int, images: Path | None) -> None:
    from disk_trt_ros.cli import main as cli

    results: dict[str, Any] = {}
    for model in sorted(model for model in directory.glob("*.onnx") if base_model(model.stem) == model.stem):
        with tempfile.TemporaryDirectory() as scratch:
            figures = Path(scratch) / "bench.json"
            status = cli([
                "bench", "--backend", "torch", "--precision", "fp16", "--torch-compile", "--model", str(model),
                "--iters", str(iterations), "--warmup", "30", "--compare", "kornia", "--json", str(figures),
                *(["--images", str(images)] if images else []),
            ])
            if status == 0:
                results[model.stem] = json.loads(figures.read_text())
        out.write_text(json.dumps(results, indent=1) + "\n")


def render(torch_results: Path, tensorrt_results: list[Path]) -> str:
    torch = json.loads(torch_results.read_text())
    tensorrt: dict[tuple[str, str], dict[str, Any]] = {}
    for path in tensorrt_results:
        for entry in json.loads(path.read_text()):
            if "run_ms" in entry:
                tensorrt[(entry["profile"]["name"], entry["precision"])] = entry
    lines = [
        "| model | kornia (TF32) ms | kornia strict fp32 ms | PyTorch fp16 compiled ms "
        "| TensorRT fp32: run / engine ms | TensorRT fp16: run / engine ms | fp16 engine / kornia "
        "| fp16 run / kornia | fp16 run / PyTorch | fp16 engine / smallest K's | TensorRT fp16 kept "
        "| PyTorch fp16 kept | kornia (TF32) kept | fp16 overhead ms: run / GPU work |",
        "|" + " --- |" * 14,
    ]

    def order(name: str) -> tuple[int, int, str]:  # larger frames first, then by K: rgb_480x640_k2048[_variant]
        size, keypoints = re.search(r"_(\d+)x\d+_k(\d+)", name).groups()
        return -int(size), int(keypoints), name

    def cell(value: float | None, digits: int = 2, unit: str = "") -> str:
        return "—" if value is None else f"{value:.{digits}f}{unit}"

    def ratio(numerator: float | None, denominator: float | None) -> str:
        return cell(numerator / denominator if numerator and denominator else None, 3, "x")

    def kept(agreement: dict[str, Any] | None) -> str:
        return cell(agreement["overlap_min"] * 100 if agreement else None, 2, "%")

    def overhead(entry: dict[str, Any] | None) -> str:  # beyond the engine: all of run, and its GPU work alone
        if entry is None or "execute_ms" not in entry:
            return "—"
        engine = entry["engine_ms"]["p50"]
        return f"{entry['run_ms']['p50'] - engine:.2f} / {entry['execute_ms']['p50'] - engine:.2f}"

    def times(entry: dict[str, Any] | None) -> str:
        return "—" if entry is None else f"{entry['run_ms']['p50']:.2f} / {entry['engine_ms']['p50']:.2f}"

    smallest_k: dict[str, float] = {}  # per frame size, the fp16 engine time of the first (smallest) K
    for name in sorted({name for name, _ in tensorrt}, key=order):
        base = base_model(name)  # a variant's baselines are its base model's
        figures = torch.get(base, {})
        kornia = figures.get("kornia", {}).get("median_ms")
        strict = figures.get("kornia_strict_fp32", {}).get("median_ms")
        compiled = figures.get("latency", {}).get("median_ms")
        fp32, fp16 = tensorrt.get((name, "fp32")), tensorrt.get((name, "fp16"))
        fp16_run = fp16["run_ms"]["p50"] if fp16 else None
        fp16_engine = fp16["engine_ms"]["p50"] if fp16 else None
        size = name.split("_k")[0]
        if fp16_engine and name == base:  # a variant (rgb_..._k2048_decomposed) is no base
            smallest_k.setdefault(size, fp16_engine)
        lines.append(
            f"| {name} | {cell(kornia)} | {cell(strict)} | {cell(compiled)} | {times(fp32)} | {times(fp16)} "
            f"| {ratio(fp16_engine, kornia)} | {ratio(fp16_run, kornia)} | {ratio(fp16_run, compiled)} "
            f"| {ratio(fp16_engine, smallest_k.get(size))} "
            f"| {cell(min(a['kept'] for a in fp16['kornia']) * 100 if fp16 else None, 2, '%')} "
            f"| {kept(figures.get('agreement'))} | {kept(figures.get('kornia_agreement'))} | {overhead(fp16)} |"
        )
    kornia_by_size: dict[str, list[float]] = {}  # the same network at every K: its spread is the reference's noise
    for name in sorted(torch, key=order):
        if "kornia" in torch[name]:
            kornia_by_size.setdefault(name.split("_k")[0], []).append(torch[name]["kornia"]["median_ms"])
    spreads = [f"{size} {min(ms):.2f}–{max(ms):.2f} ms ({len(ms)} K)"
               for size, ms in kornia_by_size.items() if len(ms) > 1]
    if spreads:
        lines += ["", "kornia (TF32), its median at each K of one frame size (the same network, K changes only its "
                  "last top-k): " + "; ".join(spreads) + "."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    torch_parser = commands.add_parser("torch", help="time the PyTorch backend and kornia on every model in DIR")
    torch_parser.add_argument("directory", type=Path)
    torch_parser.add_argument("--out", type=Path, required=True)
    torch_parser.add_argument("--iters", type=int, default=200)
    torch_parser.add_argument("--images", type=Path, help="photographs (default: bench's, ../shared/data/images)")
    render_parser = commands.add_parser("render", help="print the Markdown table")
    render_parser.add_argument("torch_results", type=Path)
    render_parser.add_argument("tensorrt_results", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "torch":
        bench_torch(args.directory, args.out, args.iters, args.images)
    else:
        print(render(args.torch_results, args.tensorrt_results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
