# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Camera frames from other processes reach disk_node as a user starts it (issue 15).

The node runs as its own process, ``python -m disk_trt_ros.node`` with default parameters and a small model, so its
``main`` configures the middleware as it does for a user; 640x480 rgb8 frames come from camera processes
(support/dds/camera.py) with a reliable and with a best-effort publisher, as drivers publish. Within one process DDS
delivers differently, which is why the tests of test_node.py could not see frames lost between processes. Counts
only, no timing bounds; scripts/dds_delivery.py measures the same at full length and every size (docs/dds.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

from disk_trt_ros.middleware import OPT_OUT_VARIABLE, socket_receive_limit, sufficient_rmem_max
from support.dds.camera import FrameSize, camera_command
from support.dds.environment import MIDDLEWARE_VARIABLES, PROFILE_OFF, child_environment
from support.dds.probe import Probe
from support.paths import REPO_ROOT
from support.reliability.node_process import NodeProcess

pytestmark = pytest.mark.ros

DOMAIN_ID = 201 + os.getpid() % 30  # apart from the other test modules' domains
# 10 Hz: a frame is lost the same way at any rate (in one burst of fragments), but the node's subscription queue (5
# frames) then outlasts half a second without CPU on a loaded machine.
VGA = FrameSize(640, 480, 10.0)
FRAMES = 100  # per publisher
FRAMES_WITHOUT_PROFILE = 30  # Fast DDS's defaults lose most of them
MIN_RECEIVED = 0.99
START_TIMEOUT_S = 60.0
MATCHER_NODE = [sys.executable, "-m", "disk_trt_ros.node.matcher_node"]


@pytest.fixture
def middleware_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """The node and cameras get no middleware setting from this process: what a user's plain shell gives them."""
    for name in MIDDLEWARE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def start_node(
    export_model: Callable[..., Any], middleware_unset: None
) -> Iterator[Callable[..., tuple[NodeProcess, Probe]]]:
    """Start ``python -m disk_trt_ros.node`` (default parameters, 128x160 K=64 model) and a probe of its topics."""
    started: list[tuple[NodeProcess, Probe]] = []

    def start(environment: dict[str, str] | None = None) -> tuple[NodeProcess, Probe]:
        namespace = f"/d{uuid.uuid4().hex[:8]}"
        node = NodeProcess(export_model().path, namespace, DOMAIN_ID, environment=environment,
                           harness_parameters=False)
        probe = Probe(DOMAIN_ID, namespace=namespace)
        started.append((node, probe))
        assert probe.wait_for_node(node.process, START_TIMEOUT_S), f"the node did not come up:\n{node.output}"
        return node, probe

    yield start
    for node, probe in started:
        node.stop()
        probe.close()


def publish_from_a_camera_process(probe: Probe, qos: str, frames: int, tmp_path: Path) -> tuple[int, dict[str, int]]:
    """Frames sent by a camera process, and the change of the node's counters meanwhile."""
    before = probe.next_diagnostics()
    times = tmp_path / f"camera_{qos}.json"
    camera = subprocess.run(camera_command(VGA, frames / VGA.rate, qos, times, topic=f"{probe.namespace}/image"),
                            cwd=REPO_ROOT, env=child_environment(DOMAIN_ID), capture_output=True, text=True,
                            timeout=START_TIMEOUT_S + 4 * frames / VGA.rate)
    assert camera.returncode == 0, camera.stderr[-3000:]
    sent = json.loads(times.read_text())
    assert sent["matched"], f"the {qos} camera matched no subscription"
    after = probe.next_diagnostics()
    assert before and after, "the node's diagnostics stopped"
    return len(sent["times"]), {key: after[key] - before[key] for key in after}


def test_frames_from_reliable_and_best_effort_camera_processes_reach_a_node_with_default_parameters(
    start_node: Callable[..., tuple[NodeProcess, Probe]], tmp_path: Path
) -> None:
    limit = socket_receive_limit()
    if limit is not None and limit < VGA.frame_bytes:
        pytest.skip(f"2 x net.core.rmem_max = {limit} bytes here, less than a 640x480 rgb8 frame ({VGA.frame_bytes} "
                    f"bytes): the node's socket cannot hold one (sudo sysctl -w net.core.rmem_max="
                    f"{sufficient_rmem_max(VGA.frame_bytes)}, docs/dds.md)")
    node, probe = start_node()
    node.wait_for_line("Fast DDS with the node's profile", 1.0)
    for qos in ("reliable", "best_effort"):
        sent, counted = publish_from_a_camera_process(probe, qos, FRAMES, tmp_path)
        assert sent == FRAMES
        assert counted["received"] >= MIN_RECEIVED * sent, (
            f"{qos} camera: {counted['received']} of {sent} received; the node: {probe.last_warning}")
        assert counted["lost_before_node"] <= sent - counted["received"], "the node counts frames it received as lost"


def test_with_the_profile_turned_off_the_node_counts_the_frames_fast_dds_loses_and_says_how_to_turn_it_on(
    start_node: Callable[..., tuple[NodeProcess, Probe]], tmp_path: Path
) -> None:
    node, probe = start_node(PROFILE_OFF)
    node.wait_for_line(f"({OPT_OUT_VARIABLE}=0): the node's profile is not applied", 1.0)
    sent, counted = publish_from_a_camera_process(probe, "best_effort", FRAMES_WITHOUT_PROFILE, tmp_path)
    lost = sent - counted["received"]
    if lost < 10:
        pytest.skip(f"Fast DDS's defaults lost only {lost} of {sent} frames here: too few to check their count")
    assert 1 <= counted["lost_before_node"] <= lost
    assert f"unset {OPT_OUT_VARIABLE}" in probe.last_warning and "frames before the node" in probe.last_warning


def test_the_matcher_node_is_given_the_profile_too(export_model: Callable[..., Any], middleware_unset: None) -> None:
    """Both nodes start through node.process.run_node (their main, which ros2 run and ros2 launch run), and it
    configures the middleware before rclpy.init: the matcher receives Keypoints messages from other processes."""
    matcher = NodeProcess(export_model().path, "/matcher", DOMAIN_ID, command=MATCHER_NODE, harness_parameters=False)
    try:
        matcher.wait_for_line("Fast DDS with the node's profile", START_TIMEOUT_S)
    finally:
        matcher.stop()


@pytest.mark.parametrize("command", [None, MATCHER_NODE], ids=["disk_node", "matcher_node"])
def test_the_nodes_refuse_an_unclear_opt_out_value(
    command: list[str] | None, export_model: Callable[..., Any], middleware_unset: None
) -> None:
    node = NodeProcess(export_model().path, "/unclear", DOMAIN_ID, environment={OPT_OUT_VARIABLE: "maybe"},
                       command=command)
    node.process.wait(timeout=START_TIMEOUT_S)
    status, _ = node.stop()
    assert status == 2, node.output
    assert f"{OPT_OUT_VARIABLE}='maybe' is neither 0 nor 1" in node.output
