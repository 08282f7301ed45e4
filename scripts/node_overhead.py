#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Where disk_node's per-frame time goes, beyond its backend: publish -> Keypoints received, step by step (issue 15).

Usage (after `make setup`; `source install/setup.sh`):
    python scripts/node_overhead.py [--frames 30] [--rates 1,30] [--size 640x480] [--model M.onnx]
        [--variants baseline,switch_interval] [--node-qos best_effort] [--publisher-qos reliable]
        [--fastdds-defaults] [--json out/node_overhead.json]

Per variant and rate: a node process (scripts/dds_node.py --trace: disk_node's own main, middleware configuration
included, with timestamps recorded around each step and the variant's prototype patches), a camera process
(test/support/dds/camera.py) publishing ``--frames`` rgb8 frames, and this process receiving the Keypoints. For
every frame answered it splits the time from the camera's publish() call to the Keypoints callback here into the
steps below and prints the mean of each (the means add up to the mean total), then the overhead (total minus the
backend's own time on the same frame): mean, p50, p90. Times across processes are time.time().

Variants: ``baseline`` (the node as it is), or ``+``-joined prototype names of scripts/node_tracing.py, e.g.
``events_executor``, ``switch_interval``, ``events_executor+switch_interval``.
Without ``--model`` a random-weight 128x160, K=64 model is exported once to out/models/ (issue 15's model).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))  # the harness lives in test/support

from dds_node import node_command
from node_tracing import PROTOTYPES

from support.dds.camera import FrameSize, camera_command
from support.dds.environment import PROFILE_OFF, child_environment
from support.dds.probe import Probe
from support.dds.record import ensure_model, load_average, machine_summary, percentile
from support.paths import REPO_ROOT

DEFAULT_MODEL = REPO_ROOT / "out" / "models" / "m128x160_k64.onnx"
SETTLE_S = 2.5

# (step, from event, to event): events of the node's trace (scripts/node_tracing.py), of the camera ("called",
# before publish()) and of this probe ("kp_source", "kp_reception", "kp_callback" of the Keypoints message).
STEPS = (
    ("camera publish() until DDS write", "called", "source"),
    ("transport in (DDS write -> node reader has the sample)", "source", "reception"),
    ("executor wakes and takes it", "reception", "take_start"),
    ("rmw take + deserialise to Python", "take_start", "take_end"),
    ("executor -> _on_image", "take_end", "callback"),
    ("_on_image (count, slot put)", "callback", "handed"),
    ("hand-off to the worker (LatestSlot + GIL)", "handed", "worker"),
    ("worker -> conversion start", "worker", "convert_start"),
    ("conversion (ImageConverter.from_image)", "convert_start", "convert_end"),
    ("backend.run (not overhead)", "backend_start", "backend_end"),
    ("message building (keypoints_message)", "build_start", "build_end"),
    ("publish() of Keypoints until DDS write", "publish_start", "kp_source"),
    ("transport out (DDS write -> probe reader has it)", "kp_source", "kp_reception"),
    ("probe executor + deserialise -> callback", "kp_reception", "kp_callback"),
)


def run_variant(variant: str, rate: float, arguments: argparse.Namespace) -> dict[str, object]:
    """One node + camera run; returns per-step p50 (ms), the overhead's p50/p90 and the counts."""
    prototypes = [] if variant == "baseline" else variant.split("+")
    size = FrameSize(*arguments.size, rate)
    probe = Probe(arguments.domain_id)
    with tempfile.TemporaryDirectory() as directory:
        trace, times = Path(directory) / "trace.json", Path(directory) / "times.json"
        command = node_command(arguments.model, arguments.node_qos, stub=arguments.backend == "stub", trace=trace,
                               prototypes=prototypes, parameters=arguments.node_parameter)
        load_before = load_average()
        node_middleware = PROFILE_OFF if arguments.fastdds_defaults else {}
        node = subprocess.Popen(command, cwd=REPO_ROOT, env=child_environment(arguments.domain_id, node_middleware),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            came_up = probe.wait_for_node(node, 60.0)
            if came_up:
                subprocess.run(camera_command(size, arguments.frames / rate, arguments.publisher_qos, str(times)),
                               cwd=REPO_ROOT, env=child_environment(arguments.domain_id), check=True,
                               timeout=arguments.frames / rate * 4 + 60)
                time.sleep(SETTLE_S)
        finally:
            node.send_signal(signal.SIGINT)
            try:
                output = node.communicate(timeout=20)[0]
            except subprocess.TimeoutExpired:
                node.kill()
                output = node.communicate()[0] + "\n(killed: no exit 20 s after SIGINT)"
            probe.close()
        if not came_up:
            raise RuntimeError(f"the probe saw no node and diagnostics within 60 s:\n{output[-3000:]}")
        if not trace.exists():
            raise RuntimeError(f"the node wrote no trace:\n{output[-3000:]}")
        records = {int(index): events for index, events in json.loads(trace.read_text()).items()}
        camera = json.loads(times.read_text())["times"]
    for index, called, _ in camera:
        events = records.setdefault(index, {})
        events["called"] = called
        if index in probe.keypoints:
            answer = probe.keypoints[index]
            events.update(kp_source=answer["source"], kp_reception=answer["received"],
                          kp_callback=answer["callback"])
    answered = [events for events in records.values() if "kp_callback" in events and "backend_end" in events]
    steps = {}
    for name, start, end in STEPS:
        values = [events[end] - events[start] for events in answered if start in events and end in events]
        steps[name] = 1e3 * sum(values) / len(values) if values else None
    overheads = [(e["kp_callback"] - e["called"]) - (e["backend_end"] - e["backend_start"]) for e in answered]
    totals = [e["kp_callback"] - e["called"] for e in answered]
    return {
        "variant": variant, "rate": rate, "sent": len(camera), "answered": len(answered), "steps_mean_ms": steps,
        "total_p50_ms": 1e3 * (percentile(totals, 50) or float("nan")),
        "total_mean_ms": 1e3 * sum(totals) / len(totals) if totals else float("nan"),
        "overhead_mean_ms": 1e3 * sum(overheads) / len(overheads) if overheads else float("nan"),
        "overhead_p50_ms": 1e3 * (percentile(overheads, 50) or float("nan")),
        "overhead_p90_ms": 1e3 * (percentile(overheads, 90) or float("nan")),
        "load": f"{load_before} -> {load_average()}",
    }


def format_table(results: Sequence[dict[str, object]]) -> str:
    columns = [f"{r['variant']} @{r['rate']:g} Hz" for r in results]
    lines = ["| step (mean over the answered frames, ms) | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name, _, _ in STEPS:
        cells = [r["steps_mean_ms"][name] for r in results]  # type: ignore[index]
        lines.append(f"| {name} | " + " | ".join("-" if c is None else f"{c:.2f}" for c in cells) + " |")
    for label, key in (("total publish -> Keypoints callback, mean (= sum of the steps)", "total_mean_ms"),
                       ("overhead (total - backend) mean", "overhead_mean_ms"),
                       ("total publish -> Keypoints callback p50", "total_p50_ms"),
                       ("**overhead (total - backend) p50**", "overhead_p50_ms"),
                       ("overhead p90", "overhead_p90_ms")):
        lines.append(f"| {label} | " + " | ".join(f"{r[key]:.2f}" for r in results) + " |")
    lines.append("| frames answered / sent | " + " | ".join(f"{r['answered']}/{r['sent']}" for r in results) + " |")
    lines.append("| load (start -> end) | " + " | ".join(str(r["load"]) for r in results) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=30, help="frames per run")
    parser.add_argument("--rates", default="1,30", help="comma-separated frame rates (Hz)")
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the rgb8 frames")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--backend", choices=("model", "stub"), default="model",
                        help="model: the node's own backend on --model; stub: K fixed keypoints at once")
    parser.add_argument("--variants", default="baseline", help=f"baseline or +-joined: {', '.join(PROTOTYPES)}")
    parser.add_argument("--node-qos", default="best_effort",
                        help="the node's qos_reliability (default: the node's default; issue 15 used reliable)")
    parser.add_argument("--publisher-qos", default="reliable")
    parser.add_argument("--fastdds-defaults", action="store_true",
                        help="the node without the package's Fast DDS profile (DISK_TRT_ROS_FASTDDS_PROFILE=0)")
    parser.add_argument("--node-parameter", action="append", default=[], help="more NAME:=VALUE for the node")
    parser.add_argument("--domain-id", type=int, default=101 + os.getpid() % 100)
    parser.add_argument("--json", type=Path)
    arguments = parser.parse_args(argv)
    arguments.size = tuple(int(value) for value in arguments.size.split("x"))
    arguments.model = arguments.model.resolve()
    ensure_model(arguments.model)
    summary = machine_summary()
    print("\n".join(f"{key}: {value}" for key, value in summary.items()))
    width, height = arguments.size
    print(f"{arguments.backend} backend, model {arguments.model.name}, {arguments.frames} frames of {width}x{height} "
          f"rgb8 per run, node qos {arguments.node_qos}, publisher qos {arguments.publisher_qos}, package middleware "
          f"{not arguments.fastdds_defaults}, node parameters {arguments.node_parameter}", flush=True)
    results = []
    for variant in arguments.variants.split(","):
        for rate in (float(text) for text in arguments.rates.split(",")):
            try:
                results.append(run_variant(variant, rate, arguments))
            except RuntimeError as error:  # one variant failing (e.g. a prototype the node cannot run) ends only it
                print(f"{variant} @{rate:g} Hz failed: {error}", flush=True)
                continue
            print(f"{variant} @{rate:g} Hz: overhead p50 {results[-1]['overhead_p50_ms']:.2f} ms "
                  f"({results[-1]['answered']}/{results[-1]['sent']} answered)", flush=True)
    print("\n" + format_table(results))
    if arguments.json:
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        arguments.json.write_text(json.dumps({"summary": summary, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
