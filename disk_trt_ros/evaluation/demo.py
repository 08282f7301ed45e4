# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``make demo``: a sample bag from scikit-image's photographs, the node on the CPU over it, and the report.

Steps: write a 240x320 sample bag (20 frames at 3 fps) with ground truth; export a random-weight model
(240x320, K=512) unless ``--model`` is given; time the model in ONNX Runtime here, to replay no faster than the node
keeps up with on this machine; start ``disk_node`` (ONNX Runtime) in a subprocess; replay the bag into it over DDS
(``eval --node``), matching each pair of consecutive frames with mutual nearest neighbours as the matcher node does
(``eval --matcher mnn``); write the report (with the matches drawn between frames, ``matcher_*.png``) and print where
it is, what the node published and why frames were dropped, if any were. Where the node cannot run (no rclpy or no
built interface), the extractor runs offline instead, and the demo says so.

Run as ``python -m disk_trt_ros.evaluation.demo [--model M] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from disk_trt_ros import __version__
from disk_trt_ros.contract import BackendName, InputFormat, MatcherMethod, ModelInfo, TrtCompat
from disk_trt_ros.errors import DiskTrtRosError
from disk_trt_ros.evaluation.bag_io import BagFormat, ImageBag
from disk_trt_ros.evaluation.options import EvalOptions, MatchingOptions, ReplayOptions
from disk_trt_ros.evaluation.run import evaluate_to_directory
from disk_trt_ros.evaluation.sample_bag import DEFAULT_TOPIC, write_sample_bag
from disk_trt_ros.inference.bench import measure
from disk_trt_ros.inference.registry import create_backend
from disk_trt_ros.photos import load_photos

HEIGHT, WIDTH, MAX_KEYPOINTS = 240, 320, 512
FRAMES, FPS = 20, 3.0
DEMO_WEIGHTS = "random:0"
NAMESPACE = "/disk_demo"
NODE_STOP_TIMEOUT_S = 5.0
TIMED_RUNS = 3  # after one warm-up run
HEADROOM = 1.5  # replay one frame per HEADROOM x the measured inference time at most


def export_demo_model(path: Path) -> Path:
    """Export a random-weight model for the demo (its keypoints mean nothing; it shows the pipeline running)."""
    from disk_trt_ros.export.onnx_export import export_onnx
    from disk_trt_ros.export.weights import load_disk

    disk, sha256 = load_disk(DEMO_WEIGHTS)
    compat = TrtCompat.TRT_8_2
    info = ModelInfo(
        height=HEIGHT, width=WIDTH, max_keypoints=MAX_KEYPOINTS, input_format=InputFormat.RGB,
        input_dtype=compat.input_dtype, nms_window=5, score_threshold=0.0, trt_compat=compat, weights=DEMO_WEIGHTS,
        weights_sha256=sha256, package_version=__version__,
    )
    export_onnx(disk, info, path)
    return path


def replay_rate(model: Path) -> tuple[float, float]:
    """The replay rate, as a multiple of the bag's, at which the node keeps up here, and the latency it rests on.

    The model runs in ONNX Runtime in this process with the node's settings (the library's threads), once to warm
    up and then :data:`TIMED_RUNS` times; the replay gives the node :data:`HEADROOM` times the median of those,
    and never runs faster than the bag (rate 1). On a busy machine the node is slower than on an idle one, and a
    replay at the bag's rate would have it drop most frames while it is busy.
    """
    backend = create_backend(BackendName.ONNXRUNTIME, model, precision="fp32")
    try:
        image = np.random.default_rng(0).integers(0, 256, backend.info.input_shape[1:], dtype=np.uint8)
        latency_s = measure(backend.run, [image], iterations=TIMED_RUNS, warmup=1).median_ms / 1e3
    finally:
        backend.close()
    return min(1.0, float(f"{1.0 / (FPS * HEADROOM * latency_s):.2g}")), latency_s


def explain_drops(report: dict[str, Any]) -> str | None:
    """One line on frames the node did not answer, and why they may have gone; None when every frame came back."""
    node = report["node"]
    if not node["dropped"]:
        return None
    return (
        f"{node['dropped']} of {node['published']} frames got no keypoints: the node drops a waiting frame when a "
        "newer one arrives while it is still busy with an earlier one (machine busier than when it was timed), and "
        "DDS may lose frames in transport; the node's /diagnostics counts each (dropped, lost)"
    )


def node_available() -> str | None:
    """None when the node can run here, else the reason it cannot."""
    for module, what in (("rclpy", "rclpy"), ("disk_trt_ros.msg", "the built Keypoints interface")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            return f"{what} is not importable (run 'make setup' and 'source install/setup.sh')"
    if importlib.util.find_spec("disk_trt_ros.node.disk_node") is None:
        return "disk_trt_ros.node.disk_node is missing"
    return None


def start_node(model: Path) -> subprocess.Popen[bytes]:
    """``disk_node`` in its own process, on the CPU (ONNX Runtime), in the demo's namespace."""
    command = [
        sys.executable, "-m", "disk_trt_ros.node", "--ros-args", "-r", f"__ns:={NAMESPACE}",
        "-p", f"model:={model}", "-p", "backend:=onnxruntime", "-p", "precision:=fp32",
    ]
    return subprocess.Popen(command)


def stop_node(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (as Ctrl-C), then SIGKILL if the node has not ended in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(NODE_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def eval_options(bag: Path, model: Path, out: Path, node: bool, rate: float = 1.0) -> EvalOptions:
    """The evaluation of the demo: through the node in the demo's namespace at ``rate`` times the bag's, or offline
    with ONNX Runtime; mutual nearest neighbours match each pair of frames."""
    replay = ReplayOptions(
        image_topic=f"{NAMESPACE}/image", keypoints_topic=f"{NAMESPACE}/keypoints", rate=rate, wait_for_node_s=60.0
    )
    return EvalOptions(
        bag=bag, topic=DEFAULT_TOPIC, model=str(model), out=out,
        backend=BackendName.AUTO if node else BackendName.ONNXRUNTIME, replay=replay if node else None,
        matching=MatchingOptions(MatcherMethod.MNN),
    )


def describe_published(recorded: Path) -> str:
    """A few lines on the Keypoints messages the node published (read back from the recorded bag)."""
    from rosbags.highlevel import AnyReader

    with AnyReader([recorded]) as reader:
        connections = [c for c in reader.connections if c.msgtype.endswith("/Keypoints")]
        messages = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages(connections=connections)]
    if not messages:
        return f"the node published no Keypoints (recorded bag: {recorded})"
    first = messages[0]
    counts = [int(message.count) for message in messages]
    return "\n".join([
        f"the node published {len(messages)} disk_trt_ros/msg/Keypoints on {connections[0].topic} "
        f"(recorded in {recorded}):",
        f"  {min(counts)}..{max(counts)} keypoints per message in {first.image_width}x{first.image_height} images, "
        f"descriptor_dim {first.descriptor_dim}",
        f"  first message: keypoint 0 at ({first.keypoints[0]:.0f}, {first.keypoints[1]:.0f}) with score "
        f"{first.scores[0]:.3f}, frame_id '{first.header.frame_id}'",
    ])


def run(model: Path | None, out: Path) -> None:
    """The demo's steps (see the module docstring), writing everything into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    bag = out / "sample_bag"
    write_sample_bag(
        bag, load_photos(None), frames=FRAMES, fps=FPS, width=WIDTH, height=HEIGHT, bag_format=BagFormat.SQLITE3,
        overwrite=True,
    )
    with ImageBag(bag, DEFAULT_TOPIC) as written:
        print(f"sample bag: {bag} ({written.frame_count} frames {WIDTH}x{HEIGHT} of scikit-image photographs, "
              f"{FPS:g} fps, ground-truth homographies)")
    if model is None:
        model = export_demo_model(out / f"disk_{DEMO_WEIGHTS.replace(':', '')}_{HEIGHT}x{WIDTH}_k{MAX_KEYPOINTS}.onnx")
        print(f"model: {model} (random weights {DEMO_WEIGHTS}: the keypoints mean nothing; the demo shows the "
              "pipeline running)")
    report_dir = out / "report"
    unavailable = node_available()
    if unavailable is not None:
        print(f"NOTE: the node cannot run here ({unavailable}); evaluating OFFLINE instead, no DDS involved")
        evaluate_to_directory(eval_options(bag, model, report_dir, node=False))
        return
    rate, latency_s = replay_rate(model)
    print(f"the model takes {latency_s * 1000:.0f} ms a frame in ONNX Runtime here: replaying at {rate:.2g}x the "
          f"bag's {FPS:g} fps ({FPS * rate:.2g} frames a second), which the node keeps up with")
    print("starting disk_node (ONNX Runtime on the CPU) and replaying the bag into it over DDS")
    node = start_node(model)
    try:
        written = evaluate_to_directory(eval_options(bag, model, report_dir, node=True, rate=rate))
    finally:
        stop_node(node)
    print(describe_published(report_dir / "keypoints_bag"))
    drops = explain_drops(json.loads(written[0].read_text()))
    if drops:
        print(drops)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m disk_trt_ros.evaluation.demo``: returns 0, or 1 after an expected failure (said on stderr)."""
    parser = argparse.ArgumentParser(prog="python -m disk_trt_ros.evaluation.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="exported ONNX model (default: export a random-weight one)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="working directory (default out/demo)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    status = 0
    try:
        run(args.model, args.out)
    except DiskTrtRosError as error:
        print(f"demo: error: {error}", file=sys.stderr)
        status = 1
    print(f"demo finished in {time.monotonic() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
