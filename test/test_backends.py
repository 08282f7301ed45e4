# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The ONNX Runtime and PyTorch backends against each other and against kornia on real photos (CPU)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("kornia", reason="kornia is not installed (pip install kornia)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import numpy as np
import torch

from disk_trt_ros.contract import InputFormat
from disk_trt_ros.errors import ContractError
from disk_trt_ros.export.weights import random_disk
from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
from disk_trt_ros.inference.torch_backend import TorchBackend
from support.images import in_format, load_photo, reference_rgb
from support.paths import shared_photo_paths
from support.reference import assert_matches_reference, kornia_features


@pytest.mark.parametrize("size,max_keypoints", [((128, 160), 512), ((240, 320), 1024)], ids=["128x160", "240x320"])
def test_backends_agree_with_each_other_and_with_kornia(export_model, size, max_keypoints):
    model = export_model(height=size[0], width=size[1], max_keypoints=max_keypoints)
    onnxruntime = OnnxRuntimeBackend(str(model.path), threads=2)
    pytorch = TorchBackend(str(model.path))
    assert onnxruntime.info == pytorch.info == model.info
    for path in shared_photo_paths():
        image = load_photo(path, *size)
        from_onnxruntime, from_torch = onnxruntime.run(image), pytorch.run(image)
        reference = kornia_features(model.disk, image, model.info)
        assert_matches_reference(from_onnxruntime, reference, model.info)
        assert_matches_reference(from_torch, reference, model.info)
        assert_matches_reference(from_torch, from_onnxruntime, model.info)


def test_mono_and_bgr_models_in_both_backends(export_model):
    photo = load_photo(shared_photo_paths()[3], 128, 160)
    for input_format in (InputFormat.MONO, InputFormat.BGR):
        model = export_model(max_keypoints=256, input_format=input_format)
        image = in_format(photo, input_format)
        reference = kornia_features(model.disk, reference_rgb(image, input_format), model.info)
        for backend in (OnnxRuntimeBackend(str(model.path), threads=2), TorchBackend(str(model.path))):
            assert_matches_reference(backend.run(image), reference, model.info)


@pytest.mark.parametrize("backend_class", [OnnxRuntimeBackend, TorchBackend])
def test_images_that_break_the_contract_are_refused_by_name(export_model, backend_class):
    backend = backend_class(str(export_model().path))
    wrong_dtype, wrong_size, wrong_channels = (
        np.zeros((128, 160, 3), np.float32), np.zeros((160, 128, 3), np.uint8), np.zeros((128, 160, 1), np.uint8)
    )
    for bad in (wrong_dtype, wrong_size, wrong_channels):
        with pytest.raises(ContractError, match=r"image must be uint8 with shape \(128, 160, 3\) \(rgb\)"):
            backend.run(bad)


def test_onnxruntime_runs_every_frame_in_the_buffers_bound_at_construction(export_model):
    backend = OnnxRuntimeBackend(str(export_model().path), threads=1)
    buffers = [buffer.ctypes.data for buffer in (backend._input, *backend._outputs)]
    first = backend.run(load_photo(shared_photo_paths()[0], 128, 160))
    kept = first.keypoints.copy()
    second = backend.run(load_photo(shared_photo_paths()[1], 128, 160))
    assert [buffer.ctypes.data for buffer in (backend._input, *backend._outputs)] == buffers
    assert np.array_equal(first.keypoints, kept), "a result changed when the next frame ran: it is a view"
    assert not np.array_equal(first.keypoints, second.keypoints)


def test_torch_backend_refuses_weights_that_are_not_the_models(export_model, tmp_path):
    model = export_model()
    other, _ = random_disk(7)
    checkpoint = tmp_path / "other.pth"
    torch.save({"extractor": other.state_dict()}, checkpoint)
    import onnx

    proto = onnx.load(model.path)
    for prop in proto.metadata_props:
        if prop.key == "disk_trt_ros.weights":
            prop.value = f'"{checkpoint}"'
    relabelled = tmp_path / "relabelled.onnx"
    onnx.save(proto, relabelled)
    with pytest.raises(ContractError, match="was exported from"):
        TorchBackend(str(relabelled))
