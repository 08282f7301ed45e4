#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Delivery of camera frames from another process to disk_node over Fast DDS, per frame size, rate and QoS (issue 15).

Usage (after `make setup`; `source install/setup.sh`):
    python scripts/dds_delivery.py [--seconds 10] [--means default,package]
        [--sizes 640x480@30,1280x720@30,1920x1080@15] [--publisher-qos best_effort,reliable]
        [--node-qos best_effort] [--backend stub|model] [--model M.onnx]
        [--repeat 1] [--json out/dds_delivery.json]
    python scripts/dds_delivery.py --list-means

One run = three processes on a ROS domain of its own: the node (scripts/dds_node.py: disk_node's own main, which
configures the middleware as the package does), started fresh with its default parameters except the model and the
image QoS; a camera process (test/support/dds/camera.py: plain rclpy, Fast DDS as the means' camera environment
says, by default untouched); and this process, the probe, receiving the node's Keypoints and /diagnostics. Each
run prints one table row: frames sent by the camera, received by the node (its /diagnostics ``received``), lost
before the node (% of sent), answered (Keypoints received here), dropped by the node (newer frame while busy), the
node's own count of lost frames (``lost_before_node``), the latency from the camera's
publish() call to the Keypoints' arrival here (p50 / p90 ms), and the load average before -> after.

``--backend stub`` (default) replaces the node's inference by K fixed keypoints returned at once, so only transport
is measured. Without ``--model`` a random-weight 128x160, K=64 model is exported once to out/models/.
"""

from __future__ import annotations

import argparse
import dataclasses
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

from support.dds.camera import FrameSize, camera_command
from support.dds.environment import PROFILE_OFF, child_environment
from support.dds.probe import Probe
from support.dds.record import ensure_model, load_average, machine_summary, percentile
from support.paths import REPO_ROOT

DEFAULT_MODEL = REPO_ROOT / "out" / "models" / "m128x160_k64.onnx"
SETTLE_S = 2.5  # after the camera ends: the node's last diagnostics (once a second) and keypoints


@dataclasses.dataclass(frozen=True)
class Means:
    """One configuration under test: the Fast DDS environment of the node, the camera and the probe.

    ``{profiles}`` in a value is the directory of :func:`write_experiment_profiles`. ``package_profile``: the node
    configures its middleware as it does by default (unless ``node_env`` configures Fast DDS); otherwise it runs
    with DISK_TRT_ROS_FASTDDS_PROFILE=0 and ``node_env``.
    """

    name: str
    description: str
    node_env: dict[str, str] = dataclasses.field(default_factory=dict)
    camera_env: dict[str, str] = dataclasses.field(default_factory=dict)
    probe_env: dict[str, str] = dataclasses.field(default_factory=dict)
    package_profile: bool = False

    def node_environment(self, profiles: Path) -> dict[str, str]:
        variables = {key: value.replace("{profiles}", str(profiles)) for key, value in self.node_env.items()}
        return variables if self.package_profile else {**PROFILE_OFF, **variables}


LARGE_DATA = {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}
LOCALHOST = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}  # rmw_fastrtps then adds SHM and UDPv4 transports itself
MEANS = {means.name: means for means in (
    Means("default", "Fast DDS defaults on both sides (UDPv4 + SHM, 512 KiB segment, system socket buffers)"),
    Means("large_data_both", "FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA on node and camera (and probe)",
          LARGE_DATA, LARGE_DATA, LARGE_DATA),
    Means("large_data_node", "FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA on the node only (probe too, else it cannot "
          "discover the node)", LARGE_DATA, {}, LARGE_DATA),
    Means("shm_both", "FASTDDS_BUILTIN_TRANSPORTS=SHM on all sides (default 512 KiB segment)",
          {"FASTDDS_BUILTIN_TRANSPORTS": "SHM"}, {"FASTDDS_BUILTIN_TRANSPORTS": "SHM"},
          {"FASTDDS_BUILTIN_TRANSPORTS": "SHM"}),
    Means("shm_segment_node", "node only: SHM segment 64 MB (FASTDDS_BUILTIN_TRANSPORTS=DEFAULT?sockets_size=32MB)",
          {"FASTDDS_BUILTIN_TRANSPORTS": "DEFAULT?sockets_size=32MB"}),
    Means("shm_segment_camera", "camera only: SHM segment 64 MB (DEFAULT?sockets_size=32MB): the sender's segment",
          camera_env={"FASTDDS_BUILTIN_TRANSPORTS": "DEFAULT?sockets_size=32MB"}),
    Means("udp_node", "node only: FASTDDS_BUILTIN_TRANSPORTS=UDPv4 (no SHM), system socket buffers",
          {"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}),
    Means("udp_node_4mb", "node only: UDPv4 only, socket buffers 4 MB (FASTDDS_BUILTIN_TRANSPORTS=UDPv4?sockets_size"
          "=4MB; the kernel caps it at net.core.rmem_max)", {"FASTDDS_BUILTIN_TRANSPORTS": "UDPv4?sockets_size=4MB"}),
    Means("udp_receive_node", "node only: XML profile keeping SHM for sending, user data received on UDPv4 "
          "(defaultUnicastLocatorList), system socket buffers",
          {"FASTRTPS_DEFAULT_PROFILES_FILE": "{profiles}/udp_receive_system_buffers.xml"}),
    Means("package", "the node as the package starts it: its Fast DDS profile (disk_trt_ros/data/fastdds_node.xml)",
          package_profile=True),
    Means("package_user_default", "the node as the package starts it, with the user's FASTDDS_BUILTIN_TRANSPORTS="
          "DEFAULT set: the user's choice wins, the package's profile is not applied",
          {"FASTDDS_BUILTIN_TRANSPORTS": "DEFAULT"}, package_profile=True),
    Means("default_localhost", "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST on all sides, Fast DDS defaults otherwise",
          LOCALHOST, LOCALHOST, LOCALHOST),
    Means("package_localhost",
          "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST on all sides, the package's profile on the node",
          LOCALHOST, LOCALHOST, LOCALHOST, package_profile=True),
)}


def write_experiment_profiles(directory: Path) -> None:
    """Experiment-only Fast DDS profiles (the package's own is disk_trt_ros/data/fastdds_node.xml)."""
    (directory / "udp_receive_system_buffers.xml").write_text("""<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <profiles>
    <transport_descriptors>
      <transport_descriptor><transport_id>udp</transport_id><type>UDPv4</type></transport_descriptor>
      <transport_descriptor><transport_id>shm</transport_id><type>SHM</type></transport_descriptor>
    </transport_descriptors>
    <participant profile_name="experiment" is_default_profile="true">
      <rtps>
        <useBuiltinTransports>false</useBuiltinTransports>
        <userTransports><transport_id>shm</transport_id><transport_id>udp</transport_id></userTransports>
        <defaultUnicastLocatorList><locator><udpv4/></locator></defaultUnicastLocatorList>
      </rtps>
    </participant>
  </profiles>
</dds>
""")


@dataclasses.dataclass
class RunResult:
    """What one run saw; ``received``, ``dropped`` and ``lost_reported`` come from the node's last /diagnostics."""

    means: str
    size: str
    publisher_qos: str
    node_qos: str
    sent: int
    received: int | None
    answered: int
    dropped: int | None
    lost_reported: int | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    load: str
    note: str = ""
    last_warning: str = ""  # the node's latest WARN diagnostics message (in --json only)

    @property
    def lost_percent(self) -> float | None:
        if self.received is None or not self.sent:
            return None
        return 100.0 * (self.sent - self.received) / self.sent


def run_once(probe: Probe, means: Means, size: FrameSize, publisher_qos: str, node_qos: str,
             arguments: argparse.Namespace, profiles: Path) -> RunResult:
    """Start the node, publish from a camera process, collect what arrived; the node is stopped at the end."""
    probe.reset()
    command = node_command(arguments.model, node_qos, stub=arguments.backend == "stub")
    load_before = load_average()
    with tempfile.TemporaryFile(mode="w+") as node_log, tempfile.NamedTemporaryFile(suffix=".json") as times_file:
        node = subprocess.Popen(command, cwd=REPO_ROOT,
                                env=child_environment(arguments.domain_id, means.node_environment(profiles)),
                                stdout=node_log, stderr=subprocess.STDOUT, text=True)
        camera_times = {"matched": False, "times": []}
        note = ""
        try:
            if probe.wait_for_node(node, 60.0):
                camera = subprocess.run(
                    camera_command(size, arguments.seconds, publisher_qos, times_file.name), cwd=REPO_ROOT,
                    env=child_environment(arguments.domain_id, means.camera_env), capture_output=True, text=True,
                    timeout=arguments.seconds * 4 + 60)
                if camera.returncode != 0:
                    raise RuntimeError(f"camera failed: {camera.stderr[-2000:]}")
                camera_times = json.loads(Path(times_file.name).read_text())
                note = "" if camera_times["matched"] else "camera matched no subscription (incompatible QoS?)"
                time.sleep(SETTLE_S)
            else:
                note = "the probe did not discover the node within 60 s"
        finally:
            node.send_signal(signal.SIGINT)
            try:
                node.wait(timeout=15)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        if note.startswith("the probe"):
            node_log.seek(0)
            print(node_log.read()[-2000:], file=sys.stderr)
    with probe.lock:
        diagnostics, keypoints, warning = dict(probe.diagnostics), dict(probe.keypoints), probe.last_warning
    published = {index: called for index, called, _ in camera_times["times"]}
    latencies = [keypoints[i]["callback"] - published[i] for i in keypoints if i in published]

    def count(key: str) -> int | None:
        return int(diagnostics[key]) if key in diagnostics else None

    def milliseconds(value: float | None) -> float | None:
        return None if value is None else 1e3 * value

    return RunResult(
        means=means.name, size=str(size), publisher_qos=publisher_qos, node_qos=node_qos, sent=len(published),
        received=count("received"), answered=len(latencies), dropped=count("dropped"),
        lost_reported=count("lost_before_node"), latency_p50_ms=milliseconds(percentile(latencies, 50)),
        latency_p90_ms=milliseconds(percentile(latencies, 90)), load=f"{load_before} -> {load_average()}",
        note=note, last_warning=warning)


def format_rows(results: Sequence[RunResult], header: bool = True) -> str:
    def number(value: float | int | None, form: str = "{}") -> str:
        return "-" if value is None else form.format(value)

    title = ("| means | frames | publisher QoS | node QoS | sent | received | lost % | answered | dropped "
             "| lost (node's count) | latency p50 / p90 ms | load 1/5/15 min (start -> end) |")
    lines = [title, "|" + "---|" * (title.count("|") - 1)] if header else []
    for r in results:
        lines.append(
            f"| {r.means} | {r.size} | {r.publisher_qos} | {r.node_qos} | {r.sent} | {number(r.received)} "
            f"| {number(r.lost_percent, '{:.1f}')} | {r.answered} | {number(r.dropped)} | {number(r.lost_reported)} "
            f"| {number(r.latency_p50_ms, '{:.1f}')} / {number(r.latency_p90_ms, '{:.1f}')} | {r.load} |"
            + (f" {r.note}" if r.note else ""))
    return "\n".join(lines)


def run_means(arguments: argparse.Namespace, means: Means) -> list[RunResult]:
    """Every size x publisher QoS x node QoS of one means, ``--repeat`` times, with one probe."""
    results = []
    with tempfile.TemporaryDirectory() as directory:
        profiles = Path(directory)
        write_experiment_profiles(profiles)
        probe = Probe(arguments.domain_id, means.probe_env, keypoints_qos=arguments.keypoints_qos)
        try:
            for _ in range(arguments.repeat):
                for size in map(FrameSize.parse, arguments.sizes.split(",")):
                    for publisher_qos in arguments.publisher_qos.split(","):
                        for node_qos in arguments.node_qos.split(","):
                            result = run_once(probe, means, size, publisher_qos, node_qos, arguments, profiles)
                            print(format_rows([result], header=False), flush=True)
                            results.append(result)
        finally:
            probe.close()
    return results


def run_each_means_apart(argv: Sequence[str], names: Sequence[str]) -> list[RunResult]:
    """This script once per means, each in a process of its own: a participant of the probe's (TCP with LARGE_DATA)
    does not survive being replaced in one process, and a crash ends one means only."""
    results = []
    for name in names:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            child = subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv, "--means", name,
                                    "--json", out.name, "--quiet"], cwd=REPO_ROOT)
            if child.returncode != 0:
                print(f"| {name} | means failed (exit {child.returncode}) |", flush=True)
                continue
            results += [RunResult(**row) for row in json.loads(Path(out.name).read_text())["results"]]
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="publishing time per run (issue 15: 60)")
    parser.add_argument("--means", default="default,package", help="comma-separated; see --list-means")
    parser.add_argument("--sizes", default="640x480@30,1280x720@30,1920x1080@15", help="WIDTHxHEIGHT@RATE,...")
    parser.add_argument("--publisher-qos", default="best_effort,reliable")
    parser.add_argument("--node-qos", default="best_effort", help="the node's qos_reliability parameter(s)")
    parser.add_argument("--keypoints-qos", choices=("reliable", "best_effort"), default="reliable",
                        help="reliability of this side's Keypoints subscription")
    parser.add_argument("--backend", choices=("stub", "model"), default="stub",
                        help="stub: K fixed keypoints at once (transport only); model: the node's own backend")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeat", type=int, default=1, help="run the whole matrix this many times")
    parser.add_argument("--domain-id", type=int, default=101 + os.getpid() % 100)
    parser.add_argument("--json", type=Path, help="write the results and the machine summary here")
    parser.add_argument("--list-means", action="store_true")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)  # a child of run_each_means_apart
    arguments = parser.parse_args(argv)
    if arguments.list_means:
        print("\n".join(f"{means.name}: {means.description}" for means in MEANS.values()))
        return 0
    unknown = [name for name in arguments.means.split(",") if name not in MEANS]
    if unknown:
        parser.error(f"unknown means {', '.join(unknown)}: choose from {', '.join(MEANS)}")
    arguments.model = arguments.model.resolve()
    ensure_model(arguments.model)
    summary = machine_summary()
    names = arguments.means.split(",")
    if not arguments.quiet:
        print("\n".join(f"{key}: {value}" for key, value in summary.items()))
        print(f"backend {arguments.backend}, model {arguments.model.name}, {arguments.seconds:g} s per run, "
              f"Keypoints subscription here {arguments.keypoints_qos}, ROS_DOMAIN_ID {arguments.domain_id}\n"
              f"{format_rows([])}", flush=True)
    if len(names) > 1:
        common = ["--seconds", str(arguments.seconds), "--sizes", arguments.sizes, "--publisher-qos",
                  arguments.publisher_qos, "--node-qos", arguments.node_qos, "--backend", arguments.backend,
                  "--model", str(arguments.model), "--repeat", str(arguments.repeat), "--keypoints-qos",
                  arguments.keypoints_qos, "--domain-id",
                  str(arguments.domain_id)]
        results = run_each_means_apart(common, names)
    else:
        results = run_means(arguments, MEANS[names[0]])
    if not arguments.quiet:
        print(f"\n{format_rows(results)}")
        print("\n".join(f"  {name}: {MEANS[name].description}" for name in dict.fromkeys(r.means for r in results)))
    if arguments.json:
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        arguments.json.write_text(json.dumps(
            {"summary": summary, "arguments": {key: str(value) for key, value in vars(arguments).items()},
             "results": [dataclasses.asdict(result) for result in results]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
