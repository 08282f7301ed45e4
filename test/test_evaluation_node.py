# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``eval --node`` and ``make demo`` against the real disk_node over rclpy and Fast DDS."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

from rclpy.parameter import Parameter  # noqa: E402
from rosbags.highlevel import AnyReader  # noqa: E402

from disk_trt_ros.cli import main as dispatch  # noqa: E402
from disk_trt_ros.evaluation import demo  # noqa: E402
from disk_trt_ros.evaluation.bag_io import BagFormat, ImageBag  # noqa: E402
from disk_trt_ros.evaluation.node_counters import COUNTERS, frame_accounting  # noqa: E402
from disk_trt_ros.evaluation.node_replay import NodeReplay  # noqa: E402
from disk_trt_ros.evaluation.report import frames_to_the_node  # noqa: E402
from disk_trt_ros.evaluation.sample_bag import write_sample_bag  # noqa: E402
from disk_trt_ros.node.disk_node import DiskNode  # noqa: E402
from disk_trt_ros.photos import load_photos  # noqa: E402
from support.bags import corrupt_sqlite_page_holding  # noqa: E402
from support.paths import PHOTO_DIR, shared_photo_paths  # noqa: E402
from support.ros import spinning  # noqa: E402

pytestmark = pytest.mark.ros

DOMAIN_ID = 101 + os.getpid() % 100  # apart from other ROS processes on the machine, and from test_node's domains
TOPIC = "/camera/image_raw"


@pytest.fixture(scope="module")
def node_namespace(export_model: Any) -> Iterator[str]:
    """A disk_node (ONNX Runtime, one thread, 128x160, K=64) in its own namespace, spun in a thread."""
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    namespace = f"/e{uuid.uuid4().hex[:8]}"
    parameters = {"model": str(export_model().path), "backend": "onnxruntime", "threads": 1}
    node = DiskNode(context=context, namespace=namespace,
                    parameter_overrides=[Parameter(name, value=value) for name, value in parameters.items()])
    with spinning(node, context):
        yield namespace
    rclpy.shutdown(context=context)


@pytest.fixture
def domain(monkeypatch: pytest.MonkeyPatch) -> None:
    """eval --node reaches the node through the ROS_DOMAIN_ID environment variable, as a user's shell would."""
    monkeypatch.setenv("ROS_DOMAIN_ID", str(DOMAIN_ID))


def sample_bag(path: Path, frames: int, fps: float) -> Path:
    shared_photo_paths()
    write_sample_bag(path, load_photos(PHOTO_DIR), frames=frames, fps=fps, width=160, height=128,
                     bag_format=BagFormat.SQLITE3)
    return path


def eval_node(bag: Path, out: Path, namespace: str, *extra: str) -> tuple[int, dict[str, Any] | None]:
    status = dispatch(["eval", "--node", "--bag", str(bag), "--topic", TOPIC, "--out", str(out),
                       "--node-image-topic", f"{namespace}/image", "--node-keypoints-topic", f"{namespace}/keypoints",
                       "--settle", "3", *extra])
    report = json.loads((out / "report.json").read_text()) if status == 0 else None
    return status, report


def recorded_keypoints(bag: Path) -> list[Any]:
    with AnyReader([bag]) as reader:
        return [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages()]


def test_at_a_low_rate_the_node_delivers_every_frame_and_its_keypoints_are_recorded(
    tmp_path: Path, node_namespace: str, domain: None, export_model: Any
) -> None:
    bag = sample_bag(tmp_path / "bag", frames=4, fps=2.0)
    status, report = eval_node(bag, tmp_path / "out", node_namespace, "--model", str(export_model().path))
    assert status == 0 and report is not None
    node = report["node"]
    assert (node["published"], node["delivered"], node["dropped"], node["unmatched"]) == (4, 4, 0, 0)
    assert (node["lost_in_transport"], node["unanswered"]) == (0, 0)
    assert [record["index"] for record in report["frames"]] == [0, 1, 2, 3]
    latency = report["summary"]["latency_end_to_end_ms"]
    assert latency["count"] == 4 and 0 < latency["p50"] < 5000
    assert report["summary"]["ground_truth_pairs"] == 3
    assert report["model"]["random_weights"] is True

    messages = recorded_keypoints(Path(node["recorded_bag"]))
    assert [int(m.count) for m in messages] == [record["keypoints"] for record in report["frames"]]
    assert all((m.image_width, m.image_height, m.descriptor_dim) == (160, 128, 128) for m in messages)
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in messages]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4

    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| Frames dropped by the node | 0 | `node.dropped` |" in markdown
    assert "Random weights (random:0)" in markdown


def test_a_flood_faster_than_inference_counts_the_dropped_frames(
    tmp_path: Path, node_namespace: str, domain: None
) -> None:
    bag = sample_bag(tmp_path / "bag", frames=30, fps=30.0)
    status, report = eval_node(bag, tmp_path / "out", node_namespace, "--as-fast-as-possible")
    assert status == 0 and report is not None
    node = report["node"]
    assert node["published"] == 30
    assert node["dropped"] > 0, "30 frames back to back are faster than inference"
    assert node["delivered"] + node["unanswered"] == 30
    accounted = (node["lost_in_transport"] + node["dropped"] + node["rejected"] + node["inference_errors"]
                 + node["invalid_output"])
    assert node["unanswered"] == accounted, "every unanswered frame accounted for by the node"
    assert report["frames"][-1]["index"] == 29, "the newest frame wins"
    assert report["summary"]["frames"] == node["delivered"] == len(recorded_keypoints(Path(node["recorded_bag"])))
    assert "weights" not in report["model"], "without --model the report cannot state the weights"


def test_frames_are_accounted_from_the_nodes_counters_or_said_unknown() -> None:
    before = dict.fromkeys(COUNTERS, 10)
    after = {**before, "received": 18, "published": 13, "dropped": 13, "rejected": 11, "invalid_output": 11,
             "lost_before_node": 11}
    accounting = frame_accounting(published=10, unanswered=7, before=before, after=after)
    assert accounting == {"lost_in_transport": 2, "dropped": 3, "rejected": 1, "inference_errors": 0,
                          "invalid_output": 1, "lost_counted_by_node": 1, "unanswered": 7}
    line = frames_to_the_node({"published": 10, "delivered": 3, "rate": "1x the bag's", **accounting})
    assert line == ("published 10 frames to the node (1x the bag's): 3 delivered, 2 lost in transport, 3 dropped by "
                    "the node while inference was busy, 2 rejected or failed")
    for unknown in (frame_accounting(10, 7, None, None),
                    frame_accounting(10, 7, before, {**after, "received": 21})):  # another publisher fed the node
        assert unknown["unanswered"] == 7 and unknown["lost_in_transport"] is None and unknown["dropped"] is None
        line = frames_to_the_node({"published": 10, "delivered": 3, "rate": "1x the bag's", **unknown})
        assert line.endswith("3 delivered, 7 without keypoints (lost in transport or dropped: unknown, no diagnostics)")


def test_closing_a_replay_destroys_its_node_only_once_its_spin_thread_has_stopped() -> None:
    """Destroying a node under a thread still in one of its callbacks can hang the process: when the spin thread has
    not stopped within the timeout, close() leaves the node to the context's shutdown and logs why."""

    class RecordingNode:
        def __init__(self) -> None:
            self.destroyed, self.warnings = False, []

        def destroy_node(self) -> None:
            self.destroyed = True

        def get_logger(self) -> SimpleNamespace:
            return SimpleNamespace(warning=self.warnings.append)

    for thread_stopped in (True, False):
        node = RecordingNode()
        spinning = SimpleNamespace(stop=lambda timeout_s, ended=thread_stopped: ended)
        replay = SimpleNamespace(_spinning=spinning, _node=node)
        NodeReplay.close(replay)  # type: ignore[arg-type]
        assert node.destroyed is thread_stopped
        assert bool(node.warnings) is not thread_stopped
    assert "still in a callback" in node.warnings[0] and "context's shutdown" in node.warnings[0]


def test_a_corrupt_bag_page_ends_the_replay_cleanly_and_the_report_says_so(
    tmp_path: Path, node_namespace: str, domain: None
) -> None:
    bag = sample_bag(tmp_path / "bag", frames=5, fps=2.0)
    with ImageBag(bag, TOPIC) as opened:
        third = next(frame for frame in opened.frames() if frame.index == 3)
    corrupt_sqlite_page_holding(bag, bytes(third.message.data[5000:5064]))
    status, report = eval_node(bag, tmp_path / "out", node_namespace)
    assert status == 0 and report is not None
    assert report["node"]["published"] == 3 and [record["index"] for record in report["frames"]] == [0, 1, 2]
    assert report["bag_read_errors"][0].startswith(f"the bag cannot be read past message 3 on '{TOPIC}'")


def test_without_a_node_eval_says_how_to_start_one(
    tmp_path: Path, domain: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bag = sample_bag(tmp_path / "bag", frames=1, fps=1.0)
    status, _ = eval_node(bag, tmp_path / "out", "/nobody_here", "--wait-for-node", "0.5")
    assert status == 1
    error = capsys.readouterr().err
    assert "no node subscribes to /nobody_here/image" in error and "python -m disk_trt_ros.node" in error
    assert not (tmp_path / "out" / "keypoints_bag").exists()


def test_the_demo_runs_the_node_over_a_sample_bag_and_reports(
    tmp_path: Path, domain: None, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="the demo exports its model with PyTorch, which is not installed")
    pytest.importorskip("onnxruntime", reason="the demo's node runs onnxruntime, which is not installed")
    assert demo.main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "evaluating OFFLINE" not in printed
    assert f"report: {tmp_path / 'report' / 'report.md'}" in printed
    assert "the node published" in printed and "disk_trt_ros/msg/Keypoints" in printed
    assert "a frame in ONNX Runtime here: replaying at" in printed
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["mode"] == "node" and report["node"]["published"] == demo.FRAMES
    assert report["node"]["delivered"] >= 1
    assert report["model"]["weights"] == demo.DEMO_WEIGHTS
    matching = report["summary"]["matching"]  # mutual nearest neighbours on each pair the node delivered
    assert matching["pairs"] == matching["ground_truth_pairs"] == report["node"]["delivered"] - 1
    plots = report["plots"]
    drawn = {name.removeprefix("matcher_") for name in plots if name.startswith("matcher_")}
    assert drawn == {name.removeprefix("matches_") for name in plots if name.startswith("matches_")}
    assert all((tmp_path / "report" / f"matcher_{name}").is_file() for name in drawn)
    assert "## Matching" in (tmp_path / "report" / "report.md").read_text()


def test_the_demo_says_why_frames_were_dropped() -> None:
    answered = {"published": 20, "delivered": 20, "unanswered": 0, "lost_in_transport": 0, "dropped": 0}
    assert demo.explain_drops({"node": answered}) is None
    explanation = demo.explain_drops({"node": answered | {"delivered": 14, "unanswered": 6, "lost_in_transport": 2,
                                                          "dropped": 4}})
    assert explanation is not None and explanation.startswith("6 of 20 frames got no keypoints")
    assert "2 lost in transport" in explanation and "4 dropped by the node" in explanation and "busy" in explanation
    unknown = demo.explain_drops({"node": answered | {"delivered": 14, "unanswered": 6, "lost_in_transport": None,
                                                      "dropped": None}})
    assert unknown is not None and unknown.startswith("6 of 20") and "unknown" in unknown
