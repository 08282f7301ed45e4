# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The heat-map head rewritten as a sum of taps (export/heat_head.py): what the graph holds, and that ONNX Runtime
finds the same keypoints with it as with the single convolution (test_export_parity.py holds the export to kornia)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("kornia", reason="kornia is not installed (pip install kornia)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from disk_trt_ros import __version__
from disk_trt_ros.contract import INPUT_NAME, OUTPUT_NAMES, InputFormat, ModelInfo, TrtCompat
from disk_trt_ros.export.heat_head import HEAT_HEAD, heat_head_as_taps
from disk_trt_ros.export.onnx_export import traced_model
from disk_trt_ros.export.pipeline import DiskPipeline
from disk_trt_ros.export.weights import random_disk
from support.images import load_photo, noise_image
from support.paths import shared_photo_paths

HEIGHT, WIDTH = 128, 160


@pytest.fixture(scope="module")
def graphs() -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """The exported graph before and after the rewrite (random weights)."""
    import torch

    disk, _ = random_disk(0)
    info = ModelInfo(HEIGHT, WIDTH, 512, InputFormat.RGB, "float32", 5, 0.0, TrtCompat.TRT_8_2, "random:0", "",
                     __version__)
    traced = traced_model(DiskPipeline(disk, info), (torch.zeros(info.input_shape),), [INPUT_NAME], OUTPUT_NAMES,
                          info.trt_compat.max_opset, "test", info.to_metadata())
    return traced, heat_head_as_taps(traced, HEIGHT, WIDTH)


def test_the_head_is_a_one_by_one_convolution_and_the_sum_of_its_taps(graphs) -> None:
    single, taps = graphs
    weights = {initializer.name: numpy_helper.to_array(initializer) for initializer in taps.graph.initializer}
    head = [node for node in taps.graph.node if node.name.startswith("/unet/heatmap_head/")]
    assert [node.op_type for node in head].count("Slice") == 25 and [n.op_type for n in head].count("Add") == 25
    (convolution,) = [node for node in head if node.op_type == "Conv"]
    assert convolution.name == HEAT_HEAD and weights[convolution.input[1]].shape == (25, 80, 1, 1)
    assert not any(node.op_type == "Conv" and weights[node.input[1]].shape[0] == 1 for node in taps.graph.node)
    assert len(taps.graph.node) == len(single.graph.node) + 50
    assert not {"unet.heatmap_head.weight", "unet.heatmap_head.bias"} & set(weights)


def test_onnxruntime_finds_the_same_keypoints_with_the_taps(graphs) -> None:
    single, taps = graphs
    sessions = [ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
                for model in (single, taps)]
    images = [load_photo(path, HEIGHT, WIDTH) for path in shared_photo_paths()] + [noise_image(HEIGHT, WIDTH, 5)]
    for image in images:
        feed = {INPUT_NAME: image[None].astype(np.float32)}
        (keypoints, scores, descriptors, count), (keypoints_taps, scores_taps, descriptors_taps, count_taps) = (
            session.run(None, feed) for session in sessions
        )
        assert int(count_taps[0]) == int(count[0])
        np.testing.assert_array_equal(keypoints_taps, keypoints)
        np.testing.assert_allclose(scores_taps, scores, rtol=0, atol=1e-5)
        np.testing.assert_allclose(descriptors_taps, descriptors, rtol=0, atol=1e-6)


def test_a_graph_without_the_head_is_refused(graphs) -> None:
    single, _ = graphs
    renamed = onnx.ModelProto()
    renamed.CopyFrom(single)
    next(node for node in renamed.graph.node if node.name == HEAT_HEAD).name = "/elsewhere/Conv"
    with pytest.raises(ValueError, match="has no node /unet/heatmap_head/Conv"):
        heat_head_as_taps(renamed, HEIGHT, WIDTH)
