#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Reliability scenarios for disk_node, at full length: a flood faster than inference, two cameras, a soak.

Usage (after `make setup`):
    source install/setup.sh
    python scripts/reliability.py [--model M.onnx] [--scenarios flood,cameras,soak] [--flood-seconds 60]
        [--flood-rate 200] [--cameras-seconds 30] [--cameras-rate 100] [--soak-frames 10000] [--soak-rate 100]
        [--out out/reliability.json]

The harness is the tests' (test/support/reliability: what each scenario records and which properties it checks);
this script runs its scenarios at full length and writes the figures (docs/reliability.md). Without ``--model`` a
random-weight 64x96, K=64 model is exported to a temporary directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))  # the harness lives in test/support

import rclpy

from disk_trt_ros.atomic import atomic_write_bytes
from disk_trt_ros.contract import read_onnx_model_info
from support.reliability.results import TABLE_HEADER
from support.reliability.scenario import export_default_model, machine, run_scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="exported ONNX model (default: a random-weight 64x96, K=64 one)")
    parser.add_argument("--scenarios", default="flood,cameras,soak", help="comma-separated: flood, cameras, soak")
    parser.add_argument("--flood-seconds", type=float, default=60.0)
    parser.add_argument("--flood-rate", type=float, default=200.0)
    parser.add_argument("--cameras-seconds", type=float, default=30.0)
    parser.add_argument("--cameras-rate", type=float, default=100.0)
    parser.add_argument("--soak-frames", type=int, default=10_000)
    parser.add_argument("--soak-rate", type=float, default=100.0)
    parser.add_argument("--bad-every", type=int, default=50, help="every N-th frame is a bad message (0: none)")
    parser.add_argument("--domain-id", type=int, default=1 + os.getpid() % 100)
    parser.add_argument("--out", type=Path, default=Path("out/reliability.json"))
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    unknown = set(scenarios) - {"flood", "cameras", "soak"}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=args.domain_id)
    started = datetime.datetime.now(datetime.timezone.utc)
    report: dict[str, Any] = {"started": started.isoformat(timespec="seconds"), "machine": machine(),
                              "command": " ".join([sys.executable, *sys.argv]), "scenarios": []}
    results = []
    try:
        with tempfile.TemporaryDirectory() as directory:
            model = args.model or export_default_model(Path(directory))
            info = read_onnx_model_info(str(model))
            report["model"] = {"path": str(model), "size": f"{info.width}x{info.height}",
                               "max_keypoints": info.max_keypoints, "weights": info.weights}
            plans = {
                "flood": dict(rate_hz=args.flood_rate, frames=int(args.flood_seconds * args.flood_rate),
                              every_frame_reaches_the_node=False),
                "cameras": dict(cameras=("left", "right"), rate_hz=args.cameras_rate,
                                frames=int(args.cameras_seconds * args.cameras_rate)),
                "soak": dict(rate_hz=args.soak_rate, frames=args.soak_frames),
            }
            for name in scenarios:
                result = run_scenario(name, model, context, bad_every=args.bad_every, **plans[name])
                results.append(result)
                report["scenarios"].append({**dataclasses.asdict(result), "latency_bound_s": result.latency_bound_s,
                                            "failures": result.failures()})
                print(result.table(), flush=True)
    finally:
        context.try_shutdown()
    report["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    atomic_write_bytes(args.out, (json.dumps(report, indent=2) + "\n").encode())
    print(f"\nmachine: {report['machine']}\nmodel: {report['model']}\n")
    print(TABLE_HEADER)
    for result in results:
        print("\n".join(result.rows()))
    failures = [f"{result.name}: {failure}" for result in results for failure in result.failures()]
    print("\n".join(failures) if failures else "\nall properties hold")
    print(f"figures: {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
