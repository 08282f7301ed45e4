# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The nodes' parts on their own: the Keypoints message both ways, the newest-frame slot, the frame statistics, the
debug image's rate limiter, the matcher's checks of Keypoints messages and its Matches message, and the executor
thread (the nodes themselves, over DDS, are test_node.py's and test_matcher_node.py's)."""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import Header

from disk_trt_ros.errors import KeypointsMessageError
from disk_trt_ros.image_conversion import ModelInput
from disk_trt_ros.inference.base import Features
from disk_trt_ros.node.debug_image import RateLimiter
from disk_trt_ros.node.diagnostics import FrameStatistics, diagnostic_array
from disk_trt_ros.node.executor_thread import ExecutorThread
from disk_trt_ros.node.keypoints_message import features_from_message, keypoints_message
from disk_trt_ros.node.matches_message import checked_features, checked_pair, matches_message
from disk_trt_ros.node.newest_worker import LatestSlot
from support.node_harness import stamp_of
from support.waiting import wait_until

pytestmark = pytest.mark.ros


def test_keypoints_message_maps_back_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    descriptors = rng.normal(size=(5, 128)).astype(np.float32)
    features = Features(
        keypoints=np.array([[0, 0], [159, 127], [10, 20], [80, 64], [3, 100]], np.float32),
        scores=np.linspace(1.0, 0.5, 5, dtype=np.float32),
        descriptors=descriptors / np.linalg.norm(descriptors, axis=1, keepdims=True),
    )
    model_input = ModelInput(np.zeros((128, 160, 3), np.uint8), source_width=640, source_height=512)
    header = Header(stamp=stamp_of(3), frame_id="cam")
    message = keypoints_message(features, model_input, header)
    assert (message.header, message.image_width, message.image_height) == (header, 640, 512)
    assert (message.count, message.descriptor_dim, len(message.keypoints)) == (5, 128, 10)
    back = features_from_message(message)
    np.testing.assert_array_equal(back.keypoints, (features.keypoints + 0.5) * 4 - 0.5)
    np.testing.assert_array_equal(back.scores, features.scores)
    np.testing.assert_array_equal(back.descriptors, features.descriptors)


def test_latest_slot_keeps_only_the_newest_item() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True  # 1 is dropped
    assert slot.take() == 2
    taken: list[int | None] = []

    def consume() -> None:
        while (item := slot.take()) is not None:
            taken.append(item)
        taken.append(None)

    consumer = threading.Thread(target=consume)
    consumer.start()
    slot.put(3)
    wait_until(lambda: taken == [3], 2.0, "the consumer to take 3")
    slot.close()
    consumer.join(timeout=2)
    assert taken == [3, None]


def test_frame_statistics_report_rates_and_latency_percentiles() -> None:
    now = [100.0]
    statistics = FrameStatistics(clock=lambda: now[0])
    for latency in np.linspace(0.01, 0.10, 10):
        statistics.count("received")
        statistics.count_published(float(latency))
    statistics.count("received")
    statistics.count("dropped")
    statistics.count("rejected")
    now[0] += 2.0
    first = statistics.report()
    assert (first.received, first.published, first.dropped, first.rejected, first.failed) == (11, 10, 1, 1, 0)
    assert first.rate_hz == pytest.approx(5.0)
    assert first.latency_p50_s == pytest.approx(0.055) and first.latency_p99_s == pytest.approx(0.0991)
    assert first.new_rejected == 1
    now[0] += 1.0
    second = statistics.report()
    assert second.rate_hz == 0.0 and second.new_rejected == 0 and second.rejected == 1


def test_frames_lost_before_the_node_are_the_larger_of_two_counts_and_a_warning_with_the_cause() -> None:
    statistics = FrameStatistics()
    statistics.count("sequence_gaps", 5)
    statistics.count("lost_in_transport", 3)  # some of the same frames, as the middleware reported them
    first = statistics.report()
    assert (first.lost, first.new_lost, first.new_lost_in_transport) == (5, 5, 3)
    statistics.count("lost_in_transport", 4)
    statistics.count("rejected")
    second = statistics.report()
    assert (second.lost, second.new_lost, second.new_lost_in_transport) == (7, 2, 4)
    (status,) = diagnostic_array(second, Time(), "disk_node", "cpu", {}, loss_cause="the cause and the fix").status
    assert status.level == DiagnosticStatus.WARN
    assert status.message == "rejected 1 bad image messages; lost 2 frames before the node: the cause and the fix"
    assert {value.key: value.value for value in status.values}["lost_before_node"] == "7"
    third = statistics.report()
    assert (third.lost, third.new_lost, third.new_lost_in_transport) == (7, 0, 0)
    assert diagnostic_array(third, Time(), "disk_node", "cpu", {}).status[0].level == DiagnosticStatus.OK


def test_frame_statistics_report_sizes_and_other_events() -> None:
    statistics = FrameStatistics()
    assert math.isnan(statistics.report().size_mean) and statistics.report().others == {}
    for size in (10, 20, 60):
        statistics.count_published(0.01, size=size)
    statistics.count("received", 4)
    statistics.count("out_of_order")
    statistics.count("unpaired", 3)
    report = statistics.report()
    assert report.size_mean == 30.0 and report.others == {"out_of_order": 1, "unpaired": 3}
    array = diagnostic_array(report, Time(), "matcher", "cpu", {}, output="matches", source="keypoints",
                             waiting_for="keypoints")
    values = {value.key: value.value for value in array.status[0].values}
    assert values["matches_per_message_mean"] == "30.0" and values["unpaired"] == "3"
    assert array.status[0].message.startswith("publishing matches at ")


def test_keypoints_messages_the_matcher_cannot_take_are_named() -> None:
    features = Features(np.zeros((4, 2), np.float32), np.zeros(4, np.float32), np.zeros((4, 128), np.float32))
    model_input = ModelInput(np.zeros((128, 160, 3), np.uint8), source_width=640, source_height=512)
    good = keypoints_message(features, model_input, Header(stamp=stamp_of(1)))
    assert checked_features(good).count == 4
    short = keypoints_message(features, model_input, Header(stamp=stamp_of(2)))
    short.scores = short.scores[:3]
    narrow = keypoints_message(Features(features.keypoints, features.scores, features.descriptors[:, :64].copy()),
                               model_input, Header(stamp=stamp_of(3)))
    narrow.descriptor_dim = 64
    sizeless = keypoints_message(features, model_input, Header(stamp=stamp_of(4)))
    sizeless.image_width = 0
    cases = (
        (short, "stamped 1700000002.000000002 is malformed: count 4 and descriptor_dim 128 need 8 keypoint values, "
                "4 scores and 512 descriptor values, it has 8, 3 and 512"),
        (narrow, "stamped 1700000003.000000003 has 64-d descriptors; the matcher takes DISK's 128-d descriptors"),
        (sizeless, "stamped 1700000004.000000004 has keypoints but no image size (0x512)"),
    )
    for message, expected in cases:
        with pytest.raises(KeypointsMessageError, match=re.escape(expected)):
            checked_features(message)
    with pytest.raises(KeypointsMessageError, match=re.escape(
        "descriptor sizes differ: 128 in the Keypoints message stamped 1700000001.000000001, 64 in the one stamped "
        "1700000003.000000003"
    )):
        checked_pair(good, narrow)


def test_matches_message_names_both_messages_and_holds_the_pairs() -> None:
    features = Features(np.zeros((3, 2), np.float32), np.zeros(3, np.float32), np.zeros((3, 128), np.float32))
    model_input = ModelInput(np.zeros((128, 160, 3), np.uint8), source_width=640, source_height=512)
    first = keypoints_message(features, model_input, Header(stamp=stamp_of(1), frame_id="left"))
    second = keypoints_message(features, model_input, Header(stamp=stamp_of(2), frame_id="right"))
    pairs = np.array([[0, 2], [2, 1]], np.int32)
    message = matches_message(second.header, first, second, pairs, np.array([0.9, 0.5], np.float32), "mnn")
    assert (message.header, message.stamp0, message.stamp1) == (second.header, stamp_of(1), stamp_of(2))
    assert (message.frame_id0, message.frame_id1, message.method, message.count) == ("left", "right", "mnn", 2)
    assert list(message.indices0) == [0, 2] and list(message.indices1) == [2, 1]
    assert message.indices0.typecode == "I" and list(message.scores) == pytest.approx([0.9, 0.5])


def test_rate_limiter_lets_through_at_most_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(5.0, clock=lambda: now[0])
    passed = []
    for _ in range(100):  # 1 s at 100 Hz
        passed.append(limiter.ready())
        now[0] += 0.01
    assert sum(passed) == 5
    unlimited = RateLimiter(0.0, clock=lambda: now[0])
    assert all(unlimited.ready() for _ in range(10))


def test_executor_thread_finishes_the_running_callback_then_shuts_the_executor_down(rclpy_context: Any) -> None:
    """stop() waits for the callback the thread is in, and nothing runs after it: the executor is shut down only
    once its thread has left the executor (rclpy 7.1's shutdown alone would destroy the wait set under it)."""
    node = rclpy.create_node("executor_thread_test", context=rclpy_context)
    started, finished = [], []
    in_callback = threading.Event()

    def slow_tick() -> None:
        started.append(time.monotonic())
        in_callback.set()
        time.sleep(0.3)
        finished.append(time.monotonic())

    node.create_timer(0.05, slow_tick)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    spinning = ExecutorThread(executor, "executor_thread_test")
    try:
        assert in_callback.wait(10.0), "the timer never fired"
        assert spinning.stop(timeout_s=10.0), "the thread did not end"
        assert not spinning.running
        assert len(finished) == len(started) >= 1, "stop() returned while a callback was running"
        calls = len(started)
        time.sleep(0.3)
        assert len(started) == calls, "a callback ran after stop()"
    finally:
        node.destroy_node()


def test_executor_thread_ends_with_its_context(rclpy_context: Any) -> None:
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=rclpy_context.get_domain_id())
    node = rclpy.create_node("executor_thread_context_test", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinning = ExecutorThread(executor, "executor_thread_context_test")
    try:
        assert spinning.running
        context.try_shutdown()
        assert wait_until(lambda: not spinning.running, 10.0), "the thread kept spinning on a shut-down context"
        assert spinning.stop(timeout_s=1.0)
    finally:
        node.destroy_node()
        context.try_shutdown()
