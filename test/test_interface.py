"""The Keypoints interface as built by `make setup` (rosidl through CMake) and the package as CMake installs it."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from support.paths import REPO_ROOT
from support.waiting import wait_until

MSG_FILE = REPO_ROOT / "msg" / "Keypoints.msg"
# The message contract (issue 4): field names, in order, with rosidl's type names.
FIELDS = {
    "header": "std_msgs/Header",
    "image_width": "uint32",
    "image_height": "uint32",
    "count": "uint32",
    "keypoints": "sequence<float>",
    "scores": "sequence<float>",
    "descriptor_dim": "uint32",
    "descriptors": "sequence<float>",
}


def built_interface() -> Any:
    """disk_trt_ros.msg.Keypoints, or a skip saying how to build it."""
    pytest.importorskip("rclpy", reason="rclpy is not installed: run `make setup` and `source install/setup.sh`")
    try:
        return importlib.import_module("disk_trt_ros.msg").Keypoints
    except ImportError as error:
        pytest.skip(f"the Keypoints interface is not built or not on PYTHONPATH ({error}): "
                    "run `make setup` and `source install/setup.sh`")


def test_msg_file_declares_the_contract_fields_each_with_a_comment() -> None:
    lines = [line.strip() for line in MSG_FILE.read_text().splitlines()]
    declared = {}
    for number, line in enumerate(lines):
        if not line or line.startswith("#"):
            continue
        field_type, name = line.split()
        declared[name] = field_type
        assert lines[number - 1].startswith("#"), f"field '{name}' of {MSG_FILE.name} has no comment above it"
    assert declared == {
        "header": "std_msgs/Header", "image_width": "uint32", "image_height": "uint32", "count": "uint32",
        "keypoints": "float32[]", "scores": "float32[]", "descriptor_dim": "uint32", "descriptors": "float32[]",
    }
    assert list(declared) == list(FIELDS)


@pytest.mark.ros
def test_generated_message_has_exactly_the_contract_fields() -> None:
    keypoints_type = built_interface()
    assert keypoints_type.get_fields_and_field_types() == FIELDS
    assert list(keypoints_type.get_fields_and_field_types()) == list(FIELDS)
    message = keypoints_type()
    message.keypoints = np.array([1.0, 2.5], dtype=np.float32)
    assert message.keypoints.typecode == "f"  # float32[] is held as array('f'), no float64 round trip


@pytest.mark.ros
def test_package_is_installed_as_colcon_installs_it() -> None:
    built_interface()
    packages = pytest.importorskip("ament_index_python.packages")
    try:
        prefix = Path(packages.get_package_prefix("disk_trt_ros"))
    except packages.PackageNotFoundError:
        pytest.skip("disk_trt_ros is not on AMENT_PREFIX_PATH: run `make setup` and `source install/setup.sh`")
    share = prefix / "share" / "disk_trt_ros"
    assert (share / "msg" / "Keypoints.msg").read_text() == MSG_FILE.read_text(), "stale install: run `make setup`"
    for name in ("launch/disk.launch.py", "config/disk.yaml", "package.xml"):
        assert (share / name).read_bytes() == (REPO_ROOT / name).read_bytes(), f"{name}: stale install, run `make setup`"
    for executable in ("disk_node", "build_engine"):
        path = prefix / "lib" / "disk_trt_ros" / executable
        assert os.access(path, os.X_OK), f"`ros2 run disk_trt_ros {executable}` needs {path}"
    index = prefix / "share" / "ament_index" / "resource_index"
    assert "msg/Keypoints.msg" in (index / "rosidl_interfaces" / "disk_trt_ros").read_text().split()
    generated = [path for path in importlib.import_module("disk_trt_ros").__path__ if Path(path, "msg").is_dir()]
    assert generated, "disk_trt_ros.__path__ has no directory with the generated msg package"


def keypoints_message(keypoints_type: Any, count: int, descriptor_dim: int = 128) -> Any:
    rng = np.random.default_rng(7)
    descriptors = rng.standard_normal((count, descriptor_dim)).astype(np.float32)
    descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
    message = keypoints_type()
    message.header.stamp.sec = 1_700_000_123
    message.header.stamp.nanosec = 456_789
    message.header.frame_id = "camera_optical_frame"
    message.image_width, message.image_height = 640, 480
    message.count = count
    message.keypoints = rng.uniform(0, 479, 2 * count).astype(np.float32)
    message.scores = np.sort(rng.uniform(0, 1, count).astype(np.float32))[::-1].copy()
    message.descriptor_dim = descriptor_dim
    message.descriptors = descriptors.ravel()
    return message


@pytest.mark.ros
def test_a_2048_keypoint_message_round_trips_over_the_middleware(rclpy_context: Any) -> None:
    keypoints_type = built_interface()
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    topic = f"keypoints_{os.getpid()}"
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    sender = rclpy.create_node("interface_test_sender", context=rclpy_context)
    receiver = rclpy.create_node("interface_test_receiver", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(sender)
    executor.add_node(receiver)
    received: list[Any] = []
    try:
        receiver.create_subscription(keypoints_type, topic, received.append, qos)
        publisher = sender.create_publisher(keypoints_type, topic, qos)
        wait_until(lambda: publisher.get_subscription_count() > 0, 10.0, "the subscription to match",
                   poll=lambda: executor.spin_once(timeout_sec=0.05))
        sent = keypoints_message(keypoints_type, 2048)
        publisher.publish(sent)
        message = wait_until(lambda: received and received[0], 20.0, "the Keypoints message",
                             poll=lambda: executor.spin_once(timeout_sec=0.05))
    finally:
        executor.shutdown()
        sender.destroy_node()
        receiver.destroy_node()

    assert message.header.stamp.sec == 1_700_000_123 and message.header.stamp.nanosec == 456_789
    assert message.header.frame_id == "camera_optical_frame"
    assert (message.image_width, message.image_height, message.count, message.descriptor_dim) == (640, 480, 2048, 128)
    for field in ("keypoints", "scores", "descriptors"):
        assert np.array_equal(np.asarray(getattr(message, field)), np.asarray(getattr(sent, field))), field
