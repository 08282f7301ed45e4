# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Per-frame and pairwise metrics over a sequence of frames, as they arrive (offline or from the node).

Each frame is paired with the previous frame that reached the evaluator (in node mode, dropped frames leave gaps:
a VO/SLAM consumer would match across them too). Only the previous frame is kept in memory, plus the few pairs
chosen for drawing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from disk_trt_ros.contract import InputFormat
from disk_trt_ros.evaluation import metrics
from disk_trt_ros.evaluation.bag_io import BagFrame, homography_between
from disk_trt_ros.evaluation.matching import MatcherPair, match_frames, matching_summary
from disk_trt_ros.evaluation.options import EvaluationSettings
from disk_trt_ros.image_conversion import ImageConverter, ModelInput
from disk_trt_ros.inference import comparison
from disk_trt_ros.inference.base import Features, Matcher


@dataclasses.dataclass(frozen=True)
class FrameResult:
    """What the extractor produced for one frame.

    Attributes:
        frame: the bag frame.
        features: keypoints in the source image's frame, scores, descriptors.
        source_size: (width, height) of the source image.
        timings_ms: named latencies of this frame (e.g. ``inference``, ``total`` or ``end_to_end``).
        reference: a reference backend's features of the same frame (source frame), or None.
    """

    frame: BagFrame
    features: Features
    source_size: tuple[int, int]
    timings_ms: dict[str, float]
    reference: Features | None = None


@dataclasses.dataclass(frozen=True)
class DrawnPair:
    """A pair of frames kept for drawing: source images as RGB uint8, keypoints, inlier matches, and the matcher's
    matches when one ran (``eval --matcher``)."""

    index_a: int
    index_b: int
    image_a: np.ndarray
    image_b: np.ndarray
    keypoints_a: np.ndarray
    keypoints_b: np.ndarray
    inlier_matches: np.ndarray
    matcher: MatcherPair | None = None


def convert(converter: ImageConverter, message: Any, compressed: bool) -> ModelInput:
    """Convert an Image (or, with ``compressed``, a CompressedImage) message as the node does."""
    return converter.from_compressed(message) if compressed else converter.from_image(message)


def source_rgb(message: Any, compressed: bool, source_size: tuple[int, int], max_image_pixels: int) -> np.ndarray:
    """The image of a message as RGB uint8 at its own size ``(width, height)``, for drawing."""
    converter = ImageConverter(source_size[1], source_size[0], InputFormat.RGB, max_image_pixels)
    return convert(converter, message, compressed).image


class SequenceEvaluator:
    """Accumulates per-frame records; see :meth:`add` and :meth:`summary`.

    Args:
        settings: metric settings.
        expected_frames: frames that will be offered, to spread the drawn pairs over the sequence.
        max_image_pixels: the limit the frames were converted under (they are converted again to be drawn).
        matcher: a matcher run on each pair too (:mod:`disk_trt_ros.evaluation.matching`), or None.
    """

    def __init__(
        self, settings: EvaluationSettings, expected_frames: int, max_image_pixels: int, matcher: Matcher | None = None
    ) -> None:
        self.settings = settings
        self.max_image_pixels = max_image_pixels
        self.matcher = matcher
        self.records: list[dict[str, Any]] = []
        self.drawn_pairs: list[DrawnPair] = []
        self._tracks = metrics.TrackBook()
        self._previous: FrameResult | None = None
        count = min(settings.drawn_pairs, max(expected_frames - 1, 0))
        self._draw_at = {int(round(i)) for i in np.linspace(1, expected_frames - 1, count)} if count else set()

    def add(self, result: FrameResult) -> dict[str, Any]:
        """Evaluate one frame against the previous one; returns (and keeps) the frame's record."""
        features = result.features
        record: dict[str, Any] = {
            "index": result.frame.index,
            "stamp_ns": result.frame.stamp_ns,
            "keypoints": features.count,
            **{f"{name}_ms": value for name, value in result.timings_ms.items()},
        }
        previous = self._previous
        if previous is None:
            self._tracks.add_frame(features.count, None)
        else:
            pair = metrics.match_pair(
                previous.features.keypoints, previous.features.descriptors, features.keypoints, features.descriptors,
                self.settings.geometry, self.settings.ratio, self.settings.ransac_threshold_px,
            )
            self._tracks.add_frame(features.count, pair.inlier_matches)
            record.update(
                previous_index=previous.frame.index,
                matches=len(pair.matches),
                inliers=pair.inlier_count,
                inlier_ratio=pair.inlier_ratio,
            )
            homography = homography_between(previous.frame, result.frame)
            if homography is not None:
                record.update(self._ground_truth_metrics(previous, result, pair, homography))
            matched = None
            if self.matcher is not None:
                matched = match_frames(
                    self.matcher, previous.features, previous.source_size, features, result.source_size,
                    self.settings, homography,
                )
                record.update(matched.record)
            if self._draw_at and result.frame.index >= min(self._draw_at):
                self._keep_for_drawing(previous, result, pair, matched)
        if result.reference is not None:
            agreement = comparison.agreement(
                features.keypoints, features.scores, features.descriptors,
                result.reference.keypoints, result.reference.scores, result.reference.descriptors,
                self.settings.agreement_tolerance_px,
            )
            record.update({f"agreement_{key}": value for key, value in dataclasses.asdict(agreement).items()})
        self.records.append(record)
        self._previous = result
        return record

    def _ground_truth_metrics(
        self, previous: FrameResult, current: FrameResult, pair: metrics.PairMatches, homography: np.ndarray
    ) -> dict[str, Any]:
        """Repeatability, matching accuracy and corner error of the pair under its true homography."""
        a, b = previous.features, current.features
        values: dict[str, Any] = {
            "repeatability": metrics.repeatability(
                a.keypoints, b.keypoints, homography, previous.source_size, current.source_size,
                self.settings.repeatability_threshold_px,
            )
        }
        accuracy = metrics.matching_accuracy(
            a.keypoints[pair.matches[:, 0]], b.keypoints[pair.matches[:, 1]], homography, metrics.MMA_THRESHOLDS_PX
        )
        for threshold in metrics.MMA_THRESHOLDS_PX:
            values[f"mma_{threshold:g}px"] = None if accuracy is None else accuracy[threshold]
        if self.settings.geometry is metrics.Geometry.HOMOGRAPHY:
            estimated = pair.model
        else:  # the corner error needs a homography: fit one to the same matches
            estimated, _ = metrics.fit_geometry(
                a.keypoints[pair.matches[:, 0]], b.keypoints[pair.matches[:, 1]], metrics.Geometry.HOMOGRAPHY,
                self.settings.ransac_threshold_px,
            )
        values["corner_error_px"] = (
            None if estimated is None else metrics.corner_error(estimated, homography, previous.source_size)
        )
        return values

    def _keep_for_drawing(
        self, previous: FrameResult, current: FrameResult, pair: metrics.PairMatches, matched: MatcherPair | None
    ) -> None:
        self._draw_at = {index for index in self._draw_at if index > current.frame.index}
        self.drawn_pairs.append(
            DrawnPair(
                index_a=previous.frame.index,
                index_b=current.frame.index,
                image_a=self._source_rgb(previous),
                image_b=self._source_rgb(current),
                keypoints_a=previous.features.keypoints,
                keypoints_b=current.features.keypoints,
                inlier_matches=pair.inlier_matches,
                matcher=matched,
            )
        )

    def _source_rgb(self, result: FrameResult) -> np.ndarray:
        return source_rgb(result.frame.message, result.frame.compressed, result.source_size, self.max_image_pixels)

    def summary(self) -> dict[str, Any]:
        """Statistics over all frames: latencies, keypoints, matching, tracks, ground truth, agreement, and the
        matcher's section (``matching``) when one ran.

        Every value is a number, None (not measured) or a dict of them (see :func:`metrics.summary`); the matching
        section also names the matcher.
        """
        column = self._column
        result: dict[str, Any] = {"frames": len(self.records)}
        for key in sorted({key for record in self.records for key in record if key.endswith("_ms")}):
            result[f"latency_{key}"] = metrics.summary(column(key))
        result["keypoints"] = metrics.summary(column("keypoints"))
        result["matches"] = metrics.summary(column("matches"))
        result["inliers"] = metrics.summary(column("inliers"))
        result["inlier_ratio"] = metrics.summary(column("inlier_ratio"))
        lengths = self._tracks.lengths()
        result["tracks"] = int(len(lengths))
        result["track_length"] = metrics.summary(lengths.tolist())
        ground_truth_pairs = sum(1 for record in self.records if "repeatability" in record)
        result["ground_truth_pairs"] = ground_truth_pairs
        if ground_truth_pairs:
            result["repeatability"] = metrics.summary(column("repeatability"))
            for threshold in metrics.MMA_THRESHOLDS_PX:
                result[f"mma_{threshold:g}px"] = metrics.summary(column(f"mma_{threshold:g}px"))["mean"]
            errors = column("corner_error_px")
            result["corner_error_px"] = metrics.summary(errors)
            for threshold in metrics.MMA_THRESHOLDS_PX:  # pairs whose homography failed count as misses
                hits = sum(1 for error in errors if error is not None and error <= threshold)
                result[f"homography_accuracy_{threshold:g}px"] = hits / ground_truth_pairs
        if any("agreement_overlap" in record for record in self.records):
            result["agreement_overlap"] = metrics.summary(column("agreement_overlap"))
            result["agreement_descriptor_cosine_mean"] = metrics.summary(column("agreement_descriptor_cosine_mean"))
            cosine_min, score_diff = column("agreement_descriptor_cosine_min"), column("agreement_score_max_abs_diff")
            result["agreement_descriptor_cosine_min"] = metrics.summary(cosine_min)["min"]
            result["agreement_score_max_abs_diff"] = metrics.summary(score_diff)["max"]
        if self.matcher is not None:
            result["matching"] = matching_summary(self.records, self.matcher.describe())
        return result

    def _column(self, key: str) -> list[Any]:
        return [record.get(key) for record in self.records]
