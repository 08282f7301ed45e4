# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""scripts/benchmark_table.py render: the TensorRT 8.5 table of docs/benchmarks.md from one session's results."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from support.paths import REPO_ROOT


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("benchmark_table", REPO_ROOT / "scripts" / "benchmark_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tensorrt_entry(
    name: str, precision: str, run: float, engine: float, kept: list[float], execute: float | None = None
) -> dict[str, Any]:
    entry = {"profile": {"name": name}, "precision": precision, "run_ms": {"p50": run}, "engine_ms": {"p50": engine},
             "kornia": [{"kept": value} for value in kept]}
    if execute is not None:
        entry["execute_ms"] = {"p50": execute}
    return entry


def test_a_variant_row_is_compared_with_its_base_models_baselines(tmp_path: Path) -> None:
    torch = {"rgb_480x640_k2048": {
        "kornia": {"median_ms": 5.0}, "kornia_strict_fp32": {"median_ms": 10.0}, "latency": {"median_ms": 2.0},
        "agreement": {"overlap_min": 0.98}, "kornia_agreement": {"overlap_min": 0.99},
    }}
    tensorrt = [
        tensorrt_entry("rgb_480x640_k2048", "fp16", 3.0, 2.5, [1.0, 1.0]),
        tensorrt_entry("rgb_480x640_k2048_fp16unet", "fp16", 2.0, 1.5, [0.97, 0.95], execute=1.6),
    ]
    (tmp_path / "torch.json").write_text(json.dumps(torch))
    (tmp_path / "tensorrt.json").write_text(json.dumps(tensorrt))
    rows = load_script().render(tmp_path / "torch.json", [tmp_path / "tensorrt.json"]).splitlines()
    base, variant = rows[2].split(" | "), rows[3].split(" | ")
    assert base[0] == "| rgb_480x640_k2048" and variant[0] == "| rgb_480x640_k2048_fp16unet"
    assert variant[1:4] == ["5.00", "10.00", "2.00"], "the base model's kornia and PyTorch figures"
    assert variant[5:10] == ["2.00 / 1.50", "0.300x", "0.400x", "1.000x", "0.600x"]
    assert variant[10:13] == ["95.00%", "98.00%", "99.00%"], "worst photo; PyTorch's and kornia's from the base"
    assert variant[13] == "0.50 / 0.10 |", "beyond the engine: the whole run, and the frame's GPU work"
    assert base[10] == "100.00%" and base[13] == "— |", "no GPU-work figure in the results: not invented"


def test_the_pytorch_step_times_base_models_only(tmp_path: Path, monkeypatch: Any) -> None:
    import disk_trt_ros.cli

    for name in ("rgb_240x320_k1024", "rgb_240x320_k1024_fp16unet_decomposed", "rgb_480x640_k4096"):
        (tmp_path / f"{name}.onnx").write_bytes(b"")
    benched: list[str] = []

    def bench(argv: list[str]) -> int:
        benched.append(Path(argv[argv.index("--model") + 1]).stem)
        Path(argv[argv.index("--json") + 1]).write_text(json.dumps({"latency": {"median_ms": 1.0}}))
        return 0

    monkeypatch.setattr(disk_trt_ros.cli, "main", bench)
    load_script().bench_torch(tmp_path, tmp_path / "torch.json", 10, None)
    assert benched == ["rgb_240x320_k1024", "rgb_480x640_k4096"], "a variant's row uses its base model's figures"
    assert sorted(json.loads((tmp_path / "torch.json").read_text())) == benched


def test_the_table_states_kornias_spread_across_k(tmp_path: Path) -> None:
    torch = {name: {"kornia": {"median_ms": median}, "latency": {"median_ms": 1.0}}
             for name, median in (("rgb_480x640_k2048", 6.9), ("rgb_480x640_k8192", 5.0), ("rgb_240x320_k1024", 2.4))}
    tensorrt = [tensorrt_entry(name, "fp16", 1.0, 1.0, [1.0]) for name in torch]
    (tmp_path / "torch.json").write_text(json.dumps(torch))
    (tmp_path / "tensorrt.json").write_text(json.dumps(tensorrt))
    lines = load_script().render(tmp_path / "torch.json", [tmp_path / "tensorrt.json"]).splitlines()
    assert lines[-1].endswith(": rgb_480x640 5.00–6.90 ms (2 K)."), "one K at 240x320: no spread to state"
    assert lines[-2] == "" and len(lines) == 2 + len(torch) + 2
