# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""What an evaluation is asked to do, as typed options: the ``eval`` command's arguments are parsed into
:class:`EvalOptions`, and :func:`disk_trt_ros.evaluation.run.evaluate` takes nothing else.

Invalid combinations are refused when the options are made (:class:`~disk_trt_ros.errors.OptionsError`, naming the
``eval`` option at fault).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from disk_trt_ros.contract import BackendName, MatcherMethod, Precision
from disk_trt_ros.errors import OptionsError
from disk_trt_ros.evaluation.bag_io import BagFormat
from disk_trt_ros.evaluation.metrics import Geometry
from disk_trt_ros.image_conversion import DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_LIMIT
from disk_trt_ros.inference.base import MnnSettings


@dataclasses.dataclass(frozen=True)
class EvaluationSettings:
    """Knobs of the metrics (see docs/evaluation.md for what each means).

    Attributes:
        geometry: two-view model fitted by RANSAC.
        ratio: Lowe's ratio test threshold on descriptor distances (1 disables it).
        ransac_threshold_px: RANSAC inlier threshold.
        repeatability_threshold_px: distance within which a keypoint counts as re-detected.
        agreement_tolerance_px: distance within which two backends' keypoints count as the same.
        drawn_pairs: number of frame pairs drawn with their keypoints and inlier matches.
    """

    geometry: Geometry = Geometry.HOMOGRAPHY
    ratio: float = 0.9
    ransac_threshold_px: float = 3.0
    repeatability_threshold_px: float = 3.0
    agreement_tolerance_px: float = 1.0
    drawn_pairs: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.ratio <= 1:
            raise OptionsError(f"--ratio must be in (0, 1], got {self.ratio}")
        if not 0 < self.ransac_threshold_px < math.inf:
            raise OptionsError(
                f"--ransac-threshold must be a positive number of pixels, got {self.ransac_threshold_px}"
            )


@dataclasses.dataclass(frozen=True)
class ReplayOptions:
    """How to replay a bag into a running node (``eval --node``).

    Attributes:
        image_topic: the node's image topic (``/compressed`` is appended for a CompressedImage topic).
        keypoints_topic: the node's keypoints topic.
        rate: playback rate as a multiple of the bag's; ignored with ``as_fast_as_possible``.
        as_fast_as_possible: publish frames back to back.
        wait_for_node_s: how long to wait for the node to answer a first test frame.
        settle_s: after the last frame, how long to wait without any arrival before counting the rest as dropped.
        record_format: storage of the bag the node's keypoints are recorded into.
    """

    image_topic: str = "image"
    keypoints_topic: str = "keypoints"
    rate: float = 1.0
    as_fast_as_possible: bool = False
    wait_for_node_s: float = 10.0
    settle_s: float = 5.0
    record_format: BagFormat = BagFormat.MCAP

    def __post_init__(self) -> None:
        if not 0 < self.rate < math.inf:
            raise OptionsError(f"--rate must be a positive number, got {self.rate}")


@dataclasses.dataclass(frozen=True)
class MatchingOptions:
    """The matcher run on each pair of consecutive frames (``eval --matcher``), as the matcher node runs it.

    Attributes:
        method: mutual nearest neighbours or LightGlue.
        backend: where it runs (:func:`~disk_trt_ros.inference.registry.resolve_matcher`).
        model: LightGlue's exported matcher (``export-matcher``); mutual nearest neighbours take none.
        mnn: the ratio test and distance threshold of mutual nearest neighbours.
    """

    method: MatcherMethod
    backend: BackendName = BackendName.AUTO
    model: str | None = None
    mnn: MnnSettings = MnnSettings()

    def __post_init__(self) -> None:
        if self.method is MatcherMethod.LIGHTGLUE and not self.model:
            raise OptionsError(
                "--matcher lightglue needs --matcher-model, a matcher exported with 'python -m disk_trt_ros "
                "export-matcher --extractor MODEL.onnx --output lightglue.onnx'"
            )


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """One evaluation: an image topic of a bag, the extractor to run on it, where the report goes.

    Attributes:
        bag: rosbag2 directory (sqlite3 or mcap) or ROS 1 ``.bag``.
        topic: ``sensor_msgs/Image`` or ``CompressedImage`` topic to evaluate.
        model: exported ONNX model (or TensorRT engine); with ``replay`` only stated in the report.
        backend, precision, threads: the backend run in this process (offline).
        reference: a second backend compared with on every frame (offline only), ``reference_model`` its model
            (default: ``model``), ``reference_precision`` its precision.
        max_frames: evaluate at most this many frames.
        out: report directory (default: ``eval_<bag name>`` in the working directory).
        ground_truth_topic: homography topic (default: ``TOPIC/ground_truth_homography``).
        max_image_pixels: frames over this many pixels (width x height) are rejected before decoding, as the node
            rejects them (its parameter of the same name).
        settings: the metrics' settings.
        replay: replay into a running node with these options; None evaluates offline, in this process.
        matching: a matcher to run on each pair of consecutive frames (the report's matching section), or None.
    """

    bag: Path
    topic: str
    model: str | None = None
    backend: BackendName = BackendName.AUTO
    precision: Precision = Precision.FP32
    threads: int | None = None
    reference: BackendName | None = None
    reference_model: str | None = None
    reference_precision: Precision = Precision.FP32
    max_frames: int | None = None
    out: Path | None = None
    ground_truth_topic: str | None = None
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    settings: EvaluationSettings = EvaluationSettings()
    replay: ReplayOptions | None = None
    matching: MatchingOptions | None = None

    def __post_init__(self) -> None:
        if self.replay is None and not self.model:
            raise OptionsError("--model is required (an exported ONNX model or an engine), unless --node is given")
        if self.replay is not None and self.reference:
            raise OptionsError("--reference compares two backends in this process; it cannot be used with --node")
        if self.reference_model and not self.reference:
            raise OptionsError("--reference-model needs --reference BACKEND")
        if self.max_frames is not None and self.max_frames < 1:
            raise OptionsError(f"--max-frames must be at least 1, got {self.max_frames}")
        if self.threads is not None and self.threads < 1:
            raise OptionsError(f"--threads must be at least 1, got {self.threads}")
        if not 1 <= self.max_image_pixels <= MAX_IMAGE_PIXELS_LIMIT:
            raise OptionsError(
                f"--max-image-pixels must be from 1 to {MAX_IMAGE_PIXELS_LIMIT}, got {self.max_image_pixels}"
            )

    @property
    def output_directory(self) -> Path:
        """The report directory: ``out``, else ``eval_<bag name>`` in the working directory."""
        return self.out or Path(f"eval_{self.bag.resolve().name}")
