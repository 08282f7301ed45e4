# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""What a DDS benchmark's figures are recorded with: the machine, its load, percentiles, the model measured."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np

from support.paths import REPO_ROOT

SYSCTLS = ("net.core.rmem_max", "net.core.rmem_default", "net.core.wmem_max", "net.core.wmem_default")
VERSIONS = ("ros-fastrtps", "ros-rmw-fastrtps-cpp", "ros-rclpy")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other processes share this machine's cores)."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def percentile(values: Sequence[float], percent: float) -> float | None:
    """The ``percent`` percentile of ``values``; None when there are none."""
    return float(np.percentile(values, percent)) if len(values) else None


def sysctl(name: str) -> str:
    return Path("/proc/sys/" + name.replace(".", "/")).read_text().strip()


def machine_summary() -> dict[str, str]:
    """Date, machine, socket buffer limits and middleware versions."""
    versions = {}
    for package in VERSIONS:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "sysctl": ", ".join(f"{name}={sysctl(name)}" for name in SYSCTLS),
        "versions": ", ".join(f"{package} {version}" for package, version in versions.items()),
    }


def ensure_model(path: Path, height: int = 128, width: int = 160, max_keypoints: int = 64) -> Path:
    """Export a random-weight model to ``path`` unless it exists; returns ``path``."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "disk_trt_ros", "export", "--weights", "random:0", "--height",
                        str(height), "--width", str(width), "--max-keypoints", str(max_keypoints), "--output",
                        str(path)], check=True, cwd=REPO_ROOT)
    return path
