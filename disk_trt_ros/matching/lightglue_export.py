"""Export :class:`~disk_trt_ros.matching.lightglue_graph.StaticLightGlue` to an ONNX file that carries its settings
(needs torch, kornia, onnx)."""

from __future__ import annotations

import io
import os
import warnings

import onnx
import torch
from kornia.feature import LightGlue

from disk_trt_ros.atomic import atomic_write_bytes
from disk_trt_ros.export.fold_constants import fold_constants
from disk_trt_ros.matching.contract import INPUT_NAMES, OUTPUT_NAMES, MatcherInfo
from disk_trt_ros.matching.lightglue_graph import StaticLightGlue


def export_matcher_onnx(lightglue: LightGlue, info: MatcherInfo, path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Write the static LightGlue graph for ``info`` to ``path`` (atomically) and return the model.

    The graph has the matcher contract's six inputs and two outputs (:mod:`disk_trt_ros.matching.contract`), every
    shape fixed by ``info.max_keypoints``; ``info`` is stored in ``metadata_props``. The opset is the highest that
    ``info.trt_compat``'s parser accepts.
    """
    model = build_matcher_onnx(lightglue, info)
    atomic_write_bytes(path, model.SerializeToString())
    return model


def example_inputs(info: MatcherInfo) -> tuple[torch.Tensor, ...]:
    """Zero-filled inputs of the contract's shapes and dtypes, in :data:`INPUT_NAMES` order (all slots valid)."""
    shapes, dtypes = info.input_shapes(), info.input_dtypes()
    tensors = {name: torch.zeros(shapes[name], dtype=getattr(torch, dtypes[name])) for name in INPUT_NAMES}
    for image in (0, 1):
        tensors[f"num_keypoints{image}"].fill_(info.max_keypoints)
    return tuple(tensors[name] for name in INPUT_NAMES)


def build_matcher_onnx(lightglue: LightGlue, info: MatcherInfo) -> onnx.ModelProto:
    """The exported, constant-folded and checked model with its metadata, in memory."""
    module = StaticLightGlue(lightglue, info).eval()
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings say nothing here
        torch.onnx.export(
            module,
            example_inputs(info),
            buffer,
            dynamo=False,
            opset_version=info.trt_compat.max_opset,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            do_constant_folding=True,
        )
    model = fold_constants(onnx.load_from_string(buffer.getvalue()))
    model.producer_name = "disk_trt_ros"
    model.doc_string = (
        f"LightGlue for DISK, K={info.max_keypoints} per image, {info.width}x{info.height} keypoint frame, "
        f"filter threshold {info.filter_threshold}, all layers, no pruning, weights {info.weights}"
    )
    del model.metadata_props[:]
    for key, value in sorted(info.to_metadata().items()):
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    return model
