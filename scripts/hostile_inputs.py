#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Decompression bombs against disk_node: the node's peak memory and what becomes of each bomb and of the next frame.

Usage (after `make setup`):
    source install/setup.sh
    python scripts/hostile_inputs.py [--model M.onnx] [--source DIR] [--out out/hostile_inputs.json]

For each bomb (a 631-byte JPEG declaring 30000x30000, the 875 kB PNG of 30000x30000 zeros, a PNG declaring
65535x65535) a fresh node process is started with default parameters (ONNX Runtime, one thread, compressed
transport) and no memory limit; a good JPEG goes first, then the bomb, then another good JPEG. Recorded: the
node's peak resident memory (VmHWM) after the first good frame and after the bomb, the seconds until the node had
accounted for the bomb, its counters after the bomb and after the next frame, and whether it published that frame.
``--source`` runs the node from
another source tree (e.g. ``git archive main | tar -x -C /tmp/base``: the package before a change), so that the
figures before and after can be compared on one machine. The harness is the tests' (test/support).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))  # the harness lives in test/support

import cv2
import numpy as np
import rclpy
from sensor_msgs.msg import CompressedImage

from disk_trt_ros.atomic import atomic_write_bytes
from disk_trt_ros.contract import read_onnx_model_info
from support.fuzz import jpeg_declaring, png_declaring
from support.memory_limit import peak_resident_bytes
from support.reliability.camera import Camera
from support.reliability.node_process import NodeProcess
from support.reliability.scenario import export_default_model, machine
from support.ros import spinning
from support.waiting import wait_until

BOMBS = {  # name: (CompressedImage format, data)
    "JPEG declaring 30000x30000 (631 bytes)": ("jpeg", lambda: jpeg_declaring(30000, 30000)),
    "PNG of 30000x30000 zeros (875 kB)": ("png", lambda: png_declaring(30000, 30000, rows=None)),
    "PNG declaring 65535x65535": ("png", lambda: png_declaring(65535, 65535)),
}
ACCOUNT_TIMEOUT_S = 180.0
OUTCOMES = ("published", "dropped", "rejected", "failed", "invalid_output")  # what the node counts a frame as


def handled(camera: Camera) -> int:
    """Frames the node has accounted for, whatever their outcome."""
    counts = camera.node_counts()
    return sum(counts.get(outcome, 0) for outcome in OUTCOMES)


def node_command(source: Path | None) -> list[str] | None:
    """The node from ``source`` (put first on sys.path: ``python -m`` would put the working directory there)."""
    if source is None:
        return None
    run = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
           "runpy.run_module('disk_trt_ros.node', run_name='__main__', alter_sys=True)")
    return [sys.executable, "-c", run, str(source)]


def attack(context: Any, model: Path, name: str, bomb: CompressedImage, source: Path | None) -> dict[str, Any]:
    """One node process, one bomb between two good frames; what became of them."""
    node = NodeProcess(model, f"/h{uuid.uuid4().hex[:8]}", context.get_domain_id(),
                       parameters={"image_transport": "compressed"}, command=node_command(source))
    probe = rclpy.create_node("hostile_probe", context=context)
    info = read_onnx_model_info(str(model))
    good = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 256, (2 * info.height, 2 * info.width, 3),
                                                                  np.uint8))[1].tobytes()
    size = (2 * info.width, 2 * info.height)
    result: dict[str, Any] = {"bomb": name, "bomb_bytes": len(bomb.data)}
    try:
        with spinning(probe, context):
            camera = Camera(probe, "camera", f"{node.namespace}/image/compressed", f"{node.namespace}/keypoints",
                            f"{node.namespace}/disk_node", info.max_keypoints, CompressedImage)
            node.wait_for_line("ready:", timeout=120.0)
            wait_until(lambda: camera.publisher.get_subscription_count() > 0, 20.0, "the node's subscription")
            camera.send(0, CompressedImage(format="jpeg", data=good), size)
            wait_until(lambda: camera.node_counts().get("published") == 1, 30.0, "the first good frame")
            result["peak_rss_mib_before"] = peak_resident_bytes(node.process.pid) / 2**20
            sent = time.monotonic()
            camera.send(1, bomb, None)
            accounted = wait_until(lambda: node.process.poll() is not None or handled(camera) == 2, ACCOUNT_TIMEOUT_S)
            result["seconds_to_account"] = time.monotonic() - sent if accounted else None
            alive = node.process.poll() is None
            result["peak_rss_mib_after"] = peak_resident_bytes(node.process.pid) / 2**20 if alive else None
            result["counts_after_bomb"] = camera.node_counts()
            if alive:
                camera.send(2, CompressedImage(format="jpeg", data=good), size)
                wait_until(lambda: handled(camera) == 3 and len(camera.received_at) >= 2, 30.0)
            result.update(node_alive=node.process.poll() is None, counts_after_next=camera.node_counts(),
                          next_frame_published=2 in camera.received_at,
                          logged=[line.strip() for line in node.lines if "rejected image" in line or "failed" in line])
    finally:
        returncode, _ = node.stop()
        result["exit_status"] = returncode
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="exported ONNX model (default: a random-weight 64x96, K=64 one)")
    parser.add_argument("--source", type=Path, help="run the node from this source tree (default: this checkout)")
    parser.add_argument("--domain-id", type=int, default=1 + os.getpid() % 100)
    parser.add_argument("--out", type=Path, default=Path("out/hostile_inputs.json"))
    args = parser.parse_args()
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=args.domain_id)
    report: dict[str, Any] = {
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
        "command": " ".join([sys.executable, *sys.argv]), "source": str(args.source or "this checkout"), "bombs": [],
    }
    try:
        with tempfile.TemporaryDirectory() as directory:
            model = args.model or export_default_model(Path(directory))
            for name, (image_format, make) in BOMBS.items():
                result = attack(context, model, name, CompressedImage(format=image_format, data=make()), args.source)
                report["bombs"].append(result)
                print(json.dumps(result), flush=True)
    finally:
        context.try_shutdown()
    atomic_write_bytes(args.out, (json.dumps(report, indent=2) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
