# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The matcher node on real rclpy and Fast DDS: temporal and stereo pairs, mutual nearest neighbours and LightGlue,
messages it must refuse, its parameters, and the unbroken chain of pairs under load.

The node runs in this process beside a probe node, both spun by one executor thread, each test in its own namespace
(support/matcher_harness.py). Every expected match comes from calling the same matcher directly on the same
features (inference/feature_matching.py), so the node's pairs, indices and scores are checked exactly.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from rclpy.event_handler import QoSSubscriptionEventType  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from disk_trt_ros import __version__  # noqa: E402
from disk_trt_ros.contract import MatcherMethod, TrtCompat  # noqa: E402
from disk_trt_ros.errors import NodeConfigurationError  # noqa: E402
from disk_trt_ros.inference.base import Features, Matcher, MnnSettings  # noqa: E402
from disk_trt_ros.inference.feature_matching import match_features  # noqa: E402
from disk_trt_ros.inference.mnn import NumpyMnnMatcher  # noqa: E402
from disk_trt_ros.matcher_contract import MatcherInfo  # noqa: E402
from disk_trt_ros.middleware import KEYPOINTS_LOSS, loss_advice, middleware_state, socket_receive_limit  # noqa: E402
from disk_trt_ros.msg import Keypoints, Matches  # noqa: E402
from disk_trt_ros.node.frame_loss import FrameLoss, keypoints_bytes  # noqa: E402
from disk_trt_ros.node.matcher_node import MatcherNode  # noqa: E402
from support.matcher_harness import (  # noqa: E402
    SOURCE_SIZE,
    MatcherUnderTest,
    keypoints_message,
    of_frames,
    scene,
    seen_again,
)
from support.node_harness import stamp_of  # noqa: E402
from support.waiting import wait_until  # noqa: E402

pytestmark = pytest.mark.ros

MS = 1_000_000  # nanoseconds
QUIET_S = 2.0  # no new pair for this long: the node has matched all it will


@pytest.fixture
def start_matcher(rclpy_context: Any) -> Iterator[Callable[..., MatcherUnderTest]]:
    started: list[MatcherUnderTest] = []

    def start(**parameters: Any) -> MatcherUnderTest:
        started.append(MatcherUnderTest(rclpy_context, {"backend": "onnxruntime", "threads": 1, **parameters}))
        return started[-1]

    yield start
    for node in started:
        node.close()


def assert_matches(message: Matches, matcher: Matcher, features0: Features, features1: Features) -> None:
    """The message holds what ``matcher`` finds between the two feature sets, index for index."""
    pairs, scores = match_features(matcher, features0, SOURCE_SIZE, features1, SOURCE_SIZE)
    assert message.count == len(pairs) > 0
    np.testing.assert_array_equal(np.asarray(message.indices0), pairs[:, 0])
    np.testing.assert_array_equal(np.asarray(message.indices1), pairs[:, 1])
    np.testing.assert_array_equal(np.asarray(message.scores), scores)


def shifted(index: int, offset_ns: int) -> Any:
    """The stamp of frame ``index`` moved by ``offset_ns``."""
    stamp = stamp_of(index)
    total = stamp.sec * 1_000_000_000 + stamp.nanosec + offset_ns
    stamp.sec, stamp.nanosec = divmod(total, 1_000_000_000)
    return stamp


# ------------------------------------------------------------------------------------------------ temporal mode


def test_temporal_mode_matches_each_frame_with_the_one_before(start_matcher: Callable[..., MatcherUnderTest]) -> None:
    settings = MnnSettings(ratio_threshold=0.9)
    node = start_matcher(ratio_threshold=0.9)
    publisher = node.input_publisher(Keypoints, "keypoints")
    frames = [scene(0, 300)]
    for index in range(1, 4):
        frames.append(seen_again(frames[-1], seed=index))
    publisher.publish(keypoints_message(frames[0], 0))
    node.wait_until_taken(0)
    for index in range(1, 4):
        publisher.publish(keypoints_message(frames[index], index))
        message = node.wait_for_matches(of_frames(index - 1, index), f"matches of frames {index - 1} and {index}")
        assert message.header.stamp == stamp_of(index) and message.header.frame_id == "camera_optical"
        assert (message.frame_id0, message.frame_id1, message.method) == ("camera_optical", "camera_optical", "mnn")
        assert_matches(message, NumpyMnnMatcher(settings), frames[index - 1], frames[index])
    report = node.wait_for_diagnostics(lambda values: values.get("published") == "3", "3 pairs published")
    assert report["received"] == "4" and report["rejected"] == "0" and report["dropped"] == "0"
    assert float(report["matches_per_message_mean"]) > 100
    assert "mnn-numpy" in report["matcher"] and report["mode"] == "temporal"


def test_a_frame_out_of_order_is_refused_and_the_chain_goes_on(start_matcher: Callable[..., MatcherUnderTest]) -> None:
    node = start_matcher()
    publisher = node.input_publisher(Keypoints, "keypoints")
    frames = {index: scene(index, 50) for index in (5, 6, 4, 7)}
    publisher.publish(keypoints_message(frames[5], 5))
    node.wait_until_taken(5)
    publisher.publish(keypoints_message(frames[6], 6))
    node.wait_for_matches(of_frames(5, 6), "matches of frames 5 and 6")
    for index in (4, 6, 7):  # 4 is older than 6, the second 6 repeats it: both are refused on arrival
        publisher.publish(keypoints_message(frames[index], index))
    node.wait_for_matches(of_frames(6, 7), "matches of frames 6 and 7 (4 and the repeat refused)")
    assert [(m.stamp0, m.stamp1) for _, m in node.matches.messages] == [
        (stamp_of(5), stamp_of(6)), (stamp_of(6), stamp_of(7)),
    ]
    node.wait_for_diagnostics(lambda values: values.get("out_of_order") == "2", "2 messages out of order")
    node.log.wait_for(lambda log: "not newer than the last one" in log.msg, 10.0, "the out-of-order warning")


def test_an_empty_frame_gives_an_empty_matches_message(start_matcher: Callable[..., MatcherUnderTest]) -> None:
    node = start_matcher()
    publisher = node.input_publisher(Keypoints, "keypoints")
    empty = Features(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 128), np.float32))
    frames = (scene(0, 40), empty, scene(2, 40))
    publisher.publish(keypoints_message(frames[0], 0))
    node.wait_until_taken(0)
    for index in (1, 2):
        publisher.publish(keypoints_message(frames[index], index))
        message = node.wait_for_matches(of_frames(index - 1, index), f"matches of frames {index - 1} and {index}")
        assert message.count == 0 and len(message.indices0) == len(message.scores) == 0
    node.wait_for_diagnostics(lambda values: values.get("empty") == "1", "the empty message counted")


def test_messages_that_cannot_be_matched_are_rejected_by_name(start_matcher: Callable[..., MatcherUnderTest]) -> None:
    node = start_matcher()
    publisher = node.input_publisher(Keypoints, "keypoints")
    good = scene(0, 30)
    publisher.publish(keypoints_message(good, 0))
    node.wait_until_taken(0)
    malformed = keypoints_message(good, 1)
    malformed.count = 31  # one more than its arrays hold
    other_descriptors = keypoints_message(Features(good.keypoints, good.scores, good.descriptors[:, :64].copy()), 2)
    publisher.publish(malformed)
    node.log.wait_for(lambda log: "is malformed: count 31 and descriptor_dim 128 need 62 keypoint values" in log.msg,
                      10.0, "the malformed message's error")
    publisher.publish(other_descriptors)  # its error is logged too, unless within the throttle period of the first
    node.wait_for_diagnostics(lambda values: values.get("rejected") == "2", "2 messages rejected")
    publisher.publish(keypoints_message(seen_again(good, seed=3), 3))
    node.wait_for_matches(of_frames(0, 3), "matches of frames 0 and 3, the two bad frames skipped")


def test_under_load_frames_are_dropped_and_the_pairs_stay_one_chain(
    start_matcher: Callable[..., MatcherUnderTest],
) -> None:
    """40 frames of 1024 keypoints sent back to back: whatever the worker skips (the first frames too), each pair
    starts where the previous one ended, and every frame the node received is accounted for as matched, dropped or
    the first one it took."""
    node = start_matcher(qos_reliability="reliable")
    publisher = node.input_publisher(Keypoints, "keypoints")
    features = scene(0, 1024)
    for index in range(40):
        publisher.publish(keypoints_message(features, index))
    def quiet() -> bool:
        return bool(node.matches.messages) and time.monotonic() - node.matches.messages[-1][0] > QUIET_S

    if not wait_until(quiet, 60.0):
        last_report = node.diagnostics.messages[-1][1] if node.diagnostics.messages else "none"
        raise AssertionError(f"the pairs did not stop coming within 60 s: {len(node.matches.messages)} pairs "
                             f"received; the node's last report: {last_report}")
    quiet_since = time.monotonic()
    report = wait_until(lambda: next((m for t, m in node.diagnostics.messages if t > quiet_since), None), 10.0,
                        "a report after the last pair")
    pairs = [(message.stamp0, message.stamp1) for _, message in node.matches.messages]
    assert len(pairs) == int(report["published"]) > 0
    assert all(previous[1] == current[0] for previous, current in zip(pairs, pairs[1:])), pairs
    assert int(report["published"]) + int(report["dropped"]) == int(report["received"]) - 1, report
    print(f"{report['received']} of 40 frames received, {report['dropped']} dropped while the worker was busy")


# -------------------------------------------------------------------------------------------------- stereo mode


def test_stereo_mode_pairs_left_and_right_by_stamp_within_the_tolerance(
    start_matcher: Callable[..., MatcherUnderTest],
) -> None:
    node = start_matcher(mode="stereo", stereo_tolerance_ms=5.0)
    left_publisher = node.input_publisher(Keypoints, "left/keypoints")
    right_publisher = node.input_publisher(Keypoints, "right/keypoints")
    left_frames = {index: scene(index, 200) for index in (0, 1, 2, 10, 11)}
    right_frames = {index: seen_again(features, seed=index) for index, features in left_frames.items()}
    for index in (0, 1, 2, 10, 11):
        left_publisher.publish(keypoints_message(left_frames[index], index, frame_id="left"))
        if index == 10:  # left 10 has no partner: it is unpaired once a newer pair forms
            continue
        right = keypoints_message(right_frames[index], index, frame_id="right")
        right.header.stamp = shifted(index, 2 * MS)
        right_publisher.publish(right)
        message = node.wait_for_matches(
            lambda m, index=index: m.stamp0 == stamp_of(index), f"the stereo matches of frame {index}"
        )
        assert message.stamp1 == shifted(index, 2 * MS)
        assert (message.header.stamp, message.header.frame_id) == (stamp_of(index), "left")
        assert (message.frame_id0, message.frame_id1) == ("left", "right")
        assert_matches(message, NumpyMnnMatcher(), left_frames[index], right_frames[index])
    node.wait_for_diagnostics(lambda values: values.get("unpaired") == "1", "left 10 counted as unpaired")
    assert len(node.matches.messages) == 4


def test_exact_stereo_pairs_need_equal_stamps(start_matcher: Callable[..., MatcherUnderTest]) -> None:
    node = start_matcher(mode="stereo")
    left_publisher = node.input_publisher(Keypoints, "left/keypoints")
    right_publisher = node.input_publisher(Keypoints, "right/keypoints")
    features = scene(0, 60)
    for index, offset_ns in ((0, 0), (1, MS), (2, 0)):  # the right frame 1 is 1 ms late: no pair at tolerance 0
        left_publisher.publish(keypoints_message(features, index, frame_id="left"))
        right = keypoints_message(seen_again(features, seed=index), index, frame_id="right")
        right.header.stamp = shifted(index, offset_ns)
        right_publisher.publish(right)
        if offset_ns == 0:
            node.wait_for_matches(lambda m, index=index: m.stamp0 == stamp_of(index), f"the pair of frame {index}")
    assert [m.stamp0 for _, m in node.matches.messages] == [stamp_of(0), stamp_of(2)]
    node.wait_for_diagnostics(lambda values: values.get("unpaired") == "2", "frame 1's left and right unpaired")


def test_stereo_messages_with_other_descriptor_sizes_are_rejected(
    start_matcher: Callable[..., MatcherUnderTest],
) -> None:
    node = start_matcher(mode="stereo")
    left_publisher = node.input_publisher(Keypoints, "left/keypoints")
    right_publisher = node.input_publisher(Keypoints, "right/keypoints")
    features = scene(0, 40)
    narrow = Features(features.keypoints, features.scores, features.descriptors[:, :64].copy())
    left_publisher.publish(keypoints_message(features, 0, frame_id="left"))
    right_publisher.publish(keypoints_message(narrow, 0, frame_id="right"))
    node.log.wait_for(lambda log: "descriptor sizes differ: 128 in the Keypoints message stamped" in log.msg
                      and "64 in the one stamped" in log.msg, 10.0, "the descriptor size mismatch")
    left_publisher.publish(keypoints_message(features, 1, frame_id="left"))
    right_publisher.publish(keypoints_message(features, 1, frame_id="right"))
    node.wait_for_matches(lambda m: m.stamp0 == stamp_of(1), "the pair of frame 1")
    node.wait_for_diagnostics(lambda values: values.get("rejected") == "1", "the pair of frame 0 rejected")


# ------------------------------------------------------------------------------------- messages lost before the node
# DDS cannot be made to lose messages on demand in this process: as in the detector's test (test_node.py), each topic's
# loss counter is given what DDS would give, the message info's sequence numbers and the message_lost event
# (test_dds_delivery.py loses real frames). The first real message on a topic starts its sequence numbering.


def assert_message_lost_goes_to(subscription: Any, loss: FrameLoss) -> None:
    """The subscription's message_lost event is handled by ``loss``, and by nothing else."""
    lost_event = QoSSubscriptionEventType.RCL_SUBSCRIPTION_MESSAGE_LOST
    handlers = [handler.callback for handler in subscription.event_handlers if handler.event_type == lost_event]
    assert handlers == [loss.on_message_lost]


def assert_loss_explained(values: dict[str, Any], message: Keypoints) -> None:
    """The diagnostics are a WARN that names the lost Keypoints messages and the cause a middleware report gives."""
    advice = loss_advice(middleware_state(), keypoints_bytes(message), socket_receive_limit(), True, KEYPOINTS_LOSS)
    assert values["level"] == DiagnosticStatus.WARN
    assert values["message"].startswith("lost ")
    assert values["message"].endswith(f" Keypoints messages before the node: {advice}")


def test_keypoints_lost_before_the_node_are_counted_once_and_explained_in_diagnostics(
    start_matcher: Callable[..., MatcherUnderTest],
) -> None:
    node = start_matcher()
    publisher = node.input_publisher(Keypoints, "keypoints")
    message = keypoints_message(scene(0, 2048), 0)  # about 1 MB, as at K=2048
    publisher.publish(message)
    node.wait_until_taken(0)
    (subscription,), (loss,) = node.node._subscriptions, node.node._losses
    assert_message_lost_goes_to(subscription, loss)
    first = loss._last_sequence
    assert first is not None and loss._single_publisher
    for offset in (1, 4):  # messages first+2 and first+3 never arrived
        loss.on_frame(message, first + offset)
    loss.on_message_lost(SimpleNamespace(total_count_change=3))  # those, and one after the last that arrived
    values = node.wait_for_diagnostics(lambda values: values["lost_before_node"] == "3", "3 lost, not 5")
    assert_loss_explained(values, message)
    assert values["received"] == "1", "the simulated arrivals are not counted as received"
    node.log.wait_for(lambda log: "Keypoints messages are being lost before the node (3 so far)" in log.msg, 10.0,
                      "the loss warning")


def test_stereo_mode_counts_the_losses_of_each_topic(start_matcher: Callable[..., MatcherUnderTest]) -> None:
    node = start_matcher(mode="stereo")
    publishers = [node.input_publisher(Keypoints, topic) for topic in ("left/keypoints", "right/keypoints")]
    messages = [keypoints_message(scene(side, 60), 0, frame_id=frame_id) for side, frame_id in enumerate("lr")]
    for publisher, message in zip(publishers, messages):
        publisher.publish(message)
    node.wait_for_matches(lambda m: m.stamp0 == stamp_of(0), "the pair of frame 0")
    losses = node.node._losses
    for subscription, loss in zip(node.node._subscriptions, losses, strict=True):
        assert_message_lost_goes_to(subscription, loss)
    firsts = [loss._last_sequence for loss in losses]
    assert None not in firsts and all(loss._single_publisher for loss in losses), "each topic has one publisher"
    losses[0].on_frame(messages[0], firsts[0] + 3)  # left: 2 gaps
    losses[1].on_frame(messages[1], firsts[1] + 2)  # right: 1 gap, 3 in all
    losses[0].on_message_lost(SimpleNamespace(total_count_change=1))
    losses[1].on_message_lost(SimpleNamespace(total_count_change=3))  # 4 reported by DDS in all: the larger count
    values = node.wait_for_diagnostics(lambda values: values["lost_before_node"] == "4", "4 lost on both topics")
    assert_loss_explained(values, messages[0])


# ----------------------------------------------------------------------------------------------------- LightGlue


@pytest.fixture(scope="module")
def lightglue_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LightGlue for K=64 at 240x320 (random weights, threshold 0: every mutual best pair is a match)."""
    for library in ("torch", "kornia", "onnxruntime"):
        pytest.importorskip(library, reason=f"exporting and running LightGlue needs {library}")
    from disk_trt_ros.export.lightglue_weights import random_lightglue
    from disk_trt_ros.export.onnx_export import export_matcher_onnx

    lightglue, sha256 = random_lightglue(0)
    info = MatcherInfo(MatcherMethod.LIGHTGLUE, 240, 320, 64, 0.0, TrtCompat.TRT_8_2, "random:0", sha256, __version__)
    path = tmp_path_factory.mktemp("lightglue") / "lightglue.onnx"
    export_matcher_onnx(lightglue, info, path)
    return path


def test_lightglue_gives_the_exported_matchers_matches_and_refuses_more_than_k(
    start_matcher: Callable[..., MatcherUnderTest], lightglue_model: Path
) -> None:
    from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeLightGlue

    node = start_matcher(matcher="lightglue", model=str(lightglue_model))
    publisher = node.input_publisher(Keypoints, "keypoints")
    first = scene(0, 64)
    frames = [first, seen_again(first, seed=1), scene(2, 65), seen_again(first, seed=3)]
    publisher.publish(keypoints_message(frames[0], 0))
    node.wait_until_taken(0)
    publisher.publish(keypoints_message(frames[1], 1))
    message = node.wait_for_matches(of_frames(0, 1), "matches of frames 0 and 1")
    assert message.method == "lightglue"
    assert_matches(message, OnnxRuntimeLightGlue(str(lightglue_model), threads=1), frames[0], frames[1])
    publisher.publish(keypoints_message(frames[2], 2))
    node.log.wait_for(lambda log: "image 1 has 65 keypoints, the matcher takes at most K=64" in log.msg, 10.0,
                      "the K overflow")
    publisher.publish(keypoints_message(frames[3], 3))
    node.wait_for_matches(of_frames(1, 3), "matches of frames 1 and 3 (frame 2 has 65 keypoints, K is 64)")


# ---------------------------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"matcher": "sift"}, "'matcher': 'sift' is not one of mnn, lightglue"),
        ({"mode": "panorama"}, "'mode': 'panorama' is not one of temporal, stereo"),
        ({"matcher": "lightglue"}, "parameter 'model' is empty: matcher lightglue needs an exported matcher"),
        pytest.param(
            {"matcher": "lightglue", "model": "/nonexistent/lightglue.onnx"},
            "cannot load matcher lightglue on backend onnxruntime: /nonexistent/lightglue.onnx: no such file",
            marks=pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs onnxruntime"),
        ),
        ({"ratio_threshold": 1.5}, "invalid parameter 'ratio_threshold'"),
        ({"max_distance": -0.5}, "invalid parameter 'max_distance'"),
        ({"stereo_queue_size": 0}, "invalid parameter 'stereo_queue_size'"),
        ({"qos_reliability": "sometimes"}, "'qos_reliability': 'sometimes' is not one of best_effort, reliable"),
    ],
)
def test_invalid_parameters_are_refused_with_the_allowed_values(
    rclpy_context: Any, parameters: dict[str, Any], expected: str
) -> None:
    overrides = [Parameter(name, value=value) for name, value in {"backend": "onnxruntime", **parameters}.items()]
    with pytest.raises(NodeConfigurationError, match=expected):
        MatcherNode(context=rclpy_context, parameter_overrides=overrides)


def test_parameters_are_read_only_and_described(rclpy_context: Any) -> None:
    node = MatcherNode(context=rclpy_context, parameter_overrides=[Parameter("backend", value="onnxruntime")])
    try:
        names = ["matcher", "mode", "model", "backend", "ratio_threshold", "stereo_tolerance_ms"]
        for descriptor in node.describe_parameters(names):
            assert descriptor.read_only and descriptor.description, descriptor.name
        assert node.describe_parameters(["mode"])[0].additional_constraints == "one of: temporal, stereo"
        assert not node.set_parameters([Parameter("mode", value="stereo")])[0].successful
    finally:
        node.destroy_node()
