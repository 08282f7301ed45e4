# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""launch/disk.launch.py: its decisions (disk_trt_ros.launch_plan) everywhere; the launch itself where the
``launch`` and ``launch_ros`` packages import (a ROS 2 installation; they are not on PyPI)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from disk_trt_ros import launch_plan
from disk_trt_ros.errors import NodeConfigurationError
from disk_trt_ros.launch_plan import (
    detector_placements,
    image_remappings,
    plan_launch,
    plan_matcher,
    read_node_parameters,
)
from support.paths import REPO_ROOT
from support.waiting import wait_until

CONFIG = REPO_ROOT / "config" / "disk.yaml"
LAUNCH_FILE = REPO_ROOT / "launch" / "disk.launch.py"


def write_parameters(path: Path, entries: dict[str, dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({key: {"ros__parameters": values} for key, values in entries.items()}))
    return path


# ------------------------------------------------------------------------------------ decisions, no launch needed


def test_cpu_backend_starts_the_node_directly_with_the_resolved_values(tmp_path: Path) -> None:
    config = write_parameters(tmp_path / "p.yaml", {"/**": {"model": "/models/a.onnx", "backend": "onnxruntime"}})
    plan = plan_launch(config)
    assert not plan.builds_engine
    assert plan.node_parameters() == {
        "model": "/models/a.onnx", "engine": "/models/a.fp16.engine", "backend": "onnxruntime", "precision": "fp16",
    }


def test_tensorrt_backend_builds_the_engine_first_with_the_precision(tmp_path: Path) -> None:
    config = write_parameters(tmp_path / "p.yaml", {"/**": {"model": "/models/a.onnx"}})
    plan = plan_launch(config, backend="tensorrt", precision="fp32", engine="/engines/a.plan")
    assert plan.builds_engine
    assert plan.build_engine_arguments() == [
        "--onnx", "/models/a.onnx", "--engine", "/engines/a.plan", "--if-needed", "--fp32",
    ]
    assert plan.node_parameters()["backend"] == "tensorrt"


def test_auto_follows_the_backend_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_parameters(tmp_path / "p.yaml", {"/**": {"model": "/models/a.onnx", "backend": "auto"}})
    requested: list[str] = []

    def resolve(name: str) -> tuple[str, str]:
        requested.append(name)
        return "tensorrt", "TensorRT imports and 1 GPU is visible"

    monkeypatch.setattr(launch_plan, "resolve_backend_name", resolve)
    plan = plan_launch(config)
    assert requested == ["auto"] and plan.builds_engine and plan.reason == "TensorRT imports and 1 GPU is visible"


def test_arguments_override_the_file_and_paths_are_expanded(tmp_path: Path) -> None:
    config = write_parameters(tmp_path / "p.yaml", {"/**": {"model": "/models/a.onnx", "precision": "fp32"}})
    plan = plan_launch(config, model="~/b.onnx", backend="torch", precision="fp16")
    assert plan.model == str(Path.home() / "b.onnx")
    assert (plan.backend, plan.precision, plan.engine) == ("torch", "fp16", str(Path.home() / "b.fp16.engine"))


def test_the_shipped_config_gives_a_model_in_the_users_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch_plan, "resolve_backend_name", lambda name: ("onnxruntime", "test"))
    plan = plan_launch(CONFIG)
    assert plan.model == str(Path.home() / ".cache" / "disk_trt_ros" / "disk_480x640.onnx")
    assert plan.precision == "fp16"


@pytest.mark.parametrize(
    ("entries", "arguments", "complaint"),
    [
        ({"/**": {"backend": "onnxruntime"}}, {}, "no model"),
        ({"/**": {"model": "m.onnx"}}, {"precision": "int8"}, "precision 'int8'"),
        ({"/**": {"model": "m.onnx"}}, {"backend": "tflite"}, "backend 'tflite'"),
    ],
)
def test_bad_values_are_refused_by_name(
    tmp_path: Path, entries: dict[str, Any], arguments: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        plan_launch(write_parameters(tmp_path / "p.yaml", entries), **arguments)


def test_an_unreadable_parameters_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="not a ROS 2 parameters file"):
        read_node_parameters(tmp_path / "list.yaml")
    with pytest.raises(ValueError, match="cannot read"):
        read_node_parameters(tmp_path / "missing.yaml")


def test_parameters_file_entries_apply_as_rcl_matches_them(tmp_path: Path) -> None:
    config = write_parameters(tmp_path / "p.yaml", {
        "/**": {"model": "all.onnx", "precision": "fp32"},
        "disk_node": {"engine": "plain.engine"},
        "/**/disk_node": {"backend": "torch"},
        "/robot/*": {"image_transport": "compressed"},
        "/robot/disk_node": {"model": "robot.onnx"},
        "/other_node": {"model": "other.onnx"},
    })
    assert read_node_parameters(config) == {
        "model": "all.onnx", "precision": "fp32", "engine": "plain.engine", "backend": "torch",
    }
    assert read_node_parameters(config, namespace="/robot") == {
        "model": "robot.onnx", "precision": "fp32", "backend": "torch", "image_transport": "compressed",
    }


def test_image_and_its_compressed_sibling_are_remapped() -> None:
    assert image_remappings("/cam/image_raw") == [
        ("image", "/cam/image_raw"), ("image/compressed", "/cam/image_raw/compressed"),
    ]


def test_without_a_matcher_one_detector_runs_and_no_matcher() -> None:
    assert plan_matcher("none", "temporal", "", "auto", "fp16") is None
    assert detector_placements("temporal", "robot", "/cam/image_raw", "/unused") == [
        ("robot", image_remappings("/cam/image_raw")),
    ]


def test_a_temporal_matcher_listens_to_the_one_detector(tmp_path: Path) -> None:
    matcher = plan_matcher("mnn", "temporal", "", "", "fp16")
    assert matcher is not None and matcher.node_parameters() == {
        "matcher": "mnn", "mode": "temporal", "model": "", "backend": "auto", "precision": "fp16",
    }
    lightglue = plan_matcher("lightglue", "temporal", "~/lightglue.onnx", "tensorrt", "fp32")
    assert lightglue is not None and lightglue.model == str(Path.home() / "lightglue.onnx")
    assert (lightglue.backend, lightglue.precision) == ("tensorrt", "fp32")


def test_stereo_runs_a_left_and_a_right_detector_where_the_matcher_finds_them() -> None:
    """The matcher in namespace N subscribes N/left/keypoints and N/right/keypoints: the detectors' own keypoints
    topics in N/left and N/right."""
    for namespace, left, right in (("", "left", "right"), ("/robot", "/robot/left", "/robot/right")):
        assert detector_placements("stereo", namespace, "/cam/left/image_raw", "/cam/right/image_raw") == [
            (left, image_remappings("/cam/left/image_raw")), (right, image_remappings("/cam/right/image_raw")),
        ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("sift", "temporal", "", "auto"), "matcher 'sift': choose one of none, mnn, lightglue"),
        (("mnn", "panorama", "", "auto"), "matcher_mode 'panorama': choose one of temporal, stereo"),
        (("lightglue", "stereo", "", "auto"), "matcher:=lightglue needs matcher_model:="),
    ],
)
def test_bad_matcher_arguments_are_refused_by_name(arguments: tuple[str, ...], message: str) -> None:
    with pytest.raises(NodeConfigurationError, match=message):
        plan_matcher(*arguments, "fp16")


def declared_settings(context: Any, values: dict[str, Any]) -> Any:
    """The node's checked settings (disk_node.declare_settings) for parameter ``values``."""
    import rclpy
    from rclpy.parameter import Parameter

    disk_node = pytest.importorskip("disk_trt_ros.node.disk_node")
    node = rclpy.create_node("disk_node", context=context,
                             parameter_overrides=[Parameter(name, value=value) for name, value in values.items()])
    try:
        return disk_node.declare_settings(node)
    finally:
        node.destroy_node()


@pytest.mark.ros
def test_the_shipped_config_sets_each_node_parameter_with_an_accepted_value(rclpy_context: Any) -> None:
    values = read_node_parameters(CONFIG)
    settings = dataclasses.asdict(declared_settings(rclpy_context, values))
    assert sorted(values) == sorted(settings)
    assert {name: value for name, value in settings.items() if name != "model"} == {
        name: value for name, value in values.items() if name != "model"
    }


@pytest.mark.ros
def test_the_node_expands_a_leading_tilde_in_model_and_engine(rclpy_context: Any) -> None:
    settings = declared_settings(rclpy_context, {"model": "~/m.onnx", "engine": "~/m.engine"})
    assert (settings.model, settings.engine) == (str(Path.home() / "m.onnx"), str(Path.home() / "m.engine"))


# --------------------------------------------------------------------------- the launch file, where launch imports

RUNNER = textwrap.dedent("""
    import sys
    from launch import LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    path, *arguments = sys.argv[1:]
    service = LaunchService(argv=arguments, noninteractive=True)
    service.include_launch_description(IncludeLaunchDescription(
        PythonLaunchDescriptionSource(path), launch_arguments=[argument.split(":=", 1) for argument in arguments]))
    sys.exit(service.run())
""")


@dataclasses.dataclass
class LaunchRun:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the launch did not end within {timeout} s of SIGINT:\n{self.output}") from None


@pytest.fixture
def start_launch(tmp_path: Path, rclpy_context: Any) -> Any:
    """Run the source tree's launch file in a process of its own (as `ros2 launch` would) on the test's domain."""
    # launch.actions, not launch: the repository's launch/ folder imports as an empty namespace package.
    pytest.importorskip("launch.actions", reason="the launch package is not installed (ROS 2 installations have it)")
    pytest.importorskip("launch_ros", reason="the launch_ros package is not installed (ROS 2 installations have it)")
    runs: list[LaunchRun] = []

    def start(arguments: dict[str, str], ament_prefix: Path | None = None) -> LaunchRun:
        environment = dict(os.environ, ROS_DOMAIN_ID=str(rclpy_context.get_domain_id()), PYTHONUNBUFFERED="1",
                           RCUTILS_LOGGING_BUFFERED_STREAM="0")
        if ament_prefix is not None:
            environment["AMENT_PREFIX_PATH"] = os.pathsep.join(
                part for part in (str(ament_prefix), environment.get("AMENT_PREFIX_PATH")) if part)
        log = tmp_path / f"launch{len(runs)}.log"
        command = [sys.executable, "-c", RUNNER, str(LAUNCH_FILE), f"config:={CONFIG}",
                   *(f"{name}:={value}" for name, value in arguments.items())]
        with log.open("wb") as stream:
            process = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, env=environment)
        runs.append(LaunchRun(process, log))
        return runs[-1]

    yield start
    for run in runs:
        run.stop()


FAKE_BUILDER = """#!/bin/sh
echo "fake build_engine $*"
[ "$FAKE_BUILD_EXIT" = 0 ] || echo "build-engine: error: fake failure $FAKE_BUILD_EXIT" >&2
exit "$FAKE_BUILD_EXIT"
"""
FAKE_NODE = """#!/bin/sh
echo "fake disk_node $*"
"""


def fake_package_prefix(directory: Path, build_exit: int) -> Path:
    """An ament prefix whose disk_trt_ros has a build_engine that exits ``build_exit`` and a disk_node that echoes."""
    (directory / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (directory / "share" / "ament_index" / "resource_index" / "packages" / "disk_trt_ros").touch()
    (directory / "lib" / "disk_trt_ros").mkdir(parents=True)
    for name, script in (("build_engine", FAKE_BUILDER.replace("$FAKE_BUILD_EXIT", str(build_exit))),
                         ("disk_node", FAKE_NODE)):
        path = directory / "lib" / "disk_trt_ros" / name
        path.write_text(script)
        path.chmod(0o755)
    return directory


def wait_for_exit(run: LaunchRun, timeout: float) -> int:
    try:
        return run.process.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the launch did not end within {timeout} s:\n{run.output}") from None


@pytest.mark.ros
def test_launch_with_tensorrt_builds_the_engine_then_starts_the_node(
    start_launch: Callable[..., LaunchRun], tmp_path: Path
) -> None:
    prefix = fake_package_prefix(tmp_path / "prefix", build_exit=0)
    run = start_launch({"model": "/models/a.onnx", "backend": "tensorrt", "precision": "fp32",
                        "image_topic": "/cam/image_raw", "namespace": "robot"}, ament_prefix=prefix)
    assert wait_for_exit(run, 60.0) == 0
    output = run.output
    built = output.find("fake build_engine --onnx /models/a.onnx --engine /models/a.fp32.engine --if-needed --fp32")
    started = output.find("fake disk_node --ros-args")
    assert 0 <= built < started, output
    node_line = output[started:].splitlines()[0]
    assert "-r __ns:=/robot" in node_line and "-r image:=/cam/image_raw" in node_line, node_line
    assert "-r image/compressed:=/cam/image_raw/compressed" in node_line and f"--params-file {CONFIG}" in node_line


@pytest.mark.ros
def test_launch_ends_with_the_builders_message_when_the_build_fails(
    start_launch: Callable[..., LaunchRun], tmp_path: Path
) -> None:
    prefix = fake_package_prefix(tmp_path / "prefix", build_exit=3)
    run = start_launch({"model": "/models/a.onnx", "backend": "tensorrt"}, ament_prefix=prefix)
    wait_for_exit(run, 60.0)
    output = run.output
    assert "build_engine failed with exit code 3, disk_node not started: build-engine: error: fake failure 3" in output
    assert "fake disk_node" not in output


@pytest.mark.ros
def test_launch_on_the_cpu_backend_runs_the_node_on_the_remapped_topic(
    start_launch: Callable[..., LaunchRun], rclpy_context: Any, export_model: Callable[..., Any]
) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from disk_trt_ros.msg import Keypoints

    namespace = f"t{uuid.uuid4().hex[:8]}"
    run = start_launch({"model": str(export_model().path), "backend": "onnxruntime",
                        "image_topic": f"/{namespace}/camera/image_raw", "namespace": namespace})
    probe = rclpy.create_node("launch_probe", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(probe)
    received: list[Any] = []
    probe.create_subscription(Keypoints, f"/{namespace}/keypoints", received.append, 10)
    publisher = probe.create_publisher(Image, f"/{namespace}/camera/image_raw", 10)
    image = Image(height=96, width=120, encoding="rgb8", step=360)
    image.header.frame_id = "camera"
    image.data = np.random.default_rng(0).integers(0, 256, 96 * 360, dtype=np.uint8).tobytes()
    last_sent = [0.0]

    def keypoints_arrived() -> bool:
        if run.process.poll() is not None:
            raise AssertionError(f"the launch ended early:\n{run.output}")
        if time.monotonic() - last_sent[0] > 0.5:  # the node may not have subscribed yet: keep offering frames
            publisher.publish(image)
            last_sent[0] = time.monotonic()
        return bool(received)

    try:
        wait_until(keypoints_arrived, 60.0, f"keypoints from the launched node:\n{run.output}",
                   poll=lambda: executor.spin_once(timeout_sec=0.05))
    finally:
        executor.shutdown()
        probe.destroy_node()
    assert (received[0].header.frame_id, received[0].image_width, received[0].image_height) == ("camera", 120, 96)
    assert run.stop() == 0
    assert "backend onnxruntime (requested)" in run.output
