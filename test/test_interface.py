# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The Keypoints and Matches interfaces as built by `make setup` (rosidl through CMake), used from Python and from a
C++ package downstream, and the package as CMake installs it."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from support.paths import REPO_ROOT
from support.waiting import wait_until

MSG_DIR = REPO_ROOT / "msg"
# The message contracts (issues 4 and 14): field names, in order, with rosidl's type names.
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
MATCHES_FIELDS = {
    "header": "std_msgs/Header",
    "stamp0": "builtin_interfaces/Time",
    "frame_id0": "string",
    "stamp1": "builtin_interfaces/Time",
    "frame_id1": "string",
    "method": "string",
    "count": "uint32",
    "indices0": "sequence<uint32>",
    "indices1": "sequence<uint32>",
    "scores": "sequence<float>",
}
CONTRACTS = {"Keypoints": FIELDS, "Matches": MATCHES_FIELDS}
# rosidl's type names as the .msg files spell them.
MSG_FILE_TYPES = {"sequence<float>": "float32[]", "sequence<uint32>": "uint32[]"}


def built_interface(name: str = "Keypoints") -> Any:
    """disk_trt_ros.msg.<name>, or a skip saying how to build it."""
    pytest.importorskip("rclpy", reason="rclpy is not installed: run `make setup` and `source install/setup.sh`")
    try:
        return getattr(importlib.import_module("disk_trt_ros.msg"), name)
    except (ImportError, AttributeError) as error:
        pytest.skip(f"the {name} interface is not built or not on PYTHONPATH ({error}): "
                    "run `make setup` and `source install/setup.sh`")


@pytest.mark.parametrize("name", CONTRACTS)
def test_msg_file_declares_the_contract_fields_each_with_a_comment(name: str) -> None:
    lines = [line.strip() for line in (MSG_DIR / f"{name}.msg").read_text().splitlines()]
    declared = {}
    for number, line in enumerate(lines):
        if not line or line.startswith("#"):
            continue
        field_type, field = line.split()
        declared[field] = field_type
        assert lines[number - 1].startswith("#"), f"field '{field}' of {name}.msg has no comment above it"
    assert declared == {field: MSG_FILE_TYPES.get(kind, kind) for field, kind in CONTRACTS[name].items()}
    assert list(declared) == list(CONTRACTS[name])


@pytest.mark.ros
@pytest.mark.parametrize("name", CONTRACTS)
def test_generated_message_has_exactly_the_contract_fields(name: str) -> None:
    message_type = built_interface(name)
    assert message_type.get_fields_and_field_types() == CONTRACTS[name]
    assert list(message_type.get_fields_and_field_types()) == list(CONTRACTS[name])
    message = message_type()
    message.scores = np.array([1.0, 2.5], dtype=np.float32)
    assert message.scores.typecode == "f"  # float32[] is held as array('f'), no float64 round trip


@pytest.mark.ros
def test_package_is_installed_as_colcon_installs_it() -> None:
    built_interface()
    packages = pytest.importorskip("ament_index_python.packages")
    try:
        prefix = Path(packages.get_package_prefix("disk_trt_ros"))
    except packages.PackageNotFoundError:
        pytest.skip("disk_trt_ros is not on AMENT_PREFIX_PATH: run `make setup` and `source install/setup.sh`")
    share = prefix / "share" / "disk_trt_ros"
    for name in CONTRACTS:
        installed = (share / "msg" / f"{name}.msg").read_text()
        assert installed == (MSG_DIR / f"{name}.msg").read_text(), "stale install: run `make setup`"
    for name in ("launch/disk.launch.py", "config/disk.yaml", "package.xml"):
        installed, source = (share / name).read_bytes(), (REPO_ROOT / name).read_bytes()
        assert installed == source, f"{name}: stale install, run `make setup`"
    for executable in ("disk_node", "matcher_node", "build_engine"):
        path = prefix / "lib" / "disk_trt_ros" / executable
        assert os.access(path, os.X_OK), f"`ros2 run disk_trt_ros {executable}` needs {path}"
    index = prefix / "share" / "ament_index" / "resource_index"
    interfaces = (index / "rosidl_interfaces" / "disk_trt_ros").read_text().split()
    assert {"msg/Keypoints.msg", "msg/Matches.msg"} <= set(interfaces)
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


def matches_message(matches_type: Any, count: int) -> Any:
    rng = np.random.default_rng(8)
    message = matches_type()
    message.header.stamp.sec, message.header.frame_id = 1_700_000_124, "camera_optical_frame"
    message.stamp0.sec, message.stamp0.nanosec, message.frame_id0 = 1_700_000_123, 456_789, "left"
    message.stamp1.sec, message.stamp1.nanosec, message.frame_id1 = 1_700_000_124, 7, "right"
    message.method = "lightglue"
    message.count = count
    message.indices0 = np.sort(rng.choice(2048, count, replace=False)).astype(np.uint32)
    message.indices1 = rng.permutation(2048)[:count].astype(np.uint32)
    message.scores = rng.uniform(0, 1, count).astype(np.float32)
    return message


def round_trip(context: Any, message_type: Any, sent: Any) -> Any:
    """``sent`` published by one node and received by another, over the middleware, reliably."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    topic = f"interface_{os.getpid()}"
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    sender = rclpy.create_node("interface_test_sender", context=context)
    receiver = rclpy.create_node("interface_test_receiver", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(sender)
    executor.add_node(receiver)
    received: list[Any] = []
    try:
        receiver.create_subscription(message_type, topic, received.append, qos)
        publisher = sender.create_publisher(message_type, topic, qos)
        wait_until(lambda: publisher.get_subscription_count() > 0, 10.0, "the subscription to match",
                   poll=lambda: executor.spin_once(timeout_sec=0.05))
        publisher.publish(sent)
        return wait_until(lambda: received and received[0], 20.0, f"the {message_type.__name__} message",
                          poll=lambda: executor.spin_once(timeout_sec=0.05))
    finally:
        executor.shutdown()
        sender.destroy_node()
        receiver.destroy_node()


@pytest.mark.ros
def test_a_2048_keypoint_message_round_trips_over_the_middleware(rclpy_context: Any) -> None:
    keypoints_type = built_interface()
    sent = keypoints_message(keypoints_type, 2048)
    message = round_trip(rclpy_context, keypoints_type, sent)
    assert message.header.stamp.sec == 1_700_000_123 and message.header.stamp.nanosec == 456_789
    assert message.header.frame_id == "camera_optical_frame"
    assert (message.image_width, message.image_height, message.count, message.descriptor_dim) == (640, 480, 2048, 128)
    for field in ("keypoints", "scores", "descriptors"):
        assert np.array_equal(np.asarray(getattr(message, field)), np.asarray(getattr(sent, field))), field


@pytest.mark.ros
def test_a_matches_message_round_trips_over_the_middleware(rclpy_context: Any) -> None:
    matches_type = built_interface("Matches")
    sent = matches_message(matches_type, 1500)
    message = round_trip(rclpy_context, matches_type, sent)
    assert (message.header, message.stamp0, message.stamp1) == (sent.header, sent.stamp0, sent.stamp1)
    assert (message.frame_id0, message.frame_id1, message.method, message.count) == ("left", "right", "lightglue", 1500)
    assert message.indices0.typecode == "I" and message.scores.typecode == "f"
    for field in ("indices0", "indices1", "scores"):
        assert np.array_equal(np.asarray(getattr(message, field)), np.asarray(getattr(sent, field))), field


DOWNSTREAM_CMAKE = """cmake_minimum_required(VERSION 3.16)
project(disk_trt_ros_downstream CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(disk_trt_ros REQUIRED)
add_executable(use_messages use_messages.cpp)
target_link_libraries(use_messages ${disk_trt_ros_TARGETS})
"""
# Each field of both contracts with its C++ type (static_assert), then a message of each filled and read back.
DOWNSTREAM_SOURCE = """#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "disk_trt_ros/msg/keypoints.hpp"
#include "disk_trt_ros/msg/matches.hpp"

using disk_trt_ros::msg::Keypoints;
using disk_trt_ros::msg::Matches;
template <typename A, typename B> constexpr bool same = std::is_same<A, B>::value;

static_assert(same<decltype(Keypoints::header), std_msgs::msg::Header>, "header");
static_assert(same<decltype(Keypoints::image_width), uint32_t>, "image_width");
static_assert(same<decltype(Keypoints::image_height), uint32_t>, "image_height");
static_assert(same<decltype(Keypoints::count), uint32_t>, "count");
static_assert(same<decltype(Keypoints::keypoints), std::vector<float>>, "keypoints");
static_assert(same<decltype(Keypoints::scores), std::vector<float>>, "scores");
static_assert(same<decltype(Keypoints::descriptor_dim), uint32_t>, "descriptor_dim");
static_assert(same<decltype(Keypoints::descriptors), std::vector<float>>, "descriptors");
static_assert(same<decltype(Matches::header), std_msgs::msg::Header>, "header");
static_assert(same<decltype(Matches::stamp0), builtin_interfaces::msg::Time>, "stamp0");
static_assert(same<decltype(Matches::frame_id0), std::string>, "frame_id0");
static_assert(same<decltype(Matches::stamp1), builtin_interfaces::msg::Time>, "stamp1");
static_assert(same<decltype(Matches::frame_id1), std::string>, "frame_id1");
static_assert(same<decltype(Matches::method), std::string>, "method");
static_assert(same<decltype(Matches::count), uint32_t>, "count");
static_assert(same<decltype(Matches::indices0), std::vector<uint32_t>>, "indices0");
static_assert(same<decltype(Matches::indices1), std::vector<uint32_t>>, "indices1");
static_assert(same<decltype(Matches::scores), std::vector<float>>, "scores");

int main() {
  Keypoints keypoints;
  keypoints.count = 2;
  keypoints.keypoints = {1.5f, 2.5f, 3.5f, 4.5f};
  keypoints.descriptor_dim = 128;
  keypoints.descriptors.assign(2 * 128, 0.0f);
  Matches matches;
  matches.frame_id0 = "left";
  matches.count = 1;
  matches.indices0 = {1};
  matches.indices1 = {0};
  matches.scores = {0.75f};
  std::printf("keypoint 1 at (%.1f, %.1f); match %u-%u of %s, score %.2f\\n", keypoints.keypoints[2],
              keypoints.keypoints[3], matches.indices0[0], matches.indices1[0], matches.frame_id0.c_str(),
              matches.scores[0]);
  return 0;
}
"""


@pytest.mark.ros
def test_a_cpp_package_builds_against_both_messages_and_uses_them(tmp_path: Path) -> None:
    """A downstream C++ package finds disk_trt_ros with CMake (as colcon would), checks every field's C++ type and
    runs on both messages."""
    built_interface("Matches")
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        pytest.skip("cmake and a C++ compiler are needed to build a package downstream")
    install = REPO_ROOT / "install"
    if not (install / "share" / "disk_trt_ros" / "cmake" / "disk_trt_rosConfig.cmake").is_file():
        pytest.skip("the package is not installed: run `make setup`")
    (tmp_path / "CMakeLists.txt").write_text(DOWNSTREAM_CMAKE)
    (tmp_path / "use_messages.cpp").write_text(DOWNSTREAM_SOURCE)
    prefixes = f"{install};{sys.prefix}"
    steps = (
        ["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "build"), "-Wno-dev", f"-DCMAKE_PREFIX_PATH={prefixes}"],
        ["cmake", "--build", str(tmp_path / "build")],
        [str(tmp_path / "build" / "use_messages")],
    )
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{' '.join(step)}:\n{result.stdout}\n{result.stderr}"
    assert result.stdout == "keypoint 1 at (3.5, 4.5); match 1-0 of left, score 0.75\n"
