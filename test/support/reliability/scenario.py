# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Running a scenario: node processes, frames at a rate, resources sampled, a SIGINT at the end."""

from __future__ import annotations

import dataclasses
import os
import platform
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import rclpy

from disk_trt_ros.contract import ModelInfo, read_onnx_model_info
from support.reliability.camera import Camera
from support.reliability.frames import ScenarioFrames, source_picture
from support.reliability.node_process import NodeProcess, ResourceSample
from support.reliability.results import CameraResult, ScenarioResult
from support.ros import NodeSpinner
from support.waiting import wait_until

SAMPLE_INTERVAL_S = 0.5
WARM_UP_FRACTION = 0.2  # resources are compared from the moment this share of the frames was sent
SETTLE_TIMEOUT_S = 20.0


def standalone_inference_ms(model: str | os.PathLike[str], runs: int = 10) -> float:
    """Median time of one inference with the node's backend settings (ONNX Runtime, one thread), in this process."""
    from disk_trt_ros.inference.registry import create_backend

    backend = create_backend("onnxruntime", model, threads=1)
    image = np.zeros(backend.info.input_shape[1:], np.uint8)
    image[...] = np.random.default_rng(0).integers(0, 256, image.shape, dtype=np.uint8)
    backend.run(image)
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        backend.run(image)
        times.append(time.perf_counter() - begin)
    backend.close()
    return float(np.median(times)) * 1e3


def run_scenario(
    name: str,
    model: str | os.PathLike[str],
    context: Any,
    *,
    cameras: Sequence[str] = ("camera",),
    rate_hz: float,
    frames: int,
    bad_every: int = 0,
    every_frame_reaches_the_node: bool = True,
    log: Callable[[str], None] = print,
) -> ScenarioResult:
    """Start one node per camera (namespace ``/<scenario>_<camera>_<random>``, topics remapped to ``camera/image_raw``
    and ``camera/keypoints``), send ``frames`` frames to each at ``rate_hz`` (every ``bad_every``-th one a bad message;
    after a stall of this process, on at the rate, never in a burst), wait until the nodes have accounted for them,
    stop the nodes with SIGINT and return the figures.

    ``every_frame_reaches_the_node``: count a frame lost before the node's callback as a failure (at rates the
    executor thread keeps up with); otherwise such losses are only reported.
    """
    info = read_onnx_model_info(str(model))
    inference_ms = standalone_inference_ms(model)
    picture = source_picture(info)
    domain_id = context.get_domain_id()
    probe = rclpy.create_node(f"reliability_{name}", context=context)
    spinner = NodeSpinner(probe, context)
    nodes: dict[str, NodeProcess] = {}
    try:
        for camera in cameras:
            namespace = f"/{name}_{camera}_{uuid.uuid4().hex[:6]}"  # apart from any other run in this domain
            nodes[camera] = NodeProcess(model, namespace, domain_id,
                                        remaps={"image": "camera/image_raw", "keypoints": "camera/keypoints"})
        sides = [
            Camera(probe, camera, f"{node.namespace}/camera/image_raw", f"{node.namespace}/camera/keypoints",
                   f"{node.namespace}/disk_node", info.max_keypoints)
            for camera, node in nodes.items()
        ]
        source = [ScenarioFrames(picture, bad_every) for _ in sides]  # one set of messages per publishing camera
        for side, node in zip(sides, nodes.values()):
            node.wait_for_line("ready:", timeout=120.0)
            if not wait_until(lambda side=side: side.publisher.get_subscription_count() > 0, 20.0):
                raise AssertionError(f"{node.namespace} never subscribed to its image topic:\n{node.output}")
            # Keypoints published before discovery matches this side's subscription would be lost (volatile QoS).
            if not wait_until(lambda side=side: side.keypoints_subscription.get_publisher_count() > 0, 20.0):
                raise AssertionError(f"{node.namespace}'s keypoints never reached this side:\n{node.output}")
            # Discovery matches the two ends one at a time: until the node's subscription has matched this side's
            # publisher, frames sent are dropped as sent before it joined, and no sequence gap reveals them.
            if not wait_until(side.node_receives, 20.0):
                raise AssertionError(f"{node.namespace}'s image subscription never matched this side:\n{node.output}")
        log(f"{name}: {len(sides)} node(s) ready; {frames} frames per camera at {rate_hz:g} Hz "
            f"(inference alone {inference_ms:.1f} ms)")

        samples: dict[str, list[ResourceSample]] = {camera: [] for camera in nodes}
        sent = [0]
        sampling = threading.Event()

        def sample_resources() -> None:
            while not sampling.wait(SAMPLE_INTERVAL_S):
                for camera, node in nodes.items():
                    samples[camera].append(node.sample(sent[0]))

        sampler = threading.Thread(target=sample_resources, daemon=True)
        sampler.start()
        started = next_send = time.monotonic()
        period = 1.0 / rate_hz
        for index in range(frames):
            delay = next_send - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            # After a stall of this process the frames go on at the rate, as a camera's do, not in a burst that makes
            # up for the stall: a burst of more frames than the node's image queue holds (5) would overwrite them in
            # the queue before the node's executor could take them, and the frames would be lost before the node.
            now = time.monotonic()
            next_send = (now if now - next_send > period else next_send) + period
            for side, frames_of_side in zip(sides, source):
                side.send(index, *frames_of_side.frame(index))
            sent[0] = index + 1
            if index and index % max(1, frames // 10) == 0:
                log(f"{name}: sent {index} frames per camera in {time.monotonic() - started:.0f} s")
        streamed_s = time.monotonic() - started
        wait_until(lambda: all(side.settled() for side in sides), SETTLE_TIMEOUT_S)
        time.sleep(2 * SAMPLE_INTERVAL_S)  # an idle sample after the last frame
        sampling.set()
        sampler.join()

        results = [CameraResult.of(side) for side in sides]
        resources = {camera: resource_figures(samples[camera], frames) for camera in nodes}
        shutdown = {}
        for camera, node in nodes.items():
            returncode, seconds = node.stop(signal.SIGINT)
            shutdown[camera] = {"returncode": returncode, "seconds": seconds}
            if returncode != 0:
                log(f"{name}: {node.namespace} output:\n{node.output}")
        return ScenarioResult(name=name, rate_hz=rate_hz, frames_per_camera=frames, seconds=streamed_s,
                              inference_ms=inference_ms, every_frame_reaches_the_node=every_frame_reaches_the_node,
                              cameras=results, resources=resources, shutdown=shutdown)
    finally:
        for node in nodes.values():
            node.kill()
        spinner.close(timeout=1.0)


def resource_figures(samples: list[ResourceSample], frames: int) -> dict[str, Any]:
    """The sample at warm-up (the first once WARM_UP_FRACTION of the frames were sent), the last one, the peak."""
    warm_up_frames = int(WARM_UP_FRACTION * frames)
    warm = next((s for s in samples if s.frames_sent >= warm_up_frames), samples[0])
    end = samples[-1]
    return {
        "warm_up_frames": warm_up_frames,
        "warm": dataclasses.asdict(warm),
        "end": dataclasses.asdict(end),
        "peak_rss_kib": max(s.rss_kib for s in samples),
        "rss_growth": end.rss_kib / warm.rss_kib - 1,
        "samples": len(samples),
    }


def export_default_model(directory: Path) -> Path:
    from disk_trt_ros import __version__
    from disk_trt_ros.contract import InputFormat, TrtCompat
    from disk_trt_ros.export.onnx_export import export_onnx
    from disk_trt_ros.export.weights import random_disk

    disk, sha256 = random_disk(0)
    info = ModelInfo(height=64, width=96, max_keypoints=64, input_format=InputFormat.RGB, input_dtype="float32",
                     nms_window=5, score_threshold=0.0, trt_compat=TrtCompat.TRT_8_2, weights="random:0",
                     weights_sha256=sha256, package_version=__version__)
    path = directory / "disk_64x96_random.onnx"
    export_onnx(disk, info, path)
    return path


def machine() -> dict[str, Any]:
    import onnxruntime

    return {
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "load_average_at_start": os.getloadavg(),
    }
