# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Export :class:`~disk_trt_ros.export.pipeline.DiskPipeline` and
:class:`~disk_trt_ros.export.lightglue_graph.StaticLightGlue` to ONNX files that carry their own settings."""

from __future__ import annotations

import io
import os
import warnings
from typing import Mapping, Sequence

import onnx
import torch
from kornia.feature import DISK, LightGlue

from disk_trt_ros.atomic import atomic_write_bytes
from disk_trt_ros.contract import INPUT_NAME, OUTPUT_NAMES, ModelInfo
from disk_trt_ros.export.fold_constants import fold_constants
from disk_trt_ros.export.heat_head import heat_head_as_taps
from disk_trt_ros.export.lightglue_graph import StaticLightGlue
from disk_trt_ros.export.pipeline import FP16_POLICIES, DiskPipeline
from disk_trt_ros.matcher_contract import MATCHER_INPUT_NAMES, MATCHER_OUTPUT_NAMES, MatcherInfo


def export_onnx(disk: DISK, info: ModelInfo, path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Write the static DISK graph for ``info`` to ``path`` (atomically) and return the model.

    The graph has one input ``image`` of shape ``info.input_shape`` and the contract's four outputs; ``info`` is
    stored in ``metadata_props``. The opset is the highest that ``info.trt_compat``'s parser accepts.
    """
    model = build_onnx(disk, info)
    atomic_write_bytes(path, model.SerializeToString())
    return model


def build_onnx(disk: DISK, info: ModelInfo) -> onnx.ModelProto:
    """The exported, checked model with its metadata, in memory (the heat-map head as a sum of taps:
    :mod:`~disk_trt_ros.export.heat_head`)."""
    example = torch.zeros(info.input_shape, dtype=getattr(torch, info.input_dtype))
    doc = (
        f"DISK keypoints, {info.width}x{info.height} {info.input_format.value}, K={info.max_keypoints}, "
        f"weights {info.weights}"
    )
    traced = traced_model(
        DiskPipeline(disk, info), (example,), [INPUT_NAME], OUTPUT_NAMES, info.trt_compat.max_opset, doc,
        {**info.to_metadata(), **FP16_POLICIES[info.fp16_policy].to_metadata()},
    )
    return heat_head_as_taps(traced, info.height, info.width)


def export_matcher_onnx(lightglue: LightGlue, info: MatcherInfo, path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Write the static LightGlue graph for ``info`` to ``path`` (atomically) and return the model.

    The graph has the matcher contract's six inputs and two outputs (:mod:`disk_trt_ros.matcher_contract`), every
    shape fixed by ``info.max_keypoints``; ``info`` is stored in ``metadata_props``. The opset is the highest that
    ``info.trt_compat``'s parser accepts.
    """
    model = build_matcher_onnx(lightglue, info)
    atomic_write_bytes(path, model.SerializeToString())
    return model


def matcher_example_inputs(info: MatcherInfo) -> tuple[torch.Tensor, ...]:
    """Zero-filled inputs of the matcher contract's shapes and dtypes, in input order (all slots valid)."""
    inputs = tuple(
        torch.zeros(spec.shape, dtype=getattr(torch, spec.dtype)) for spec in info.tensor_specs() if spec.is_input
    )
    for tensor, name in zip(inputs, MATCHER_INPUT_NAMES):
        if name.startswith("num_keypoints"):
            tensor.fill_(info.max_keypoints)
    return inputs


def build_matcher_onnx(lightglue: LightGlue, info: MatcherInfo) -> onnx.ModelProto:
    """The exported, constant-folded and checked matcher with its metadata, in memory."""
    doc = (
        f"LightGlue for DISK, K={info.max_keypoints} per image, {info.width}x{info.height} keypoint frame, "
        f"filter threshold {info.filter_threshold}, all layers, no pruning, weights {info.weights}"
    )
    return traced_model(
        StaticLightGlue(lightglue, info), matcher_example_inputs(info), MATCHER_INPUT_NAMES, MATCHER_OUTPUT_NAMES,
        info.trt_compat.max_opset, doc, info.to_metadata(),
    )


def traced_model(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    input_names: Sequence[str],
    output_names: Sequence[str],
    opset: int,
    doc: str,
    metadata: Mapping[str, str],
) -> onnx.ModelProto:
    """``module`` (eval mode) traced on ``example`` by the legacy exporter at ``opset``, constant-folded, with
    ``doc`` and ``metadata`` (sorted into ``metadata_props``), checked by ``onnx.checker``."""
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings say nothing here
        torch.onnx.export(
            module.eval(),
            example,
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=list(input_names),
            output_names=list(output_names),
            do_constant_folding=True,
        )
    model = fold_constants(onnx.load_from_string(buffer.getvalue()))
    model.producer_name = "disk_trt_ros"
    model.doc_string = doc
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    return model
