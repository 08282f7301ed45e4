"""Export :class:`~disk_trt_ros.export.pipeline.DiskPipeline` to an ONNX file that carries its own settings."""

from __future__ import annotations

import io
import os
import warnings

import onnx
import torch
from kornia.feature import DISK

from disk_trt_ros.atomic import atomic_write_bytes
from disk_trt_ros.contract import INPUT_NAME, OUTPUT_NAMES, ModelInfo
from disk_trt_ros.export.fold_constants import fold_constants
from disk_trt_ros.export.pipeline import FP16_POLICY, DiskPipeline


def export_onnx(disk: DISK, info: ModelInfo, path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Write the static DISK graph for ``info`` to ``path`` (atomically) and return the model.

    The graph has one input ``image`` of shape ``info.input_shape`` and the contract's four outputs; ``info`` is
    stored in ``metadata_props``. The opset is the highest that ``info.trt_compat``'s parser accepts.
    """
    model = build_onnx(disk, info)
    atomic_write_bytes(path, model.SerializeToString())
    return model


def build_onnx(disk: DISK, info: ModelInfo) -> onnx.ModelProto:
    """The exported, checked model with its metadata, in memory."""
    pipeline = DiskPipeline(disk, info).eval()
    example = torch.zeros(info.input_shape, dtype=getattr(torch, info.input_dtype))
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings say nothing here
        torch.onnx.export(
            pipeline,
            (example,),
            buffer,
            dynamo=False,
            opset_version=info.trt_compat.max_opset,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            do_constant_folding=True,
        )
    model = fold_constants(onnx.load_from_string(buffer.getvalue()))
    model.producer_name = "disk_trt_ros"
    model.doc_string = (
        f"DISK keypoints, {info.width}x{info.height} {info.input_format.value}, K={info.max_keypoints}, "
        f"weights {info.weights}"
    )
    del model.metadata_props[:]
    for key, value in sorted({**info.to_metadata(), **FP16_POLICY.to_metadata()}.items()):
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    return model
