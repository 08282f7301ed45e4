# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The graph in float16 (every layer converted, run by ONNX Runtime) keeps fp32's keypoints on real photos."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("kornia", reason="kornia is not installed (pip install kornia)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import numpy as np
import onnx
import onnxruntime as ort

from disk_trt_ros.export.fp16 import to_float16
from disk_trt_ros.inference.base import Features
from support.images import load_photo
from support.paths import shared_photo_paths
from support.reference import agreement


def test_float16_model_keeps_the_fp32_keypoints(export_model):
    model = export_model(height=240, width=320, max_keypoints=512)
    fp32 = onnx.load(model.path)
    fp16 = to_float16(fp32)
    assert sum(i.data_type == onnx.TensorProto.FLOAT16 for i in fp16.graph.initializer) > 20
    sessions = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]) for m in (fp32, fp16)]
    for path in shared_photo_paths():
        image = load_photo(path, 240, 320)[None].astype(np.float32)
        outputs = [session.run(None, {"image": image}) for session in sessions]
        assert all(np.isfinite(o).all() for o in outputs[1][:3])
        full, half = (Features.from_outputs(*o, model.info) for o in outputs)
        result = agreement(half, full)
        overlap = 1.0 - len(result.only_b) / max(full.count, 1)
        print(f"{path.name}: fp16 keeps {overlap:.2%} of {full.count} fp32 keypoints, "
              f"cosine >= {result.min_descriptor_cosine:.4f}")
        assert overlap >= 0.97
        assert result.min_descriptor_cosine >= 0.999
        assert np.allclose(np.linalg.norm(half.descriptors, axis=1), 1.0, atol=1e-3)
