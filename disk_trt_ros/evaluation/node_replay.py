# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``eval --node``: replay a bag's images into a running ``disk_node`` over DDS and evaluate what it publishes.

Each frame is published with its header stamp replaced by the publishing time (the node passes headers through),
so a Keypoints message's arrival time minus its stamp is the end-to-end latency, and its stamp says which frame it
belongs to. The node keeps only the newest frame while busy, and publishes in order: when the keypoints of a frame
arrive, every earlier frame still waiting has gone unanswered. Why it went unanswered (lost in transport, or dropped
by the node while inference was busy) comes from the node's own counters (:mod:`.node_counters`). Everything
received on the keypoints topic is recorded, as the node sent it, into an output bag.
"""

from __future__ import annotations

import dataclasses
import itertools
import queue
import time
from pathlib import Path
from typing import Any, Iterator

import rclpy
from builtin_interfaces.msg import Time
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from tqdm import tqdm

from disk_trt_ros.contract import read_onnx_model_info
from disk_trt_ros.errors import BagError, ContractError
from disk_trt_ros.evaluation.bag_io import (
    COMPRESSED_SUFFIX,
    KEYPOINTS_TYPE,
    BagFrame,
    BagWriter,
    ImageBag,
    stamp_to_ns,
)
from disk_trt_ros.evaluation.node_counters import NodeCounters, frame_accounting
from disk_trt_ros.evaluation.options import EvalOptions, ReplayOptions
from disk_trt_ros.evaluation.report import base_report, model_block
from disk_trt_ros.evaluation.sequence import DrawnPair, FrameResult, SequenceEvaluator
from disk_trt_ros.evaluation.skipped_frames import SkippedFrames
from disk_trt_ros.inference.base import Matcher
from disk_trt_ros.msg import Keypoints
from disk_trt_ros.node.executor_thread import ExecutorThread
from disk_trt_ros.node.keypoints_message import features_from_message

PROBE_INTERVAL_S = 2.0
CLOSE_TIMEOUT_S = 1.0  # how long close() waits for the spin thread to leave a callback
IMAGE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
KEYPOINTS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000, reliability=ReliabilityPolicy.RELIABLE)
RECORDED_BAG = "keypoints_bag"


@dataclasses.dataclass
class ReplayCounts:
    """Frames published, delivered (keypoints received) and unanswered (no keypoints came); keypoints with an unknown
    stamp (not from this replay) are counted as unmatched. ``node_before`` and ``node_after``: the node's counters
    before the first frame and after the last (None without its diagnostics)."""

    published: int = 0
    delivered: int = 0
    unanswered: int = 0
    unmatched: int = 0
    first_publish_ns: int | None = None
    last_arrival_ns: int | None = None
    node_before: dict[str, int] | None = None
    node_after: dict[str, int] | None = None


def ros_image(frame: BagFrame, stamp_ns: int) -> Image | CompressedImage:
    """The frame's message as an rclpy message, stamped ``stamp_ns`` (frame_id kept)."""
    source = frame.message
    header = Header(
        stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000),
        frame_id=source.header.frame_id,
    )
    if frame.compressed:
        return CompressedImage(header=header, format=source.format, data=source.data.tobytes())
    return Image(
        header=header,
        height=source.height,
        width=source.width,
        encoding=source.encoding,
        is_bigendian=source.is_bigendian,
        step=source.step,
        data=source.data.tobytes(),
    )


class NodeReplay:
    """Publishes frames to the node and collects its keypoints, on one rclpy context.

    Args:
        context: an initialised rclpy context (its domain decides which node is reached).
        options: topics, rate and timeouts.
        compressed: whether the frames are CompressedImage.
        recorder: bag the received keypoints are written to (a :class:`BagWriter` entered with keypoints).
    """

    def __init__(self, context: Context, options: ReplayOptions, compressed: bool, recorder: BagWriter) -> None:
        self.options = options
        self.counts = ReplayCounts()
        self._recorder = recorder
        self._recorded = recorder.add_topic(options.keypoints_topic, KEYPOINTS_TYPE)
        self._arrivals: queue.Queue[tuple[int, bytes]] = queue.Queue()
        self._pending: dict[int, BagFrame] = {}  # frames waiting for keypoints, by the stamp they were sent with
        self._last_stamp_ns = 0
        self._node = rclpy.create_node("disk_eval_replay", context=context)
        image_topic = options.image_topic + COMPRESSED_SUFFIX if compressed else options.image_topic
        self._publisher = self._node.create_publisher(CompressedImage if compressed else Image, image_topic, IMAGE_QOS)
        self._subscription = self._node.create_subscription(
            Keypoints, options.keypoints_topic, self._on_keypoints, KEYPOINTS_QOS, raw=True
        )
        self.node_counters = NodeCounters(self._node, self._publisher.topic_name)
        self._executor = SingleThreadedExecutor(context=context)
        self._executor.add_node(self._node)
        self._spinning = ExecutorThread(self._executor, "disk_eval_spin")

    def _on_keypoints(self, data: bytes) -> None:
        self._arrivals.put((time.time_ns(), data))

    def wait_for_node(self, probe: BagFrame) -> None:
        """Wait until the node answers: ``probe`` is sent (again every ``PROBE_INTERVAL_S``) until its keypoints
        come back. This also warms the node up; the probe is neither counted nor recorded.

        Raises:
            BagError: no answer within ``wait_for_node_s``, naming what is missing.
        """
        deadline = time.monotonic() + self.options.wait_for_node_s
        while (remaining := deadline - time.monotonic()) > 0:
            if not (self._publisher.get_subscription_count() and self._subscription.get_publisher_count()):
                time.sleep(0.02)
                continue
            stamp_ns = self._next_stamp()
            self._publisher.publish(ros_image(probe, stamp_ns))
            if self._await_stamp(stamp_ns, min(PROBE_INTERVAL_S, remaining)):
                return
        if not self._publisher.get_subscription_count() or not self._subscription.get_publisher_count():
            problem = (
                f"no node subscribes to {self._publisher.topic_name} and publishes {self._subscription.topic_name}"
            )
        else:
            problem = f"the node on {self._publisher.topic_name} published no keypoints for a test frame"
        raise BagError(
            f"{problem} after {self.options.wait_for_node_s:g} s: start disk_node (python -m disk_trt_ros.node "
            "--ros-args -p model:=MODEL.onnx), and check --node-image-topic, --node-keypoints-topic, ROS_DOMAIN_ID "
            "and the node's image_transport"
        )

    def _await_stamp(self, stamp_ns: int, timeout: float) -> bool:
        """Whether keypoints stamped ``stamp_ns`` arrive within ``timeout``; other arrivals are discarded."""
        end = time.monotonic() + timeout
        while (remaining := end - time.monotonic()) > 0:
            try:
                _, data = self._arrivals.get(timeout=remaining)
            except queue.Empty:
                return False
            message = self._recorder.typestore.deserialize_cdr(data, KEYPOINTS_TYPE)
            if stamp_to_ns(message.header.stamp) == stamp_ns:
                return True
        return False

    def run(self, frames: Iterator[BagFrame], evaluator: SequenceEvaluator) -> None:
        """Publish every frame on schedule, evaluating keypoints as they arrive; then wait for the last ones."""
        start_wall: float | None = None
        first_log_ns = 0
        for frame in frames:
            if start_wall is None:
                start_wall, first_log_ns = time.monotonic(), frame.log_time_ns
            elif not self.options.as_fast_as_possible:
                due = start_wall + (frame.log_time_ns - first_log_ns) / 1e9 / self.options.rate
                while (remaining := due - time.monotonic()) > 0:
                    self._collect(evaluator, timeout=remaining)
            self._publish(frame)
            self._collect(evaluator, timeout=0.0)
        idle_since = time.monotonic()
        while self._pending and time.monotonic() - idle_since < self.options.settle_s:
            if self._collect(evaluator, timeout=0.05):
                idle_since = time.monotonic()
        self.counts.unanswered += len(self._pending)
        self._pending.clear()

    def _next_stamp(self) -> int:
        """Now, in nanoseconds, and unique: a stamp names its frame."""
        self._last_stamp_ns = max(time.time_ns(), self._last_stamp_ns + 1)
        return self._last_stamp_ns

    def _publish(self, frame: BagFrame) -> None:
        stamp_ns = self._next_stamp()
        self._pending[stamp_ns] = frame
        self._publisher.publish(ros_image(frame, stamp_ns))
        self.counts.published += 1
        if self.counts.first_publish_ns is None:
            self.counts.first_publish_ns = stamp_ns

    def _collect(self, evaluator: SequenceEvaluator, timeout: float) -> int:
        """Record and evaluate the keypoints that arrived, waiting up to ``timeout`` for the first; returns how many."""
        handled = 0
        wait = timeout
        while True:
            try:
                arrival_ns, data = self._arrivals.get(timeout=wait) if wait > 0 else self._arrivals.get_nowait()
            except queue.Empty:
                return handled
            wait = 0.0
            handled += 1
            self._handle(arrival_ns, data, evaluator)

    def _handle(self, arrival_ns: int, data: bytes, evaluator: SequenceEvaluator) -> None:
        typestore = self._recorder.typestore
        message = typestore.deserialize_cdr(data, KEYPOINTS_TYPE)
        self._recorder.write_cdr(self._recorded, arrival_ns, data)
        self.counts.last_arrival_ns = arrival_ns
        stamp_ns = stamp_to_ns(message.header.stamp)
        frame = self._pending.pop(stamp_ns, None)
        if frame is None:
            self.counts.unmatched += 1
            return
        for earlier in [stamp for stamp in self._pending if stamp < stamp_ns]:
            del self._pending[earlier]
            self.counts.unanswered += 1
        self.counts.delivered += 1
        evaluator.add(
            FrameResult(
                frame=frame,
                features=features_from_message(message),
                source_size=(int(message.image_width), int(message.image_height)),
                timings_ms={"end_to_end": (arrival_ns - stamp_ns) / 1e6},
            )
        )

    def close(self) -> None:
        """Stop spinning, then destroy the replay's node. A node whose spin thread is still in a callback after the
        timeout is left to the context's shutdown: destroying it under that thread can hang the process."""
        if self._spinning.stop(timeout_s=CLOSE_TIMEOUT_S):
            self._node.destroy_node()
        else:
            self._node.get_logger().warning(
                f"the replay's spin thread was still in a callback {CLOSE_TIMEOUT_S:g} s after it was asked to stop; "
                "its node is left to the context's shutdown"
            )


def replay(
    context: Context,
    bag: ImageBag,
    evaluation: EvalOptions,
    record_to: Path,
    skipped: SkippedFrames,
    matcher: Matcher | None = None,
) -> tuple[SequenceEvaluator, ReplayCounts]:
    """Replay ``bag`` into the node reachable on ``context``, recording its keypoints to ``record_to``; ``matcher``
    runs on each pair of delivered frames. Bag messages that cannot be read are noted in ``skipped`` (what the node
    rejects, it does not answer: counted as dropped)."""
    options = evaluation.replay
    assert options is not None, "replay needs EvalOptions with replay options"
    max_frames = evaluation.max_frames
    total = bag.frame_count if max_frames is None else min(max_frames, bag.frame_count)
    evaluator = SequenceEvaluator(evaluation.settings, total, evaluation.max_image_pixels, matcher)
    with BagWriter(record_to, options.record_format, with_keypoints=True, overwrite=True) as recorder:
        session = NodeReplay(context, options, bag.compressed, recorder)
        frames = bag.frames(max_frames, on_unreadable=lambda _, reason: skipped.rejections.append(reason),
                            on_read_error=skipped.read_errors.append)
        try:
            first = next(frames, None)
            if first is not None:
                session.wait_for_node(probe=first)
                session.counts.node_before = session.node_counters.after_next_reports()
                replayed = itertools.chain([first], frames)
                session.run(iter(tqdm(replayed, total=total, unit="frame", desc="replay")), evaluator)
                if session.counts.node_before is not None:
                    session.counts.node_after = session.node_counters.after_next_reports()
        finally:
            session.close()
    return evaluator, session.counts


def replay_into_node(
    evaluation: EvalOptions, matcher: Matcher | None = None
) -> tuple[dict[str, Any], list[DrawnPair]]:
    """``eval --node``: the report dictionary and the drawn pairs (the domain comes from ``ROS_DOMAIN_ID``);
    ``matcher`` runs on each pair of delivered frames."""
    options = evaluation.replay
    assert options is not None, "replay_into_node needs EvalOptions with replay options"
    record_to = evaluation.output_directory / RECORDED_BAG
    skipped = SkippedFrames()
    context = Context()
    rclpy.init(context=context)
    try:
        with ImageBag(evaluation.bag, evaluation.topic, evaluation.ground_truth_topic) as bag:
            report = base_report(evaluation, bag, "node")
            evaluator, counts = replay(context, bag, evaluation, record_to, skipped, matcher)
    finally:
        rclpy.try_shutdown(context=context)
    info = None
    if evaluation.model:
        try:
            info = read_onnx_model_info(evaluation.model)
        except ContractError as error:
            report.setdefault("notes", []).append(f"the model's metadata could not be read: {error}")
    report["model"] = model_block(info, evaluation.model, None)
    elapsed_s = (
        (counts.last_arrival_ns - counts.first_publish_ns) / 1e9
        if counts.last_arrival_ns is not None and counts.first_publish_ns is not None
        else None
    )
    report["node"] = {
        "image_topic": options.image_topic,
        "keypoints_topic": options.keypoints_topic,
        "rate": "as fast as possible" if options.as_fast_as_possible else f"{options.rate:g}x the bag's",
        "recorded_bag": str(record_to),
        "published": counts.published,
        "delivered": counts.delivered,
        "unmatched": counts.unmatched,
        **frame_accounting(counts.published, counts.unanswered, counts.node_before, counts.node_after),
    }
    report["throughput_fps"] = counts.delivered / elapsed_s if elapsed_s else None
    report.update(skipped.report_fields())
    report["summary"] = evaluator.summary()
    report["frames"] = evaluator.records
    report["notes"] = report.get("notes", []) + [
        "Before the replay, the bag's first frame was sent until the node answered (discovery done, node warmed up); "
        "that test frame is not counted.",
        "End-to-end latency is from publishing the image (its header stamp) to receiving its keypoints, both in "
        "this process.",
        "A frame without keypoints is unanswered: lost in transport (published here, never received by the node) or "
        "dropped by the node (replaced by a newer frame while inference was busy), rejected or failed, as the node's "
        "/diagnostics counted before and after the replay"
        + ("." if report["node"]["lost_in_transport"] is not None else
           ": unknown here (no diagnostics of the node on its image topic, or another publisher fed it)."),
    ] + skipped.notes()
    return report, evaluator.drawn_pairs
