# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The figures of a scenario and the properties they must have (:meth:`ScenarioResult.failures`)."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from support.reliability.camera import Camera

# The properties (see ScenarioResult.failures).
MAX_RSS_GROWTH = 0.05
LATENCY_BOUND_INFERENCES = 4  # newest frame wins: a frame waits for at most the inference in hand, then its own
LATENCY_SLACK_S = 0.5  # transport and scheduling on a shared machine
MAX_LATENCY_GROWTH = 2.0  # median over the last fifth of the frames against the first fifth
SHUTDOWN_LIMIT_S = 2.0


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    p50, p99 = np.percentile(values, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "max": float(np.max(values))}


@dataclasses.dataclass
class CameraResult:
    """What happened to one camera's frames (latencies in seconds)."""

    camera: str
    sent: int
    bad_sent: int
    node: dict[str, int]
    keypoints_received: int
    first_frame_received: int | None
    duplicates: int
    foreign: int
    invalid: list[str]
    latency: dict[str, float]
    latency_first_fifth: dict[str, float]
    latency_last_fifth: dict[str, float]

    @classmethod
    def of(cls, camera: Camera) -> CameraResult:
        frames = sorted(camera.received_at)
        latencies = [camera.received_at[i] - camera.sent_at[i] for i in frames]
        fifth = max(1, len(latencies) // 5)
        return cls(
            camera=camera.name, sent=len(camera.sent_at), bad_sent=camera.bad_sent, node=camera.node_counts(),
            keypoints_received=len(frames), first_frame_received=frames[0] if frames else None,
            duplicates=camera.duplicates, foreign=camera.foreign,
            invalid=camera.invalid[:10], latency=percentiles(latencies),
            latency_first_fifth=percentiles(latencies[:fifth]), latency_last_fifth=percentiles(latencies[-fifth:]),
        )


@dataclasses.dataclass
class ScenarioResult:
    """Figures of one scenario; :meth:`failures` checks them."""

    name: str
    rate_hz: float
    frames_per_camera: int
    seconds: float
    inference_ms: float
    every_frame_reaches_the_node: bool
    cameras: list[CameraResult]
    resources: dict[str, dict[str, Any]]
    shutdown: dict[str, dict[str, Any]]

    @property
    def latency_bound_s(self) -> float:
        """How late a keypoints message may be: a few inferences of every node sharing the machine, plus slack."""
        return LATENCY_BOUND_INFERENCES * len(self.cameras) * self.inference_ms / 1e3 + LATENCY_SLACK_S

    def failures(self) -> list[str]:
        """Each property that does not hold, in words (empty when all hold)."""
        failures = []
        for camera in self.cameras:
            c, node = camera.camera, camera.node
            if not node:
                failures.append(f"{c}: no diagnostics from the node")
                continue
            if node["received"] != camera.sent and self.every_frame_reaches_the_node:
                failures.append(f"{c}: sent {camera.sent} frames, the node received {node['received']}")
            if node["lost"] > camera.sent - node["received"]:
                failures.append(
                    f"{c}: the node counts {node['lost']} frames lost, {camera.sent - node['received']} were"
                )
            outcomes = ("published", "dropped", "rejected", "failed", "invalid_output")
            accounted = sum(node[outcome] for outcome in outcomes)
            if accounted != node["received"]:
                failures.append(f"{c}: the node received {node['received']} frames but accounts for {accounted}")
            if node["failed"] or node["invalid_output"]:
                failures.append(f"{c}: inference failed on {node['failed']} frames, gave outputs that break the "
                                f"contract on {node['invalid_output']}")
            if camera.keypoints_received != node["published"]:
                failures.append(f"{c}: the node published {node['published']}, {camera.keypoints_received} arrived "
                                f"(the first for frame {camera.first_frame_received})")
            if camera.invalid or camera.foreign or camera.duplicates:
                failures.append(f"{c}: {len(camera.invalid)} invalid, {camera.foreign} foreign, {camera.duplicates} "
                                f"duplicate keypoints messages: {camera.invalid[:3]}")
            if not camera.latency["max"] <= self.latency_bound_s:
                failures.append(f"{c}: latency up to {camera.latency['max']:.3f} s, bound {self.latency_bound_s:.3f} s")
            late, early = camera.latency_last_fifth["p50"], camera.latency_first_fifth["p50"]
            if not late <= MAX_LATENCY_GROWTH * early + LATENCY_SLACK_S / 2:  # a queue would grow by seconds
                failures.append(f"{c}: latency grows: median {early:.3f} s in the first fifth, {late:.3f} s in the "
                                "last")
        for node_name, figures in self.resources.items():
            warm, end = figures["warm"], figures["end"]
            if end["rss_kib"] > (1 + MAX_RSS_GROWTH) * warm["rss_kib"]:
                failures.append(f"{node_name}: resident memory grew {figures['rss_growth'] * 100:.1f}% after warm-up")
            if end["fds"] > warm["fds"] or end["threads"] > warm["threads"]:
                failures.append(f"{node_name}: file descriptors {warm['fds']} -> {end['fds']}, threads "
                                f"{warm['threads']} -> {end['threads']}")
        for node_name, stop in self.shutdown.items():
            if stop["returncode"] != 0 or not stop["seconds"] < SHUTDOWN_LIMIT_S:
                failures.append(f"{node_name}: SIGINT ended it with status {stop['returncode']} after "
                                f"{stop['seconds']:.2f} s")
        return failures

    def rows(self) -> list[str]:
        """Table rows, one per camera."""
        rows = []
        for camera in self.cameras:
            node = camera.node or dict.fromkeys(("received", "published", "dropped", "rejected", "failed", "lost"), -1)
            latency = camera.latency
            resources = self.resources.get(camera.camera, {})
            warm, end = resources.get("warm", {}), resources.get("end", {})
            rows.append(
                f"| {self.name} | {camera.camera} | {self.rate_hz:.0f} | {camera.sent} | "
                f"{camera.sent - node['received']} (node counted {node['lost']}) | {node['received']} | "
                f"{node['published']} | {node['dropped']} | {node['rejected']} | {node['failed']} | "
                f"{latency['p50'] * 1e3:.0f} / {latency['p99'] * 1e3:.0f} / {latency['max'] * 1e3:.0f} | "
                f"{warm.get('rss_kib', 0) / 1024:.1f} -> {end.get('rss_kib', 0) / 1024:.1f} "
                f"({resources.get('rss_growth', float('nan')) * 100:+.1f}%) | {warm.get('fds')} -> {end.get('fds')} | "
                f"{warm.get('threads')} -> {end.get('threads')} | "
                f"{self.shutdown.get(camera.camera, {}).get('seconds', float('nan')):.2f} |"
            )
        return rows

    def table(self) -> str:
        return "\n".join([TABLE_HEADER, *self.rows(), *(f"FAILED: {failure}" for failure in self.failures())])


TABLE_HEADER = (
    "| scenario | camera | rate Hz | sent | lost before the node | received | published | dropped | rejected | "
    "failed | latency p50 / p99 / max ms | RSS MiB warm -> end | fds | threads | SIGINT to exit s |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)
