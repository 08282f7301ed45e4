# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Shutdown: SIGINT and SIGTERM end the node within 2 s, during inference and during an engine build, and leave no
partial files behind.

The node runs as ``python -m disk_trt_ros.node`` (ONNX Runtime), or, for the engine build, with TensorRT and CUDA
replaced by the doubles of ``support.trt_double`` (TensorRT is not installable here) and a build that takes a
minute. The ``build-engine`` command itself is covered by ``test_engine_cache.py``.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

import rclpy

from disk_trt_ros.contract import read_onnx_model_info
from support import trt_double
from support.paths import subprocess_environment
from support.reliability.camera import Camera
from support.reliability.frames import ScenarioFrames, source_picture
from support.reliability.node_process import NodeProcess
from support.reliability.results import SHUTDOWN_LIMIT_S
from support.ros import spinning
from support.waiting import wait_until

pytestmark = pytest.mark.ros

SIGNALS = [signal.SIGINT, signal.SIGTERM]
NODE_WITH_TENSORRT_DOUBLE = trt_double.command("node")  # the node, its TensorRT and CUDA the doubles
DOUBLE_ENVIRONMENT = {"PYTHONPATH": subprocess_environment()["PYTHONPATH"]}  # the double's process imports support


def files_in(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir()}


class Stream:
    """A photograph to one node at ``rate_hz`` from a thread, until stopped."""

    def __init__(self, camera: Camera, frames: ScenarioFrames, rate_hz: float) -> None:
        self._camera, self._frames, self._interval = camera, frames, 1.0 / rate_hz
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        index = 0
        while not self._stop.wait(self._interval):
            self._camera.send(index, *self._frames.frame(index))
            index += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def probe(rclpy_context: Any) -> Any:
    node = rclpy.create_node(f"shutdown_probe_{uuid.uuid4().hex[:6]}", context=rclpy_context)
    with spinning(node, rclpy_context, shutdown_timeout=1.0):
        yield node


def start_streaming_node(probe: Any, rclpy_context: Any, model: Path, *, command: list[str] | None = None,
                         environment: dict[str, str] | None = None,
                         parameters: dict[str, str] | None = None) -> tuple[NodeProcess, Camera, Stream]:
    """A node process, ready, receiving 100 frames a second and publishing keypoints."""
    info = read_onnx_model_info(str(model))
    node = NodeProcess(model, f"/s{uuid.uuid4().hex[:8]}", rclpy_context.get_domain_id(), parameters=parameters,
                       command=command, environment=environment)
    try:
        camera = Camera(probe, "camera", f"{node.namespace}/image", f"{node.namespace}/keypoints",
                        f"{node.namespace}/disk_node", info.max_keypoints)
        node.wait_for_line("ready:", timeout=120.0)
        assert wait_until(lambda: camera.publisher.get_subscription_count() > 0, 20.0), node.output
        stream = Stream(camera, ScenarioFrames(source_picture(info), bad_every=0), 100.0)
        assert wait_until(lambda: camera.node_counts().get("published", 0) >= 3, 30.0), node.output
    except BaseException:
        node.kill()
        raise
    return node, camera, stream


@pytest.mark.parametrize("number", SIGNALS, ids=lambda number: signal.Signals(number).name)
def test_a_signal_during_a_stream_ends_the_node_cleanly_within_2_s(
    probe: Any, rclpy_context: Any, export_model: Any, number: int
) -> None:
    model = export_model(height=64, width=96).path
    before = files_in(model.parent)
    node, _, stream = start_streaming_node(probe, rclpy_context, model)
    try:
        returncode, seconds = node.stop(number)  # the worker is busy: frames arrive faster than inference
    finally:
        stream.stop()
        node.kill()
    assert (returncode, seconds < SHUTDOWN_LIMIT_S) == (0, True), (seconds, node.output)
    assert "Traceback" not in node.output, node.output
    assert files_in(model.parent) == before


@pytest.mark.parametrize("again_after_s", [0.0, 0.05, 0.3], ids=lambda seconds: f"again after {seconds:g} s")
def test_a_second_sigint_during_the_clean_up_is_ignored(
    probe: Any, rclpy_context: Any, export_model: Any, again_after_s: float
) -> None:
    """Ctrl-C under ``ros2 launch`` reaches the node twice: from the terminal and passed on by launch."""
    model = export_model(height=64, width=96).path
    node, _, stream = start_streaming_node(probe, rclpy_context, model)
    try:
        returncode, seconds = node.stop(signal.SIGINT, again_after_s=again_after_s)
    finally:
        stream.stop()
        node.kill()
    assert (returncode, seconds < SHUTDOWN_LIMIT_S) == (0, True), (returncode, seconds, node.output)
    assert "Traceback" not in node.output and "KeyboardInterrupt" not in node.output, node.output


@pytest.mark.parametrize("number", SIGNALS, ids=lambda number: signal.Signals(number).name)
def test_a_signal_during_the_engine_build_at_start_ends_the_node_within_2_s_and_leaves_no_engine(
    rclpy_context: Any, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, number: int
) -> None:
    engine = tiny_model.parent / "model.engine"
    monkeypatch.setenv("TRT_DOUBLE_BUILD_SECONDS", "60")
    node = NodeProcess(tiny_model, f"/s{uuid.uuid4().hex[:8]}", rclpy_context.get_domain_id(),
                       parameters={"backend": "tensorrt", "precision": "fp32", "engine": str(engine)},
                       command=NODE_WITH_TENSORRT_DOUBLE, environment=DOUBLE_ENVIRONMENT)
    try:
        # The build lock exists from the start of the build to the end of the process.
        assert wait_until(lambda: Path(f"{engine}.lock").exists(), 60.0), node.output
        time.sleep(0.5)
        returncode, seconds = node.stop(number)
    finally:
        node.kill()
    assert returncode is not None and seconds < SHUTDOWN_LIMIT_S, (returncode, seconds, node.output)
    left = files_in(tiny_model.parent) - {"model.onnx"}
    assert left <= {"model.engine.lock"}, f"left behind: {left}"  # the lock file stays, unlocked and empty

    monkeypatch.setenv("TRT_DOUBLE_BUILD_SECONDS", "0")
    again = NodeProcess(tiny_model, f"/s{uuid.uuid4().hex[:8]}", rclpy_context.get_domain_id(),
                        parameters={"backend": "tensorrt", "precision": "fp32", "engine": str(engine)},
                        command=NODE_WITH_TENSORRT_DOUBLE, environment=DOUBLE_ENVIRONMENT)
    try:
        again.wait_for_line("ready:", timeout=120.0)  # the next start builds the engine: no crash loop
    finally:
        again.stop()
        again.kill()
    assert engine.is_file() and Path(f"{engine}.json").is_file()


@pytest.mark.parametrize("number", SIGNALS, ids=lambda number: signal.Signals(number).name)
def test_a_signal_after_the_node_built_its_engine_is_still_a_clean_shutdown(
    probe: Any, rclpy_context: Any, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, number: int
) -> None:
    """The build hands SIGINT and SIGTERM to their default action while TensorRT builds (so that they end the
    process at once); afterwards the node's own handlers must be back."""
    monkeypatch.setenv("TRT_DOUBLE_BUILD_SECONDS", "0")
    engine = tiny_model.parent / "model.engine"
    node, _, stream = start_streaming_node(
        probe, rclpy_context, tiny_model, command=NODE_WITH_TENSORRT_DOUBLE, environment=DOUBLE_ENVIRONMENT,
        parameters={"backend": "tensorrt", "precision": "fp32", "engine": str(engine)},
    )
    try:
        returncode, seconds = node.stop(number)
    finally:
        stream.stop()
        node.kill()
    assert (returncode, seconds < SHUTDOWN_LIMIT_S) == (0, True), (returncode, seconds, node.output)
    assert "Traceback" not in node.output, node.output
