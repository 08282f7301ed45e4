# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The bench command: latency statistics, and a short real run against kornia on the CPU."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from disk_trt_ros.cli import main
from disk_trt_ros.inference.base import Features
from disk_trt_ros.inference.bench import LatencyStats, measure
from support.paths import PHOTO_DIR, shared_photo_paths


def test_latency_stats_from_known_times() -> None:
    stats = LatencyStats.from_seconds([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert stats.median_ms == pytest.approx(50.5)
    assert stats.p90_ms == pytest.approx(90.1)
    assert stats.p99_ms == pytest.approx(99.01)
    assert stats.fps == pytest.approx(1000 / 50.5)
    assert stats.runs == 100


def test_measure_cycles_images_and_skips_warmup() -> None:
    seen: list[int] = []
    images = [np.full((2, 2, 1), value, dtype=np.uint8) for value in range(3)]

    def run(image: np.ndarray) -> Features:
        seen.append(int(image[0, 0, 0]))
        return Features(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 128), np.float32))

    stats = measure(run, images, iterations=4, warmup=2)
    assert seen == [0, 1, 0, 1, 2, 0] and stats.runs == 4


def test_bench_against_kornia(export_model, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared_photo_paths()
    exported = export_model()
    report = tmp_path / "bench.json"
    arguments = ["bench", "--backend", "onnxruntime", "--model", str(exported.path), "--iters", "3", "--warmup", "1"]
    status = main([*arguments, "--compare", "kornia", "--images", str(PHOTO_DIR), "--json", str(report)])
    output = capsys.readouterr().out
    assert status == 0, output
    results = json.loads(report.read_text())
    assert results["latency"]["runs"] == results["kornia"]["runs"] == 3
    assert results["ratio"] == pytest.approx(results["latency"]["median_ms"] / results["kornia"]["median_ms"])
    assert results["kornia_device"] == "cpu"
    assert results["agreement"]["overlap_min"] == 1.0, results["agreement"]  # the export matches kornia exactly
    assert results["agreement"]["descriptor_cosine_min"] >= 0.9999
    assert "median ratio" in output and "p99 ms" in output


def test_bench_refuses_other_weights(export_model, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "bench",
            "--backend",
            "onnxruntime",
            "--model",
            str(export_model().path),
            "--iters",
            "1",
            "--compare",
            "kornia",
            "--weights",
            "random:1",
        ]
    )
    assert status == 1
    assert "the model was exported from" in capsys.readouterr().err


def test_bench_tensorrt_without_tensorrt_fails_clearly(export_model, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    status = main(["bench", "--backend", "tensorrt", "--model", str(export_model().path), "--iters", "1"])
    assert status == 1
    assert "TensorRT is not installed" in capsys.readouterr().err


def test_bench_tensorrt_reports_the_engine_alone_and_the_overhead(
    fake_gpu, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On the TensorRT double: the engine's own time (CUDA events) and the per-frame overhead beyond it."""
    shared_photo_paths()
    output = tmp_path / "bench.json"
    status = main([
        "bench", "--backend", "tensorrt", "--model", str(tiny_model), "--iters", "5", "--warmup", "1",
        "--images", str(PHOTO_DIR), "--json", str(output),
    ])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "engine alone (CUDA events)" in printed and "overhead beyond the engine" in printed
    results = json.loads(output.read_text())
    assert results["engine"]["runs"] == 5 and results["engine"]["median_ms"] > 0
    assert results["overhead_ms"] == pytest.approx(results["latency"]["median_ms"] - results["engine"]["median_ms"])
