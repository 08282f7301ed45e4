# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Soak: a long stream through one node process; memory, file descriptors and threads stay flat, every frame is
accounted for.

CI runs 1,500 frames; ``scripts/reliability.py`` runs 10,000 (docs/reliability.md has the figures). Every 50th frame
is a bad message, so that the published, dropped and rejected paths all run for the whole soak.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

from support.reliability import results, scenario

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FRAMES = 1500


def test_a_soak_accounts_for_every_frame_and_keeps_resources_flat(rclpy_context: Any, export_model: Any) -> None:
    model = export_model(height=64, width=96).path
    result = scenario.run_scenario("soak", model, rclpy_context, rate_hz=100, frames=FRAMES, bad_every=50)
    print(result.table())
    assert result.failures() == [], result.table()
    camera, node = result.cameras[0], result.cameras[0].node
    assert node["published"] + node["dropped"] + node["rejected"] == FRAMES == camera.sent
    assert node["rejected"] > 0 and node["published"] > FRAMES / 10
    resources = result.resources["camera"]
    assert resources["end"]["rss_kib"] <= (1 + results.MAX_RSS_GROWTH) * resources["warm"]["rss_kib"]
    assert (resources["end"]["fds"], resources["end"]["threads"]) <= (resources["warm"]["fds"],
                                                                      resources["warm"]["threads"])
