# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A camera driver's process: ``python -m support.dds.camera`` publishes rgb8 frames at a rate (issue 15's harness).

    python -m support.dds.camera --size 640x480@30 --seconds S --qos reliable|best_effort --out TIMES.json
        [--topic image]

Plain rclpy, Fast DDS as its environment says (by default untouched, as a driver's). Depth 10 for a reliable
publisher (rclcpp's default QoS), 5 for best effort (SensorDataQoS), as drivers do. Frame i is stamped as
:func:`support.reliability.frames.stamp_of` says, so a Keypoints message names its frame. It starts once a
subscription has matched, publishes ``seconds x rate`` frames and lingers (a reliable writer must live on to repair
its last frames); ``--out`` then holds ``{"matched": bool, "times": [[index, before publish(), after], ...]}`` in
``time.time()`` seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from array import array
from pathlib import Path
from typing import Any, Sequence

MATCH_TIMEOUT_S = 10.0
MATCH_SETTLE_S = 0.5  # the node's reader matches this writer a moment after this side saw it
LINGER_S = 2.0
RELIABILITIES = ("reliable", "best_effort")


@dataclasses.dataclass(frozen=True)
class FrameSize:
    """Frames of ``width`` x ``height`` rgb8 at ``rate`` per second; written ``640x480@30``."""

    width: int
    height: int
    rate: float

    @classmethod
    def parse(cls, text: str) -> FrameSize:
        size, rate = text.split("@")
        width, height = size.split("x")
        return cls(int(width), int(height), float(rate))

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3

    def __str__(self) -> str:
        return f"{self.width}x{self.height}@{self.rate:g}"


def camera_command(
    size: FrameSize, seconds: float, qos: str, out: str | os.PathLike[str], topic: str = "image"
) -> list[str]:
    """The command line of a camera process (run it with :func:`support.dds.environment.child_environment`)."""
    return [sys.executable, "-m", "support.dds.camera", "--size", str(size), "--seconds", str(seconds), "--qos", qos,
            "--out", str(out), "--topic", topic]


def qos_profile(reliability: str, depth: int) -> Any:
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    policy = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}[reliability]
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=policy)


def publish(size: FrameSize, seconds: float, qos: str, topic: str) -> dict[str, Any]:
    """Publish the frames once a subscription matched; returns what ``--out`` holds."""
    import numpy as np
    import rclpy
    from sensor_msgs.msg import Image

    from support.reliability.frames import stamp_of

    rclpy.init()
    try:
        node = rclpy.create_node(f"camera_{os.getpid()}")
        publisher = node.create_publisher(Image, topic, qos_profile(qos, 10 if qos == "reliable" else 5))
        pixels = np.random.default_rng(0).integers(0, 256, size=size.frame_bytes, dtype=np.uint8)
        message = Image(height=size.height, width=size.width, encoding="rgb8", step=size.width * 3)
        message.header.frame_id = "camera"
        message.data = array("B", pixels.tobytes())
        deadline = time.monotonic() + MATCH_TIMEOUT_S
        while publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        if publisher.get_subscription_count() < 1:
            return {"matched": False, "times": []}
        time.sleep(MATCH_SETTLE_S)
        times = []
        start = time.monotonic()
        for index in range(round(seconds * size.rate)):
            delay = start + index / size.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            message.header.stamp = stamp_of(index)
            called = time.time()
            publisher.publish(message)
            times.append((index, called, time.time()))
        time.sleep(LINGER_S)
        node.destroy_node()
        return {"matched": True, "times": times}
    finally:
        rclpy.try_shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.dds.camera", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=FrameSize.parse, required=True, help="WIDTHxHEIGHT@RATE")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--qos", choices=RELIABILITIES, required=True)
    parser.add_argument("--topic", default="image")
    parser.add_argument("--out", type=Path, required=True)
    arguments = parser.parse_args(argv)
    result = publish(arguments.size, arguments.seconds, arguments.qos, arguments.topic)
    arguments.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
