# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``matcher_node``: matches the keypoints of two Keypoints messages, publishes ``disk_trt_ros/msg/Matches``.

Modes (parameter ``mode``):
    ``temporal``: one topic, ``keypoints``; each message is matched with the previous one the node took (frame t-1
        with frame t). A frame dropped under load or lost before the node is spanned by the next pair, so the pairs
        form one chain.
    ``stereo``: two topics, ``left/keypoints`` and ``right/keypoints``, paired by stamp (equal, or within
        ``stereo_tolerance_ms``) from queues of ``stereo_queue_size`` (:mod:`disk_trt_ros.node.stamp_pairing`).
Topics (all remappable): the inputs' reliability is ``qos_reliability`` (best effort by default: it receives both
kinds of publisher); ``matches`` is reliable; ``/diagnostics`` once a second (received, published, matches per pair,
latency, dropped, lost before the node, rejected, out of order, unpaired, empty; WARN with the likely cause and the
fix while Keypoints messages are lost before the node, counted per topic by
:class:`~disk_trt_ros.node.frame_loss.FrameLoss` as in the detector).

The executor thread forms pairs and hands them to one worker thread (:class:`NewestWorker`): while it is busy, a
newer frame or pair replaces the waiting one, counted as dropped. A message that cannot be matched (arrays that
disagree with its count, descriptors other than DISK's, more keypoints than LightGlue's K) is rejected (in temporal
mode the next frame is matched with the last good one), and a stamp that is not newer than the last of its topic is
refused as out of order: each is logged (throttled) and counted, and the node goes on. An empty message is matched
(no matches) and counted.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import FloatingPointRange, IntegerRange
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from disk_trt_ros.contract import MATCHER_NODE_NAME, BackendName, MatcherMethod, Precision
from disk_trt_ros.errors import ContractError, KeypointsMessageError, NodeConfigurationError
from disk_trt_ros.inference.base import (
    MAX_THREADS,
    BackendOptions,
    Features,
    KeypointSlots,
    Matcher,
    MatcherOptions,
    MnnSettings,
)
from disk_trt_ros.inference.feature_matching import matcher_slots
from disk_trt_ros.inference.registry import create_matcher
from disk_trt_ros.middleware import KEYPOINTS_LOSS, middleware_state
from disk_trt_ros.msg import Keypoints, Matches
from disk_trt_ros.node.diagnostics import LOG_THROTTLE_S, FrameStatistics, diagnostic_array
from disk_trt_ros.node.frame_loss import FrameLoss, keypoints_bytes
from disk_trt_ros.node.matches_message import checked_features, checked_pair, matches_message, stamp_ns, stamp_text
from disk_trt_ros.node.newest_worker import NewestWorker
from disk_trt_ros.node.parameters import RELIABILITIES, declare_parameters, parameter
from disk_trt_ros.node.process import run_node
from disk_trt_ros.node.stamp_pairing import StampPairer

MODES = ("temporal", "stereo")
STEREO_TOPICS = ("left/keypoints", "right/keypoints")
NO_DISTANCE_THRESHOLD = 2.0  # unit descriptors are at most 2 apart

_PARAMETERS = {
    "matcher": parameter(
        "mnn", "mnn: mutual nearest neighbours of the descriptors (no model); lightglue: an exported LightGlue",
        MatcherMethod.values()),
    "mode": parameter("temporal", "temporal: frame t-1 with frame t on 'keypoints'; stereo: 'left/keypoints' with "
                      "'right/keypoints' paired by stamp", MODES),
    "model": parameter("", "LightGlue's exported ONNX model (python -m disk_trt_ros export-matcher) or its engine"),
    "engine": parameter("", "TensorRT engine of the LightGlue model; empty: MODEL.<precision>.engine beside it"),
    "backend": parameter(
        "auto", "LightGlue: as the detector's backend; mnn: PyTorch on a CUDA GPU (auto, tensorrt, torch), else numpy",
        BackendName.values()),
    "precision": parameter("fp16", "Precision of LightGlue's TensorRT engine", Precision.values()),
    "threads": parameter(
        0, "CPU threads of ONNX Runtime and PyTorch (0: the library's default)",
        integer_range=[IntegerRange(from_value=0, to_value=MAX_THREADS, step=1)]),
    "ratio_threshold": parameter(
        0.0, "mnn: keep a match when nearest / second-nearest descriptor distance <= it, both ways (0: no ratio test)",
        floating_point_range=[FloatingPointRange(from_value=0.0, to_value=1.0)]),
    "max_distance": parameter(
        NO_DISTANCE_THRESHOLD, "mnn: keep a match when its descriptor distance <= it (2: no threshold)",
        floating_point_range=[FloatingPointRange(from_value=0.0, to_value=NO_DISTANCE_THRESHOLD)]),
    "qos_reliability": parameter(
        "best_effort", "Reliability of the keypoints subscriptions (best_effort receives both kinds of publisher)",
        tuple(RELIABILITIES)),
    "stereo_tolerance_ms": parameter(
        0.0, "stereo: largest stamp difference of a left and a right message that are paired (0: equal stamps)",
        floating_point_range=[FloatingPointRange(from_value=0.0, to_value=1000.0)]),
    "stereo_queue_size": parameter(
        10, "stereo: messages of each camera kept while they wait for a partner",
        integer_range=[IntegerRange(from_value=1, to_value=100, step=1)]),
}


@dataclasses.dataclass(frozen=True)
class MatcherSettings:
    """The matcher node's parameters, checked (see :data:`_PARAMETERS` for their meaning)."""

    matcher: str
    mode: str
    model: str
    engine: str
    backend: str
    precision: str
    threads: int
    ratio_threshold: float
    max_distance: float
    qos_reliability: str
    stereo_tolerance_ms: float
    stereo_queue_size: int

    def matcher_options(self) -> MatcherOptions:
        mnn = MnnSettings(
            ratio_threshold=self.ratio_threshold or None,
            max_distance=self.max_distance if self.max_distance < NO_DISTANCE_THRESHOLD else None,
        )
        backend = BackendOptions(
            precision=Precision(self.precision), threads=self.threads or None, engine_path=Path(self.engine) if
            self.engine else None,
        )
        return MatcherOptions(model=Path(self.model) if self.model else None, backend=backend, mnn=mnn)


def declare_matcher_settings(node: Node) -> MatcherSettings:
    """Declare the matcher node's parameters and return their checked values (a leading ``~`` in paths expanded).

    Raises:
        NodeConfigurationError: a value of the wrong type, out of range, not among the choices, or LightGlue without
            a model.
    """
    values = declare_parameters(node, _PARAMETERS)
    for name in ("model", "engine"):
        values[name] = os.path.expanduser(values[name])
    if values["matcher"] == MatcherMethod.LIGHTGLUE and not values["model"]:
        raise NodeConfigurationError(
            "parameter 'model' is empty: matcher lightglue needs an exported matcher (python -m disk_trt_ros "
            "export-matcher --extractor disk.onnx --output lightglue.onnx), e.g. --ros-args -p model:=lightglue.onnx"
        )
    return MatcherSettings(**values)


@dataclasses.dataclass(frozen=True)
class Arrival:
    """A Keypoints message and when it arrived (``time.monotonic()`` seconds)."""

    message: Keypoints
    received_at: float

    @property
    def source_size(self) -> tuple[int, int]:
        return (self.message.image_width, self.message.image_height)


@dataclasses.dataclass(frozen=True)
class StereoPair:
    """A left and a right Keypoints message paired by stamp."""

    left: Arrival
    right: Arrival


class MatcherNode(Node):
    """Matches for every pair the worker can keep up with; see the module docstring for the topics."""

    def __init__(self, **node_options: Any) -> None:
        super().__init__(MATCHER_NODE_NAME, **node_options)
        try:
            self.settings = declare_matcher_settings(self)
            self._matcher = self._load_matcher(self.settings)
        except NodeConfigurationError:
            super().destroy_node()
            raise
        self._statistics = FrameStatistics()
        self._previous: tuple[Arrival, KeypointSlots] | None = None  # temporal mode, the worker's
        self._last_stamp_ns: int | None = None  # temporal mode, the executor's

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._publisher = self.create_publisher(Matches, "matches", reliable)
        self._diagnostics_publisher = self.create_publisher(DiagnosticArray, "/diagnostics", reliable)
        keypoints_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=max(5, self.settings.stereo_queue_size),
            reliability=RELIABILITIES[self.settings.qos_reliability],
            durability=DurabilityPolicy.VOLATILE,
        )
        if self.settings.mode == "stereo":
            tolerance_ns = round(self.settings.stereo_tolerance_ms * 1e6)
            self._pairer: StampPairer[Arrival] = StampPairer(tolerance_ns, self.settings.stereo_queue_size)
            topics, on_message = STEREO_TOPICS, self._on_stereo
        else:
            topics, on_message = ("keypoints",), self._on_frame
        middleware = middleware_state()
        self._losses = [  # one per topic, index = side
            FrameLoss(self._statistics, functools.partial(self._count_publishers, side), middleware, KEYPOINTS_LOSS,
                      keypoints_bytes)
            for side in range(len(topics))
        ]
        self._subscriptions = [
            self.create_subscription(
                Keypoints, topic, functools.partial(on_message, side), keypoints_qos,
                event_callbacks=SubscriptionEventCallbacks(message_lost=self._losses[side].on_message_lost),
            )
            for side, topic in enumerate(topics)
        ]
        self._diagnostics_timer = self.create_timer(
            1.0, self._publish_diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )
        self._worker: NewestWorker[Arrival | StereoPair] = NewestWorker(
            "disk_matching", self._process, self._on_failure, lambda: rclpy.ok(context=self.context)
        )
        topics = ", ".join(subscription.topic_name for subscription in self._subscriptions)
        self.get_logger().info(
            f"ready: {self._matcher.describe()}, {self.settings.mode} mode; subscribed to {topics} "
            f"({self.settings.qos_reliability}), publishing {self._publisher.topic_name}"
        )

    def _load_matcher(self, settings: MatcherSettings) -> Matcher:
        try:
            return create_matcher(
                settings.matcher, settings.backend, settings.matcher_options(), report=self.get_logger().info
            )
        except Exception as error:  # any failure to load is a start-up error with its own message
            raise NodeConfigurationError(
                f"cannot load matcher {settings.matcher} on backend {settings.backend}: {error}"
            ) from error

    # --- the executor thread: arrivals and pairs ------------------------------------------------------------------

    def _count_publishers(self, side: int) -> int:
        return self.count_publishers(self._subscriptions[side].topic_name)

    def _receive(self, side: int, message: Keypoints, info: dict[str, Any]) -> None:
        """Count an arrival on topic ``side`` and what was lost before it."""
        self._statistics.count("received")
        self._losses[side].on_frame(message, info.get("publication_sequence_number"))

    def _on_frame(self, side: int, message: Keypoints, info: dict[str, Any]) -> None:
        self._receive(side, message, info)
        stamp = stamp_ns(message.header.stamp)
        if self._last_stamp_ns is not None and stamp <= self._last_stamp_ns:
            self._refuse_out_of_order(message, self._subscriptions[side].topic_name)
            return
        self._last_stamp_ns = stamp
        if self._worker.offer(Arrival(message, time.monotonic())):
            self._statistics.count("dropped")

    def _on_stereo(self, side: int, message: Keypoints, info: dict[str, Any]) -> None:
        self._receive(side, message, info)
        pairing = self._pairer.add(side, stamp_ns(message.header.stamp), Arrival(message, time.monotonic()))
        if pairing.out_of_order:
            self._refuse_out_of_order(message, self._subscriptions[side].topic_name)
        if pairing.unpaired:
            self._statistics.count("unpaired", pairing.unpaired)
        if pairing.pair is not None and self._worker.offer(StereoPair(*pairing.pair)):
            self._statistics.count("dropped")

    def _refuse_out_of_order(self, message: Keypoints, topic: str) -> None:
        self._statistics.count("out_of_order")
        self.get_logger().warn(
            f"refused a Keypoints message on {topic} stamped {stamp_text(message.header.stamp)}: not newer than the "
            "last one (out of order or repeated); the node goes on", throttle_duration_sec=LOG_THROTTLE_S,
        )

    # --- the worker thread: matching ------------------------------------------------------------------------------

    def _process(self, item: Arrival | StereoPair) -> None:
        try:
            if isinstance(item, StereoPair):
                self._match_stereo(item)
            else:
                self._match_temporal(item)
        except KeypointsMessageError as error:
            self._statistics.count("rejected")
            self.get_logger().error(f"rejected: {error}", throttle_duration_sec=LOG_THROTTLE_S)

    def _match_temporal(self, arrival: Arrival) -> None:
        """Match the frame with the previous one; a frame that cannot be matched does not become the previous."""
        slots = self._slots(arrival, checked_features(arrival.message), image=1)
        previous, self._previous = self._previous, (arrival, slots)
        if previous is not None:
            self._publish(previous, (arrival, slots), arrival.message.header, arrival.received_at)

    def _match_stereo(self, pair: StereoPair) -> None:
        features = checked_pair(pair.left.message, pair.right.message)
        left = (pair.left, self._slots(pair.left, features[0], image=0))
        right = (pair.right, self._slots(pair.right, features[1], image=1))
        received_at = max(pair.left.received_at, pair.right.received_at)
        self._publish(left, right, pair.left.message.header, received_at)

    def _slots(self, arrival: Arrival, features: Features, image: int) -> KeypointSlots:
        """The features as the matcher's input ``image``; an empty message is counted and logged (throttled).

        Raises:
            KeypointsMessageError: more keypoints than the matcher takes, naming the message.
        """
        stamp = stamp_text(arrival.message.header.stamp)
        if features.count == 0:
            self._statistics.count("empty")
            self.get_logger().warn(
                f"the Keypoints message stamped {stamp} has no keypoints: its pairs have no matches",
                throttle_duration_sec=LOG_THROTTLE_S,
            )
        try:
            return matcher_slots(self._matcher, features, arrival.source_size, image)
        except ContractError as error:
            raise KeypointsMessageError(f"Keypoints message stamped {stamp}: {error}") from error

    def _publish(
        self, first: tuple[Arrival, KeypointSlots], second: tuple[Arrival, KeypointSlots], header: Header,
        received_at: float,
    ) -> None:
        (arrival0, slots0), (arrival1, slots1) = first, second
        pairs, scores = self._matcher.match(slots0, slots1).pairs()
        self._publisher.publish(
            matches_message(header, arrival0.message, arrival1.message, pairs, scores, self.settings.matcher)
        )
        self._statistics.count_published(time.monotonic() - received_at, size=len(pairs))

    def _on_failure(self, error: Exception) -> None:
        self._statistics.count("failed")
        self.get_logger().error(f"matching a pair failed: {error!r}", throttle_duration_sec=LOG_THROTTLE_S)

    # --- diagnostics and shutdown ---------------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        for loss in self._losses:
            loss.check_publishers()
        settings = {
            "matcher": self._matcher.describe(),
            "mode": self.settings.mode,
            "keypoints_topics": ", ".join(subscription.topic_name for subscription in self._subscriptions),
        }
        report = self._statistics.report()
        largest = max(self._losses, key=lambda loss: loss.frame_bytes)  # report sums the topics; the cause needs a size
        self._diagnostics_publisher.publish(
            diagnostic_array(
                report,
                self.get_clock().now().to_msg(),
                name=f"{self.get_fully_qualified_name()}: DISK matches",
                hardware_id=self._matcher.compute_device,
                settings=settings,
                output="matches",
                source="keypoints",
                waiting_for="keypoints",
                loss_cause=largest.explain(report, self.get_logger()),
                lost_messages=KEYPOINTS_LOSS.messages,
            )
        )

    def destroy_node(self) -> None:
        """Stop the worker (waiting a little for the pair in hand), free the matcher."""
        if self._worker.stop():
            self._matcher.close()
        super().destroy_node()


def main(args: Sequence[str] | None = None) -> int:
    """Run the matcher node until SIGINT/SIGTERM; returns 0, or 2 when it cannot start (the reason is logged)."""
    return run_node(MatcherNode, MATCHER_NODE_NAME, args)


if __name__ == "__main__":
    sys.exit(main())
