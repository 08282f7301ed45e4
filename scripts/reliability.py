#!/usr/bin/env python3
"""Reliability scenarios for disk_node, at full length: a flood faster than inference, two cameras, a soak.

Usage (after `make setup`):
    source install/setup.sh
    python scripts/reliability.py [--model M.onnx] [--scenarios flood,cameras,soak] [--flood-seconds 60]
        [--flood-rate 200] [--cameras-seconds 30] [--cameras-rate 100] [--soak-frames 10000] [--soak-rate 100]
        [--out out/reliability.json]

Each scenario starts ``python -m disk_trt_ros.node`` (ONNX Runtime, one thread) as its own process, publishes
``sensor_msgs/Image`` frames to it over real DDS from this process and records:
    - every frame's fate: sent here; received, published, dropped, rejected (bad message) and failed (inference
      error) by the node, from its ``/diagnostics``; keypoints messages received here, each checked (coordinates
      inside the source image, finite values, count <= K, unit descriptors, a stamp that was sent, once). Frames
      sent but never received are lost before the node's callback: the subscription's DDS queue (KEEP_LAST, depth
      5) overwrites its oldest message when the node's executor thread gets no CPU for depth / rate seconds, and
      neither DDS nor rclpy reports that to the node, so only this side can count them;
    - end-to-end latency, from publication here to the receipt of the frame's keypoints here;
    - the node process's resident memory, open file descriptors and threads, read from ``/proc`` twice a second;
    - the node's shutdown on SIGINT at the end: exit status and seconds.
:meth:`ScenarioResult.failures` states the properties issue 6 asks for; the CI tests (``test/test_node_load.py``,
``test/test_soak.py``) run the same scenarios shortened and assert the same properties, never absolute times.
Without ``--model`` a random-weight 64x96, K=64 model is exported to a temporary directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from disk_trt_ros.atomic import atomic_write_bytes
from disk_trt_ros.contract import ModelInfo, read_onnx_model_info
from disk_trt_ros.msg import Keypoints

REPO_ROOT = Path(__file__).resolve().parents[1]
STAMP_SEC = 1_700_000_000  # frame i is stamped STAMP_SEC + i ns, so a keypoints message names its frame
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
SAMPLE_INTERVAL_S = 0.5
WARM_UP_FRACTION = 0.2  # resources are compared from the moment this share of the frames was sent
SETTLE_TIMEOUT_S = 20.0

# The properties (see ScenarioResult.failures).
MAX_RSS_GROWTH = 0.05
LATENCY_BOUND_INFERENCES = 4  # newest frame wins: a frame waits for at most the inference in hand, then its own
LATENCY_SLACK_S = 0.5  # transport and scheduling on a shared machine
MAX_LATENCY_GROWTH = 2.0  # median over the last fifth of the frames against the first fifth
SHUTDOWN_LIMIT_S = 2.0

# Messages the node must reject, one of each kind in turn (issue 4's bad-message kinds).
BAD_FRAMES: dict[str, Callable[[], Image]] = {
    "data shorter than step x height": lambda: Image(height=48, width=64, encoding="rgb8", step=192, data=bytes(900)),
    "unknown encoding": lambda: Image(height=4, width=4, encoding="yuv_unheard_of", step=8, data=bytes(32)),
    "zero size": lambda: Image(height=0, width=0, encoding="rgb8", step=0, data=b""),
    "step below width x bytes per pixel": lambda: Image(height=8, width=8, encoding="mono16", step=8, data=bytes(64)),
}


def stamp_of(index: int) -> Time:
    return Time(sec=STAMP_SEC, nanosec=index)


def index_of(stamp: Time) -> int | None:
    return stamp.nanosec if stamp.sec == STAMP_SEC else None


def keypoints_problems(message: Keypoints, width: int, height: int, max_keypoints: int) -> list[str]:
    """What is wrong with a Keypoints message for a ``width`` x ``height`` source image (empty when nothing).

    Coordinates must lie in the image's area, ``[-0.5, width - 0.5] x [-0.5, height - 0.5]`` ((0, 0) is the centre
    of the top-left pixel); every value finite; scores descending; descriptor rows of unit length.
    """
    count, dim = message.count, message.descriptor_dim
    if (message.image_width, message.image_height) != (width, height):
        return [f"image size {message.image_width}x{message.image_height}, sent {width}x{height}"]
    if count > max_keypoints or len(message.keypoints) != 2 * count or len(message.scores) != count:
        return [f"count {count} (K={max_keypoints}) with {len(message.keypoints)} coordinates, "
                f"{len(message.scores)} scores"]
    if dim != 128 or len(message.descriptors) != count * dim:
        return [f"{len(message.descriptors)} descriptor values for {count} keypoints of dimension {dim}"]
    keypoints = np.asarray(message.keypoints, dtype=np.float32).reshape(count, 2)
    scores = np.asarray(message.scores, dtype=np.float32)
    descriptors = np.asarray(message.descriptors, dtype=np.float32).reshape(count, dim)
    problems = []
    for name, values in (("keypoints", keypoints), ("scores", scores), ("descriptors", descriptors)):
        if not np.all(np.isfinite(values)):
            problems.append(f"non-finite {name}")
    if np.any(keypoints < -0.5) or np.any(keypoints > np.array([width - 0.5, height - 0.5], np.float32)):
        problems.append(f"keypoints outside the {width}x{height} image: {keypoints[:3].tolist()}...")
    if np.any(np.diff(scores) > 0):
        problems.append("scores not descending")
    if count and not np.allclose(np.linalg.norm(descriptors, axis=1), 1.0, atol=1e-3):
        problems.append("descriptor rows not of unit length")
    return problems


# ---------------------------------------------------------------------------------------------- the node process


@dataclasses.dataclass(frozen=True)
class ResourceSample:
    """The node process at one moment: resident memory (KiB), open file descriptors, threads."""

    at_s: float
    frames_sent: int
    rss_kib: int
    fds: int
    threads: int


class NodeProcess:
    """``python -m disk_trt_ros.node --ros-args ...`` as a child process, its output collected line by line.

    Args:
        model: exported ONNX model.
        namespace: the node's namespace (``__ns``).
        domain_id: ROS_DOMAIN_ID of the child.
        parameters: more ``-p name:=value`` (backend onnxruntime, one thread and a reliable image subscription
            unless overridden).
        remaps: ``-r from:=to`` topic remappings.
        command: the interpreter command line before ``--ros-args`` (default: this Python, ``-m disk_trt_ros.node``).
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        namespace: str,
        domain_id: int,
        parameters: dict[str, str] | None = None,
        remaps: dict[str, str] | None = None,
        command: Sequence[str] | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.namespace = namespace
        settings = {"model": str(model), "backend": "onnxruntime", "threads": "1", "qos_reliability": "reliable",
                    **(parameters or {})}
        arguments = ["--ros-args", "-r", f"__ns:={namespace}"]
        for source, target in (remaps or {}).items():
            arguments += ["-r", f"{source}:={target}"]
        for name, value in settings.items():
            arguments += ["-p", f"{name}:={value}"]
        env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "PYTHONUNBUFFERED": "1",
               "RCUTILS_LOGGING_BUFFERED_STREAM": "0", **(environment or {})}
        self.process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "disk_trt_ros.node"]), *arguments], cwd=REPO_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, needle: str, timeout: float) -> None:
        """Wait until a line of output contains ``needle``; AssertionError if the node ends or time runs out."""
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.2)  # let the reader catch the last lines
                raise AssertionError(f"node {self.namespace} printed no {needle!r} (exit {self.process.poll()}):\n"
                                     f"{self.output}")
            time.sleep(0.05)

    def sample(self, frames_sent: int) -> ResourceSample:
        """Resident memory, file descriptors and threads of the node process now, from /proc."""
        proc = Path(f"/proc/{self.process.pid}")
        status = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line)
        return ResourceSample(
            at_s=time.monotonic(),
            frames_sent=frames_sent,
            rss_kib=int(status["VmRSS"].split()[0]),
            fds=len(os.listdir(proc / "fd")),
            threads=len(os.listdir(proc / "task")),
        )

    def stop(self, number: int = signal.SIGINT, timeout: float = 10.0) -> tuple[int | None, float]:
        """Send ``number``; returns the exit status (None if it had to be killed after ``timeout``) and the seconds
        it took to end."""
        sent = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(number)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None, time.monotonic() - sent
        self._reader.join(timeout=2.0)
        return self.process.returncode, time.monotonic() - sent

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------------------------------------- this process's side


class Camera:
    """This process's side of one node: publishes frames, receives and checks keypoints, follows diagnostics.

    Args:
        probe: the rclpy node that owns the publisher and subscriptions.
        name: the camera's ``frame_id``.
        image_topic, keypoints_topic: the node's topics (absolute names).
        node_name: the node's fully qualified name (its diagnostics status starts with it).
        max_keypoints: the model's K.
        message_type: ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage``.
    """

    def __init__(self, probe: Node, name: str, image_topic: str, keypoints_topic: str, node_name: str,
                 max_keypoints: int, message_type: type = Image) -> None:
        self.name = name
        self.node_name = node_name
        self.max_keypoints = max_keypoints
        self._lock = threading.Lock()
        self.sent_at: dict[int, float] = {}
        self.source_sizes: dict[int, tuple[int, int] | None] = {}
        self.bad_sent = 0
        self.received_at: dict[int, float] = {}
        self.duplicates = 0
        self.foreign = 0
        self.invalid: list[str] = []
        self.diagnostics: dict[str, str] = {}
        self._received_changed_at = time.monotonic()
        self.publisher = probe.create_publisher(message_type, image_topic, RELIABLE)
        self.keypoints_subscription = probe.create_subscription(Keypoints, keypoints_topic, self._on_keypoints, RELIABLE)
        probe.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, RELIABLE)

    def send(self, index: int, message: Any, source_size: tuple[int, int] | None) -> None:
        """Publish ``message`` as frame ``index`` (stamp and frame_id are set here).

        ``source_size``: the (width, height) the node must report for it, or None for a message the node must
        reject (keypoints for it count as invalid).
        """
        message.header.stamp = stamp_of(index)
        message.header.frame_id = self.name
        with self._lock:
            self.sent_at[index] = time.monotonic()
            self.source_sizes[index] = source_size
            self.bad_sent += source_size is None
        self.publisher.publish(message)

    def _on_keypoints(self, message: Keypoints) -> None:
        arrived = time.monotonic()
        index = index_of(message.header.stamp)
        with self._lock:
            if index is None or index not in self.sent_at or message.header.frame_id != self.name:
                self.foreign += 1
                return
            if index in self.received_at:
                self.duplicates += 1
                return
            self.received_at[index] = arrived
            size = self.source_sizes[index]
        if size is None:
            problems = ["keypoints published for a message that must be rejected"]
        else:
            problems = keypoints_problems(message, *size, self.max_keypoints)
        with self._lock:
            self.invalid += [f"frame {index}: {problem}" for problem in problems]

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            if status.name.startswith(f"{self.node_name}:"):
                values = {value.key: value.value for value in status.values}
                with self._lock:
                    if values.get("received") != self.diagnostics.get("received"):
                        self._received_changed_at = time.monotonic()
                    self.diagnostics = values

    def node_counts(self) -> dict[str, int]:
        """The node's counters from its latest diagnostics (empty before the first)."""
        with self._lock:
            values = dict(self.diagnostics)
        keys = {"received": "received", "published": "published", "dropped": "dropped", "rejected": "rejected",
                "failed": "inference_errors", "lost": "lost_before_node"}
        return {name: int(values[key]) for name, key in keys.items()} if values else {}

    def settled(self) -> bool:
        """The node has accounted for every frame it received, this side has every keypoints message it published,
        and the node received every frame sent, or nothing more for two diagnostics periods."""
        counts = self.node_counts()
        if not counts:
            return False
        done = counts["published"] + counts["dropped"] + counts["rejected"] + counts["failed"]
        with self._lock:
            quiet = time.monotonic() - self._received_changed_at > 2.5
            return (counts["received"] == done and len(self.received_at) == counts["published"]
                    and (counts["received"] == len(self.sent_at) or quiet))


def wait_until(condition: Callable[[], Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# ---------------------------------------------------------------------------------------------- results


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
    def of(cls, camera: Camera) -> "CameraResult":
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
                failures.append(f"{c}: the node counts {node['lost']} frames lost, {camera.sent - node['received']} were")
            accounted = node["published"] + node["dropped"] + node["rejected"] + node["failed"]
            if accounted != node["received"]:
                failures.append(f"{c}: the node received {node['received']} frames but accounts for {accounted}")
            if node["failed"]:
                failures.append(f"{c}: inference failed on {node['failed']} frames")
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


# ---------------------------------------------------------------------------------------------- the scenarios


def standalone_inference_ms(model: str | os.PathLike[str], runs: int = 10) -> float:
    """Median time of one inference with the node's backend settings (ONNX Runtime, one thread), in this process."""
    from disk_trt_ros.inference.registry import create_backend

    backend = create_backend("onnxruntime", model, threads=1)
    image = np.zeros(backend.info.input_shape[1:], np.uint8)
    image[...] = np.random.default_rng(0).integers(0, 256, image.shape, dtype=np.uint8)
    backend.run(image)
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        backend.run(image)
        times.append(time.perf_counter() - begin)
    backend.close()
    return float(np.median(times)) * 1e3


def source_picture(info: ModelInfo) -> np.ndarray:
    """A real photograph (scikit-image's astronaut) at twice the model's size, RGB: the node resizes every frame."""
    from skimage import data as skimage_data

    return cv2.resize(skimage_data.astronaut(), (2 * info.width, 2 * info.height), interpolation=cv2.INTER_AREA)


class ScenarioFrames:
    """The frames of a scenario: one photograph as rgb8, and every ``bad_every``-th frame a bad message, each kind of
    :data:`BAD_FRAMES` in turn. Messages are made once and re-stamped for each frame."""

    def __init__(self, picture: np.ndarray, bad_every: int) -> None:
        height, width = picture.shape[:2]
        self._good = Image(height=height, width=width, encoding="rgb8", step=3 * width, data=picture.tobytes())
        self._size = (width, height)
        self._bad = [make() for make in BAD_FRAMES.values()]
        self._bad_every = bad_every

    def frame(self, index: int) -> tuple[Image, tuple[int, int] | None]:
        """Frame ``index`` and the source size its keypoints must report (None: it must be rejected)."""
        if self._bad_every and index % self._bad_every == self._bad_every - 1:
            return self._bad[(index // self._bad_every) % len(self._bad)], None
        return self._good, self._size


def run_scenario(
    name: str,
    model: str | os.PathLike[str],
    context: Any,
    *,
    cameras: Sequence[str] = ("camera",),
    rate_hz: float,
    frames: int,
    bad_every: int = 0,
    every_frame_reaches_the_node: bool = True,
    log: Callable[[str], None] = print,
) -> ScenarioResult:
    """Start one node per camera (namespace ``/<scenario>_<camera>_<random>``, topics remapped to ``camera/image_raw`` and
    ``camera/keypoints``), send ``frames`` frames to each at ``rate_hz`` (every ``bad_every``-th one a bad message),
    wait until the nodes have accounted for them, stop the nodes with SIGINT and return the figures.

    ``every_frame_reaches_the_node``: count a frame lost before the node's callback as a failure (at rates the
    executor thread keeps up with); otherwise such losses are only reported.
    """
    info = read_onnx_model_info(str(model))
    inference_ms = standalone_inference_ms(model)
    picture = source_picture(info)
    domain_id = context.get_domain_id()
    probe = rclpy.create_node(f"reliability_{name}", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(probe)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    nodes: dict[str, NodeProcess] = {}
    try:
        for camera in cameras:
            namespace = f"/{name}_{camera}_{uuid.uuid4().hex[:6]}"  # apart from any other run in this domain
            nodes[camera] = NodeProcess(model, namespace, domain_id,
                                        remaps={"image": "camera/image_raw", "keypoints": "camera/keypoints"})
        sides = [
            Camera(probe, camera, f"{node.namespace}/camera/image_raw", f"{node.namespace}/camera/keypoints",
                   f"{node.namespace}/disk_node", info.max_keypoints)
            for camera, node in nodes.items()
        ]
        source = [ScenarioFrames(picture, bad_every) for _ in sides]  # one set of messages per publishing camera
        for side, node in zip(sides, nodes.values()):
            node.wait_for_line("ready:", timeout=120.0)
            if not wait_until(lambda: side.publisher.get_subscription_count() > 0, 20.0):
                raise AssertionError(f"{node.namespace} never subscribed to its image topic:\n{node.output}")
            # Keypoints published before discovery matches this side's subscription would be lost (volatile QoS).
            if not wait_until(lambda: side.keypoints_subscription.get_publisher_count() > 0, 20.0):
                raise AssertionError(f"{node.namespace}'s keypoints never reached this side:\n{node.output}")
        log(f"{name}: {len(sides)} node(s) ready; {frames} frames per camera at {rate_hz:g} Hz "
            f"(inference alone {inference_ms:.1f} ms)")

        samples: dict[str, list[ResourceSample]] = {camera: [] for camera in nodes}
        sent = [0]
        sampling = threading.Event()

        def sample_resources() -> None:
            while not sampling.wait(SAMPLE_INTERVAL_S):
                for camera, node in nodes.items():
                    samples[camera].append(node.sample(sent[0]))

        sampler = threading.Thread(target=sample_resources, daemon=True)
        sampler.start()
        started = time.monotonic()
        for index in range(frames):
            delay = started + index / rate_hz - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for side, frames_of_side in zip(sides, source):
                side.send(index, *frames_of_side.frame(index))
            sent[0] = index + 1
            if index and index % max(1, frames // 10) == 0:
                log(f"{name}: sent {index} frames per camera in {time.monotonic() - started:.0f} s")
        streamed_s = time.monotonic() - started
        wait_until(lambda: all(side.settled() for side in sides), SETTLE_TIMEOUT_S)
        time.sleep(2 * SAMPLE_INTERVAL_S)  # an idle sample after the last frame
        sampling.set()
        sampler.join()

        results = [CameraResult.of(side) for side in sides]
        resources = {camera: resource_figures(samples[camera], frames) for camera in nodes}
        shutdown = {}
        for camera, node in nodes.items():
            returncode, seconds = node.stop(signal.SIGINT)
            shutdown[camera] = {"returncode": returncode, "seconds": seconds}
            if returncode != 0:
                log(f"{name}: {node.namespace} output:\n{node.output}")
        return ScenarioResult(name=name, rate_hz=rate_hz, frames_per_camera=frames, seconds=streamed_s,
                              inference_ms=inference_ms, every_frame_reaches_the_node=every_frame_reaches_the_node,
                              cameras=results, resources=resources, shutdown=shutdown)
    finally:
        for node in nodes.values():
            node.kill()
        executor.shutdown(timeout_sec=1.0)
        probe.destroy_node()


def resource_figures(samples: list[ResourceSample], frames: int) -> dict[str, Any]:
    """The sample at warm-up (the first once WARM_UP_FRACTION of the frames were sent), the last one, the peak."""
    warm_up_frames = int(WARM_UP_FRACTION * frames)
    warm = next((s for s in samples if s.frames_sent >= warm_up_frames), samples[0])
    end = samples[-1]
    return {
        "warm_up_frames": warm_up_frames,
        "warm": dataclasses.asdict(warm),
        "end": dataclasses.asdict(end),
        "peak_rss_kib": max(s.rss_kib for s in samples),
        "rss_growth": end.rss_kib / warm.rss_kib - 1,
        "samples": len(samples),
    }


# ---------------------------------------------------------------------------------------------- the script


def export_default_model(directory: Path) -> Path:
    from disk_trt_ros import __version__
    from disk_trt_ros.contract import InputFormat, TrtCompat
    from disk_trt_ros.export.onnx_export import export_onnx
    from disk_trt_ros.export.weights import random_disk

    disk, sha256 = random_disk(0)
    info = ModelInfo(height=64, width=96, max_keypoints=64, input_format=InputFormat.RGB, input_dtype="float32",
                     nms_window=5, score_threshold=0.0, trt_compat=TrtCompat.TRT_8_2, weights="random:0",
                     weights_sha256=sha256, package_version=__version__)
    path = directory / "disk_64x96_random.onnx"
    export_onnx(disk, info, path)
    return path


def machine() -> dict[str, Any]:
    import onnxruntime

    return {
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "load_average_at_start": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="exported ONNX model (default: a random-weight 64x96, K=64 one)")
    parser.add_argument("--scenarios", default="flood,cameras,soak", help="comma-separated: flood, cameras, soak")
    parser.add_argument("--flood-seconds", type=float, default=60.0)
    parser.add_argument("--flood-rate", type=float, default=200.0)
    parser.add_argument("--cameras-seconds", type=float, default=30.0)
    parser.add_argument("--cameras-rate", type=float, default=100.0)
    parser.add_argument("--soak-frames", type=int, default=10_000)
    parser.add_argument("--soak-rate", type=float, default=100.0)
    parser.add_argument("--bad-every", type=int, default=50, help="every N-th frame is a bad message (0: none)")
    parser.add_argument("--domain-id", type=int, default=1 + os.getpid() % 100)
    parser.add_argument("--out", type=Path, default=Path("out/reliability.json"))
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    unknown = set(scenarios) - {"flood", "cameras", "soak"}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=args.domain_id)
    started = datetime.datetime.now(datetime.timezone.utc)
    report: dict[str, Any] = {"started": started.isoformat(timespec="seconds"), "machine": machine(),
                              "command": " ".join([sys.executable, *sys.argv]), "scenarios": []}
    results = []
    try:
        with tempfile.TemporaryDirectory() as directory:
            model = args.model or export_default_model(Path(directory))
            info = read_onnx_model_info(str(model))
            report["model"] = {"path": str(model), "size": f"{info.width}x{info.height}",
                               "max_keypoints": info.max_keypoints, "weights": info.weights}
            plans = {
                "flood": dict(rate_hz=args.flood_rate, frames=int(args.flood_seconds * args.flood_rate),
                              every_frame_reaches_the_node=False),
                "cameras": dict(cameras=("left", "right"), rate_hz=args.cameras_rate,
                                frames=int(args.cameras_seconds * args.cameras_rate)),
                "soak": dict(rate_hz=args.soak_rate, frames=args.soak_frames),
            }
            for name in scenarios:
                result = run_scenario(name, model, context, bad_every=args.bad_every, **plans[name])
                results.append(result)
                report["scenarios"].append({**dataclasses.asdict(result), "latency_bound_s": result.latency_bound_s,
                                            "failures": result.failures()})
                print(result.table(), flush=True)
    finally:
        context.try_shutdown()
    report["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    atomic_write_bytes(args.out, (json.dumps(report, indent=2) + "\n").encode())
    print(f"\nmachine: {report['machine']}\nmodel: {report['model']}\n")
    print(TABLE_HEADER)
    for result in results:
        print("\n".join(result.rows()))
    failures = [f"{result.name}: {failure}" for result in results for failure in result.failures()]
    print("\n".join(failures) if failures else "\nall properties hold")
    print(f"figures: {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
