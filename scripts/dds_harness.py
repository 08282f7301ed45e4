#!/usr/bin/env python3
"""The processes of the DDS benchmarks (scripts/dds_delivery.py, scripts/node_overhead.py): camera, node and probe.

Roles run as child processes of a benchmark:
    python scripts/dds_harness.py camera --width W --height H --rate HZ --seconds S --qos reliable|best_effort --out F
        plain rclpy, as a camera driver: sensor_msgs/Image rgb8 on ``image``, Fast DDS as its environment says;
    python scripts/dds_harness.py node [--stub] [--configure-middleware] [--trace F [--prototype NAME]...]
            -- --ros-args -p model:=M ...
        ``disk_trt_ros.node.disk_node.main``, the function ``python -m disk_trt_ros.node`` runs, after the patches
        the flags ask for, in the node's process only (no node module is edited):
        ``--stub`` replaces ``create_backend`` by one returning K fixed keypoints at once (transport measurements);
        ``--configure-middleware`` calls ``disk_trt_ros.middleware.configure_fastdds()`` first, as the node would;
        ``--trace`` records per-frame timestamps (scripts/node_tracing.py) and ``--prototype`` applies proposed fixes.
The probe (:class:`Probe`) lives in the benchmark's process: it receives the node's Keypoints and /diagnostics.

Times that cross processes are ``time.time()`` seconds, as are the DDS source and reception timestamps that rclpy
gives in a callback's message info.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import threading
import time
from array import array
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
HARNESS = Path(__file__).resolve()
STAMP_SEC = 1_700_000_000  # frame i is stamped (STAMP_SEC, i): a Keypoints message names its frame
MIDDLEWARE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS",
                        "RMW_FASTRTPS_USE_QOS_FROM_XML", "RMW_FASTRTPS_PUBLICATION_MODE", "ROS_LOCALHOST_ONLY",
                        "ROS_AUTOMATIC_DISCOVERY_RANGE", "RMW_IMPLEMENTATION")
MATCH_TIMEOUT_S = 10.0
CAMERA_LINGER_S = 2.0  # a reliable writer must live on to repair its last frames


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

    def __str__(self) -> str:
        return f"{self.width}x{self.height}@{self.rate:g}"


def clean_environment(extra: dict[str, str], domain_id: int) -> dict[str, str]:
    """This process's environment without any middleware setting, plus ``extra`` and the run's domain."""
    env = {key: value for key, value in os.environ.items() if key not in MIDDLEWARE_VARIABLES}
    env.update(extra)
    env.update({"ROS_DOMAIN_ID": str(domain_id), "PYTHONUNBUFFERED": "1", "RCUTILS_LOGGING_BUFFERED_STREAM": "0"})
    return env


def qos_profile(reliability: str, depth: int) -> Any:
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    policy = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}[reliability]
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=policy)


def camera_command(size: FrameSize, seconds: float, qos: str, out: str) -> list[str]:
    return [sys.executable, str(HARNESS), "camera", "--width", str(size.width), "--height", str(size.height),
            "--rate", str(size.rate), "--seconds", str(seconds), "--qos", qos, "--out", out]


def node_command(model: Path, node_qos: str, stub: bool, configure_middleware: bool = False, trace: str | None = None,
                 prototypes: Sequence[str] = (), parameters: Sequence[str] = ()) -> list[str]:
    flags = [*(["--stub"] if stub else []), *(["--configure-middleware"] if configure_middleware else []),
             *(["--trace", trace] if trace else []), *[f"--prototype={name}" for name in prototypes]]
    ros = ["--ros-args", "-p", f"model:={model}", "-p", f"qos_reliability:={node_qos}",
           *[item for parameter in parameters for item in ("-p", parameter)]]
    return [sys.executable, str(HARNESS), "node", *flags, "--", *ros]


# ----------------------------------------------------------------------------------------------- the camera role


def camera_main(arguments: argparse.Namespace) -> int:
    """Publish ``rate`` rgb8 frames a second for ``seconds`` once the node's subscription matched; write the times.

    Depth 10 for a reliable publisher (rclcpp's default QoS), 5 for best effort (SensorDataQoS), as drivers do.
    The output file holds ``{"matched": bool, "times": [[index, before publish(), after publish()], ...]}``.
    """
    import numpy as np
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node(f"camera_{os.getpid()}")
    depth = 10 if arguments.qos == "reliable" else 5
    publisher = node.create_publisher(Image, arguments.topic, qos_profile(arguments.qos, depth))
    width, height = arguments.width, arguments.height
    pixels = np.random.default_rng(0).integers(0, 256, size=height * width * 3, dtype=np.uint8)
    message = Image(height=height, width=width, encoding="rgb8", step=width * 3)
    message.header.frame_id = "camera"
    message.data = array("B", pixels.tobytes())
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    while publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    matched = publisher.get_subscription_count() >= 1
    times: list[tuple[int, float, float]] = []
    if matched:
        time.sleep(0.5)  # the node's reader matches this writer a moment after this side saw it
        start = time.monotonic()
        for index in range(round(arguments.seconds * arguments.rate)):
            delay = start + index / arguments.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            message.header.stamp.sec, message.header.stamp.nanosec = STAMP_SEC, index
            called = time.time()
            publisher.publish(message)
            times.append((index, called, time.time()))
        time.sleep(CAMERA_LINGER_S)
    Path(arguments.out).write_text(json.dumps({"matched": matched, "times": times}))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


# ------------------------------------------------------------------------------------------------- the node role


def node_main(arguments: argparse.Namespace, ros_arguments: Sequence[str]) -> int:
    """disk_node's own ``main``, after the patches the flags ask for."""
    if arguments.configure_middleware:
        from disk_trt_ros.middleware import configure_fastdds

        print(f"configure_fastdds: {configure_fastdds()}", flush=True)
    from disk_trt_ros.node import disk_node

    if arguments.stub:
        disk_node.create_backend = stub_backend_factory
    if arguments.trace:
        import node_tracing  # scripts/, this file's directory, is first on sys.path

        node_tracing.install(Path(arguments.trace), arguments.prototype)
    return disk_node.main(["disk_node", *ros_arguments])


def stub_backend_factory(kind: str, model_path: str, **_: Any) -> Any:
    """``create_backend`` for transport measurements: the model's K fixed keypoints, returned at once."""
    import numpy as np

    from disk_trt_ros.contract import DESCRIPTOR_DIM, read_onnx_model_info
    from disk_trt_ros.inference.base import Backend, Features

    info = read_onnx_model_info(str(model_path))
    count = info.max_keypoints
    rng = np.random.default_rng(0)
    descriptors = rng.standard_normal((count, DESCRIPTOR_DIM)).astype(np.float32)
    features = Features(
        keypoints=(rng.random((count, 2)) * [info.width - 1, info.height - 1]).astype(np.float32),
        scores=np.sort(rng.random(count).astype(np.float32))[::-1].copy(),
        descriptors=descriptors / np.linalg.norm(descriptors, axis=1, keepdims=True),
    )

    class StubBackend(Backend):
        name = "stub"

        def run(self, image: np.ndarray) -> Features:
            self.check_image(image)
            return features

    return StubBackend(info, precision="fp32")


# ------------------------------------------------------------------------------------------------------ the probe


class Probe:
    """Receives the node's Keypoints (arrival per frame index) and its latest /diagnostics values.

    Args:
        domain_id: the run's ROS domain.
        environment: Fast DDS variables for this participant (e.g. LARGE_DATA, whose peers must use it too); set in
            this process's environment while the participant is created.
        keypoints_qos: reliability of the Keypoints subscription (a VO front end may well use best effort).
    """

    def __init__(self, domain_id: int, environment: dict[str, str], keypoints_qos: str = "reliable") -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor

        from disk_trt_ros.msg import Keypoints

        saved = {key: os.environ.get(key) for key in MIDDLEWARE_VARIABLES}
        for key in MIDDLEWARE_VARIABLES:
            os.environ.pop(key, None)
        os.environ.update(environment)
        try:
            self.context = rclpy.Context()
            rclpy.init(context=self.context, domain_id=domain_id)
            self.node = rclpy.create_node(f"probe_{os.getpid()}", context=self.context)
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None)
                if value is not None:
                    os.environ[key] = value
        self.node.create_subscription(Keypoints, "keypoints", self._on_keypoints, qos_profile(keypoints_qos, 100))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics,
                                      qos_profile("reliable", 10))
        self.lock = threading.Lock()
        self.keypoints: dict[int, dict[str, float]] = {}
        self.diagnostics: dict[str, str] = {}
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # the context shut down between two waits
            pass

    def _on_keypoints(self, message: Any, info: dict[str, Any]) -> None:
        if message.header.stamp.sec == STAMP_SEC:
            self.keypoints[message.header.stamp.nanosec] = {
                "callback": time.time(), "source": info["source_timestamp"] * 1e-9,
                "received": info["received_timestamp"] * 1e-9}

    def _on_diagnostics(self, message: Any) -> None:
        for status in message.status:
            if "DISK keypoints" in status.name:
                with self.lock:
                    self.diagnostics = {value.key: value.value for value in status.values}

    def reset(self) -> None:
        with self.lock:
            self.keypoints, self.diagnostics = {}, {}

    def wait_for_node(self, node: subprocess.Popen[str], timeout: float) -> bool:
        """Until the node's keypoints publisher, image subscription and first diagnostics are seen here."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and node.poll() is None:
            if self.node.count_publishers("keypoints") and self.node.count_subscribers("image") and self.diagnostics:
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


# ------------------------------------------------------------------------------------------------------- helpers


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other engineers' tests share this machine's two cores)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile (nearest rank) of ``values``; None when empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else None


def machine_summary() -> dict[str, str]:
    """Date, machine, socket buffer limits and middleware versions, for the figures' record."""

    def sysctl(name: str) -> str:
        return Path("/proc/sys/" + name.replace(".", "/")).read_text().strip()

    versions = {}
    for package in ("ros-fastrtps", "ros-rmw-fastrtps-cpp", "ros-rclpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "sysctl": ", ".join(f"{name}={sysctl(name)}" for name in (
            "net.core.rmem_max", "net.core.rmem_default", "net.core.wmem_max", "net.core.wmem_default")),
        "versions": ", ".join(f"{package} {version}" for package, version in versions.items()),
    }


def ensure_model(path: Path, height: int = 128, width: int = 160, max_keypoints: int = 64) -> None:
    """Export a random-weight model to ``path`` unless it exists."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "disk_trt_ros", "export", "--weights", "random:0", "--height", str(height),
                    "--width", str(width), "--max-keypoints", str(max_keypoints), "--output", str(path)],
                   check=True, cwd=REPO_ROOT)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["camera"]:
        parser = argparse.ArgumentParser(prog="dds_harness.py camera")
        for name, kind in (("--width", int), ("--height", int), ("--rate", float), ("--seconds", float)):
            parser.add_argument(name, type=kind, required=True)
        parser.add_argument("--qos", choices=("reliable", "best_effort"), required=True)
        parser.add_argument("--topic", default="image")
        parser.add_argument("--out", required=True)
        return camera_main(parser.parse_args(argv[1:]))
    if argv[:1] == ["node"]:
        split = argv.index("--") if "--" in argv else len(argv)
        parser = argparse.ArgumentParser(prog="dds_harness.py node")
        parser.add_argument("--stub", action="store_true")
        parser.add_argument("--configure-middleware", action="store_true")
        parser.add_argument("--trace")
        parser.add_argument("--prototype", action="append", default=[])
        return node_main(parser.parse_args(argv[1:split]), argv[split + 1:])
    print("usage: dds_harness.py camera|node ... (started by scripts/dds_delivery.py and scripts/node_overhead.py)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
