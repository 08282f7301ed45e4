# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Load: a publisher far faster than inference, and two cameras side by side, through real node processes.

Shortened versions of the scenarios of ``scripts/reliability.py`` (which runs them at full length and records the
figures in docs/reliability.md). They assert properties, never absolute times: latency bounded by a few inferences
of this machine and not growing, memory flat after warm-up, no file-descriptor or thread growth, every frame the
node received accounted for (published, dropped or rejected), every keypoints message valid.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

from support.reliability import scenario

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope="module")
def model(export_model: Any) -> str:
    return str(export_model(height=64, width=96).path)


def test_a_200_hz_flood_keeps_latency_bounded_memory_flat_and_counts_the_drops(rclpy_context: Any, model: str) -> None:
    result = scenario.run_scenario("flood", model, rclpy_context, rate_hz=200, frames=1200, bad_every=50,
                                      every_frame_reaches_the_node=False)
    print(result.table())
    assert result.failures() == [], result.table()
    camera = result.cameras[0]
    assert camera.node["dropped"] > camera.node["received"] / 2, "inference is far slower than 200 Hz"
    # Inference never blocks the executor: the node takes (and counts) nearly every frame; a node that inferred in
    # its callback would leave most of them to overflow the subscription's queue, uncounted.
    assert camera.sent - camera.node["received"] <= 0.05 * camera.sent, result.table()


def test_two_cameras_in_two_namespaces_run_side_by_side(rclpy_context: Any, model: str) -> None:
    result = scenario.run_scenario("cameras", model, rclpy_context, cameras=("left", "right"), rate_hz=50,
                                      frames=300, bad_every=25)
    print(result.table())
    assert result.failures() == [], result.table()
    for camera in result.cameras:  # each node published for its own camera only (foreign == 0 is checked above)
        assert camera.node["published"] > 0 and camera.node["rejected"] > 0, result.table()
