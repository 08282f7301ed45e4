# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``eval`` offline: the extractor runs in this process on every frame of the bag.

Frames are decoded and converted exactly as the node does it (:mod:`disk_trt_ros.image_conversion`); an optional
reference backend runs on the same frames, for the agreement metrics.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np
from tqdm import tqdm

from disk_trt_ros.errors import ImageConversionError, InvalidOutputError
from disk_trt_ros.evaluation.bag_io import ImageBag
from disk_trt_ros.evaluation.options import EvalOptions
from disk_trt_ros.evaluation.report import base_report, model_block
from disk_trt_ros.evaluation.sequence import DrawnPair, FrameResult, SequenceEvaluator, convert
from disk_trt_ros.evaluation.skipped_frames import SkippedFrames
from disk_trt_ros.image_conversion import ImageConverter, ModelInput
from disk_trt_ros.inference.base import Backend, Features, Matcher
from disk_trt_ros.inference.registry import create_backend


def evaluate_offline(
    options: EvalOptions, matcher: Matcher | None = None
) -> tuple[dict[str, Any], list[DrawnPair]]:
    """Run the backend (and the reference) on every frame, and ``matcher`` on every pair; returns the report
    dictionary and the drawn pairs.

    Frames that cannot be used are skipped and said so in the report: a message that does not deserialize or
    convert (rejected), model outputs that break the contract, a bag whose storage fails part way (reading stops
    there).
    """
    assert options.model is not None, "EvalOptions refuses offline options without a model"
    reference_model = options.reference_model or options.model
    with contextlib.ExitStack() as resources:
        backend = resources.enter_context(contextlib.closing(
            create_backend(options.backend, options.model, precision=options.precision, threads=options.threads)
        ))
        reference = None
        if options.reference:
            reference = resources.enter_context(contextlib.closing(create_backend(
                options.reference, reference_model, precision=options.reference_precision, threads=options.threads,
            )))
        bag = resources.enter_context(ImageBag(options.bag, options.topic, options.ground_truth_topic))
        report = base_report(options, bag, "offline")
        report["model"] = model_block(backend.info, options.model, backend.describe())
        if reference is not None:
            report["reference"] = model_block(reference.info, reference_model, reference.describe())
        total = bag.frame_count if options.max_frames is None else min(options.max_frames, bag.frame_count)
        evaluator = SequenceEvaluator(options.settings, total, options.max_image_pixels, matcher)
        skipped = SkippedFrames()
        report["throughput_fps"] = run_frames(bag, total, backend, reference, evaluator, options, skipped)
    report.update(skipped.report_fields())
    report["summary"] = evaluator.summary()
    report["frames"] = evaluator.records
    report["notes"] = [
        "Latencies are measured in this process around the backend's run() (inference) and around message "
        "conversion plus inference (total), after one warm-up run; throughput is frames over the sum of totals."
    ] + skipped.notes()
    return report, evaluator.drawn_pairs


def run_frames(
    bag: ImageBag,
    total: int,
    backend: Backend,
    reference: Backend | None,
    evaluator: SequenceEvaluator,
    options: EvalOptions,
    skipped: SkippedFrames,
) -> float | None:
    """Convert, run and evaluate each frame with a progress bar, noting in ``skipped`` what could not be used;
    returns the throughput (frames per second of conversion and inference).

    Each backend runs once on a blank image first, so that the first frame's latency is not its warm-up.
    """
    converters = {
        model: ImageConverter(model.info.height, model.info.width, model.info.input_format, options.max_image_pixels)
        for model in ([backend] if reference is None else [backend, reference])
    }
    for model in converters:
        model.run(np.zeros(model.info.input_shape[1:], dtype=np.uint8))
    busy_s = 0.0
    frames = bag.frames(options.max_frames, on_unreadable=lambda _, reason: skipped.rejections.append(reason),
                        on_read_error=skipped.read_errors.append)
    for frame in tqdm(frames, total=total, unit="frame", desc="eval"):
        begin = time.perf_counter()
        try:
            model_input = convert(converters[backend], frame.message, frame.compressed)
        except ImageConversionError as error:
            skipped.rejections.append(f"frame {frame.index}: {error}")
            continue
        inference_begin = time.perf_counter()
        try:
            features = backend.run(model_input.image)
            end = time.perf_counter()
            reference_features = None
            if reference is not None:
                reference_input = convert(converters[reference], frame.message, frame.compressed)
                reference_features = in_source_frame(reference.run(reference_input.image), reference_input)
        except InvalidOutputError as error:
            skipped.invalid_outputs.append(f"frame {frame.index}: {error}")
            continue
        busy_s += end - begin
        evaluator.add(
            FrameResult(
                frame=frame,
                features=in_source_frame(features, model_input),
                source_size=(model_input.source_width, model_input.source_height),
                timings_ms={"inference": (end - inference_begin) * 1e3, "total": (end - begin) * 1e3},
                reference=reference_features,
            )
        )
    return len(evaluator.records) / busy_s if busy_s > 0 else None


def in_source_frame(features: Features, model_input: ModelInput) -> Features:
    """``features`` with keypoints mapped from the model's frame to the source image's."""
    return Features(model_input.keypoints_to_source(features.keypoints), features.scores, features.descriptors)
