# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The pipeline's building blocks, each against an independent reference."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("kornia", reason="kornia is not installed (pip install kornia)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import io

import numpy as np
import onnxruntime as ort
import torch
from kornia.geometry.subpix import nms2d

from disk_trt_ros.contract import InputFormat, InstanceNorm, ModelInfo, TrtCompat
from disk_trt_ros.export.descriptor_head import SparseDescriptorHead
from disk_trt_ros.export.instance_norm import DecomposedInstanceNorm, spatial_mean, with_instance_norms
from disk_trt_ros.export.pipeline import (
    DiskPipeline,
    block_maxima,
    candidate_scores,
    count_true,
    normalise_rows,
    top_k,
    top_k_in_rounds,
    top_k_rows,
)
from disk_trt_ros.export.unet import PartwiseGate
from disk_trt_ros.export.weights import random_disk


class TopKModule(torch.nn.Module):
    def __init__(self, function, k: int, round_size: int) -> None:
        super().__init__()
        self.function, self.k, self.round_size = function, k, round_size

    def forward(self, scores: torch.Tensor):
        return self.function(scores, self.k, floor_value=-1.0, round_size=self.round_size)


def exported_onnx(module: torch.nn.Module, example: torch.Tensor) -> bytes:
    buffer = io.BytesIO()
    torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=13)
    return buffer.getvalue()


def run_in_onnxruntime(module: torch.nn.Module, example: torch.Tensor) -> list[np.ndarray]:
    session = ort.InferenceSession(exported_onnx(module, example), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: example.numpy()})


@pytest.mark.parametrize("k,round_size", [(10, 3), (37, 8), (100, 100), (150, 40)])
def test_top_k_in_rounds_equals_one_stable_sort_with_ties(k, round_size):
    """Heavy ties (scores from 6 values) across round boundaries: the order is descending, ties by index."""
    scores = torch.from_numpy(np.random.default_rng(k).integers(0, 6, (1, 200)).astype(np.float32))
    values, indices = run_in_onnxruntime(TopKModule(top_k_in_rounds, k, round_size), scores)
    expected = np.lexsort((np.arange(200), -scores.numpy()[0]))[:k]
    np.testing.assert_array_equal(indices[0], expected)
    np.testing.assert_array_equal(values[0], scores.numpy()[0, expected])


@pytest.mark.parametrize("k,round_size,rows", [(10, 3, 32), (37, 8, 8), (100, 40, 4), (150, 40, 2)])
def test_top_k_over_rows_equals_one_stable_sort_with_ties(k, round_size, rows):
    """The two-stage top-K (rows, then their candidates), rounds in both stages, heavy ties across rows."""
    assert top_k_rows(1600, k) == rows
    scores = torch.from_numpy(np.random.default_rng(k).integers(0, 6, (1, 1600)).astype(np.float32))
    values, indices = run_in_onnxruntime(TopKModule(top_k, k, round_size), scores)
    expected = np.lexsort((np.arange(1600), -scores.numpy()[0]))[:k]
    np.testing.assert_array_equal(indices[0], expected)
    np.testing.assert_array_equal(values[0], scores.numpy()[0, expected])


@pytest.mark.parametrize("count,k,rows", [
    (34240, 2048, 4),  # 480x640, window 5: 160 x 214 blocks
    (34240, 4096, 2),
    (34240, 8192, 1),
    (8560, 1024, 2),  # 240x320
    (76800, 8192, 2),  # 480x640, window 3
    (2322, 64, 2),  # 128x160: 2322 = 2 * 1161, no further power of two
    (4099, 16, 1),  # odd
])
def test_top_k_rows_keep_four_times_k_per_row(count, k, rows):
    assert top_k_rows(count, k) == rows


@pytest.mark.parametrize("window", [3, 5, 7, 9])
def test_candidates_are_kornias_strict_maxima_above_threshold(window):
    heatmap = torch.from_numpy(np.random.default_rng(window).normal(size=(1, 1, 37, 45)).astype(np.float32))
    heatmap[0, 0, 10:13, 10:13] = 5.0  # a plateau: never a strict maximum
    threshold = 0.25
    candidates = candidate_scores(heatmap, window, threshold).reshape(37, 45)
    expected = nms2d(heatmap, (window, window), mask_only=True)[0, 0] & (heatmap[0, 0] > threshold)
    assert torch.equal(candidates > threshold, expected)
    assert torch.equal(candidates[expected], heatmap[0, 0][expected])
    assert expected.sum() > 0 and not expected[10:13, 10:13].any()


def test_normalise_rows_matches_l2_normalisation_and_keeps_zero_rows():
    rows = torch.from_numpy(np.random.default_rng(0).normal(scale=300.0, size=(50, 128)).astype(np.float32))
    rows[7] = 0.0
    result = normalise_rows(rows)
    expected = torch.nn.functional.normalize(rows, dim=1)
    assert torch.allclose(result, expected, atol=1e-6)
    assert not result[7].any()


def test_normalise_rows_stays_in_float16_range():
    rows = torch.full((4, 128), 200.0, dtype=torch.float16)  # the squared norm, 5.1e6, overflows float16
    result = normalise_rows(rows)
    assert torch.isfinite(result).all()
    assert torch.allclose(result.float().norm(dim=1), torch.ones(4), atol=1e-2)


@pytest.mark.parametrize("length", [1, 64, 1024, 1025, 5000])
def test_count_true(length):
    flags = torch.from_numpy(np.random.default_rng(length).random(length) < 0.7)
    assert count_true(flags).tolist() == [int(flags.sum())]


@pytest.mark.parametrize("window,size", [(3, (37, 45)), (5, (37, 45)), (5, (48, 64)), (7, (30, 41))])
def test_block_maxima_keep_every_candidate_and_its_index(window, size):
    """Every strict maximum survives the block reduction with its raster index; blocks without one hold the floor."""
    height, width = size
    heatmap = torch.from_numpy(np.random.default_rng(window).normal(size=(1, 1, height, width)).astype(np.float32))
    candidates = candidate_scores(heatmap, window, -0.5)
    scores, index = block_maxima(candidates, height, width, window, -0.5)
    flat = candidates.reshape(-1)
    kept = scores.reshape(-1) > -0.5
    expected = torch.nonzero(flat > -0.5).reshape(-1)
    assert torch.equal(torch.sort(index[kept]).values, expected)
    assert torch.equal(flat[index[kept]], scores.reshape(-1)[kept])
    assert int(index.min()) >= 0 and int(index.max()) < height * width


def test_the_pipeline_makes_its_constants_on_the_input_device() -> None:
    """The torch backend runs DiskPipeline on CUDA: every index and constant must follow the input there. On the
    "meta" device (shapes, no data) a tensor left on the CPU raises as it does on CUDA. K > 2048 takes several
    TopK rounds."""
    disk, _ = random_disk(0)
    info = ModelInfo(160, 160, 2500, InputFormat.BGR, "float32", 5, 0.0, TrtCompat.TRT_8_2, "random:0", "", "test")
    pipeline = DiskPipeline(disk, info).eval().to("meta")
    with torch.inference_mode():
        outputs = pipeline(torch.zeros(1, 160, 160, 3, device="meta"))
    assert [tuple(output.shape) for output in outputs] == [(1, 2500, 2), (1, 2500), (1, 2500, 128), (1,)]
    assert all(output.device.type == "meta" for output in outputs)


@pytest.mark.parametrize("affine", [False, True], ids=["kornia", "affine"])
def test_decomposed_instance_norm_computes_instance_norm_2d(affine):
    """kornia's DISK uses InstanceNorm2d(C): eps 1e-5, no affine, no running statistics; with an affine scale and
    bias they are applied as PyTorch applies them. Checked in PyTorch and in ONNX Runtime against InstanceNorm2d in
    float64, on channels of various means and spreads (normalised values up to about 4; float32 reductions over 960
    values in another order than PyTorch's are off by a few 1e-6, as is InstanceNorm2d itself in float32)."""
    generator = torch.Generator().manual_seed(0)
    norm = torch.nn.InstanceNorm2d(16, affine=affine).eval()
    if affine:
        with torch.no_grad():
            norm.weight.copy_(torch.randn(16, generator=generator))
            norm.bias.copy_(torch.randn(16, generator=generator))
    features = torch.randn(1, 16, 24, 40, generator=generator) * torch.linspace(0.05, 50.0, 16).reshape(1, 16, 1, 1)
    features = features + torch.linspace(-5.0, 5.0, 16).reshape(1, 16, 1, 1)
    decomposed = DecomposedInstanceNorm(norm).eval()
    with torch.no_grad():
        expected = norm.double()(features.double()).numpy()
        np.testing.assert_allclose(decomposed(features).numpy(), expected, rtol=0, atol=2e-5)
    (exported,) = run_in_onnxruntime(decomposed, features)
    np.testing.assert_allclose(exported, expected, rtol=0, atol=2e-5)


class SpatialMean(torch.nn.Module):
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return spatial_mean(features)


@pytest.mark.parametrize("height, width, tile", [(480, 640, [16, 16]), (30, 40, [2, 8]), (7, 9, None)])
def test_spatial_mean_is_the_mean_of_equal_tiles_means(height, width, tile):
    """The map's mean through tiles of the largest side up to 16 dividing each side (a single ReduceMean where none
    but 1 does), in PyTorch and in ONNX Runtime."""
    import onnx

    features = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(0)) + 3.0
    expected = features.double().mean(dim=(2, 3), keepdim=True).numpy()
    np.testing.assert_allclose(spatial_mean(features).numpy(), expected, rtol=1e-6)
    nodes = onnx.load_from_string(exported_onnx(SpatialMean(), features)).graph.node
    kernels = [list(attribute.ints) for node in nodes if node.op_type == "AveragePool"
               for attribute in node.attribute if attribute.name == "kernel_shape"]
    assert kernels == ([tile] if tile else [])
    (exported,) = run_in_onnxruntime(SpatialMean(), features)
    np.testing.assert_allclose(exported, expected, rtol=1e-6)


def test_an_instance_norm_with_running_statistics_is_not_decomposed():
    with pytest.raises(ValueError, match="running statistics"):
        DecomposedInstanceNorm(torch.nn.InstanceNorm2d(4, track_running_stats=True))


class GateOfParts(torch.nn.Module):
    def __init__(self, gate: PartwiseGate, channels: int) -> None:
        super().__init__()
        self.gate, self.channels = gate, channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.gate([features[:, : self.channels], features[:, self.channels :]])


@pytest.mark.parametrize("instance_norm", list(InstanceNorm))
@pytest.mark.parametrize("affine, slopes", [(False, 12), (True, 1)], ids=["kornia", "affine-one-slope"])
def test_the_partwise_gate_is_the_blocks_norm_and_prelu_on_the_concatenation(instance_norm, affine, slopes):
    """kornia's last up block normalises and gates the concatenation of the upsampled map (64 channels) and the skip
    (16); PartwiseGate does it to each part and concatenates after: the same values, in PyTorch and in ONNX Runtime
    (with the norm as InstanceNormalization nodes and decomposed)."""
    generator = torch.Generator().manual_seed(1)
    norm, prelu = torch.nn.InstanceNorm2d(12, affine=affine).eval(), torch.nn.PReLU(slopes)
    with torch.no_grad():
        prelu.weight.copy_(torch.rand(slopes, generator=generator))
        if affine:
            norm.weight.copy_(torch.randn(12, generator=generator))
            norm.bias.copy_(torch.randn(12, generator=generator))
    features = torch.randn(1, 12, 16, 20, generator=generator) * torch.linspace(0.1, 9.0, 12).reshape(1, 12, 1, 1)
    with torch.no_grad():
        expected = prelu(norm(features)).numpy()
        gate = GateOfParts(with_instance_norms(PartwiseGate(norm, prelu, (9, 3)), instance_norm), 9).eval()
        np.testing.assert_allclose(gate(features).numpy(), expected, rtol=0, atol=1e-5)
    (exported,) = run_in_onnxruntime(gate, features)
    np.testing.assert_allclose(exported, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "norm, channels",
    [(torch.nn.InstanceNorm2d(8, track_running_stats=True), (4, 4)), (torch.nn.InstanceNorm2d(8), (4, 3))],
    ids=["running-statistics", "channels"],
)
def test_the_partwise_gate_refuses_a_norm_it_cannot_split(norm, channels):
    with pytest.raises(ValueError, match="without running statistics over"):
        PartwiseGate(norm, torch.nn.PReLU(8), channels)


def test_the_last_blocks_parts_are_gated_before_their_concatenation(export_model):
    """What PartwiseGate is for: in the exported graph the upsampled map is not concatenated before it is normalised
    (TensorRT 8.5 copied it into the concatenation); the concatenation both heads read joins the two activations."""
    import onnx

    graph = onnx.load(str(export_model().path)).graph
    producers = {output: node for node in graph.node for output in node.output}
    heat_taps = next(node for node in graph.node if node.name == "/unet/heatmap_head/Conv")
    concatenation = producers[heat_taps.input[0]]
    assert concatenation.op_type == "Concat"
    assert [producers[name].name for name in concatenation.input] == [
        "/unet/last_gate/activations.0/PRelu", "/unet/last_gate/activations.1/PRelu"
    ]
    norms = [producers[producers[name].input[0]] for name in concatenation.input]
    assert [norm.op_type for norm in norms] == ["InstanceNormalization"] * 2
    assert producers[norms[0].input[0]].op_type == "Resize", "the upsampled map itself is normalised"


class SparseHeadModule(torch.nn.Module):
    def __init__(self, head: SparseDescriptorHead, pixel_x: torch.Tensor, pixel_y: torch.Tensor) -> None:
        super().__init__()
        self.head, self.pixel_x, self.pixel_y = head, pixel_x, pixel_y

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features, self.pixel_x, self.pixel_y)


@pytest.mark.parametrize("kernel", [3, 5])
def test_the_sparse_descriptor_head_is_the_dense_convolution_at_each_pixel(kernel):
    """Every pixel of a 9x11 map, corners and edges included (where the window runs off the map and reads zeros, as
    the dense convolution's padding does), in PyTorch and in ONNX Runtime."""
    torch.manual_seed(0)
    dense = torch.nn.Conv2d(6, 4, kernel, padding="same")
    features = torch.randn(1, 6, 9, 11)
    expected = dense(features).detach().reshape(4, -1).T.numpy()
    pixel = torch.arange(9 * 11, dtype=torch.int32)
    module = SparseHeadModule(SparseDescriptorHead(dense, 9, 11), pixel % 11, pixel // 11)
    np.testing.assert_allclose(module(features).detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    (from_onnx,) = run_in_onnxruntime(module, features)
    np.testing.assert_allclose(from_onnx, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("conv", [torch.nn.Conv2d(2, 3, 4, padding="same"), torch.nn.Conv2d(2, 3, 3, padding=0),
                                  torch.nn.Conv2d(2, 3, 3, padding=1, stride=2)], ids=["even", "valid", "strided"])
def test_the_sparse_descriptor_head_takes_only_odd_same_convolutions(conv):
    with pytest.raises(ValueError, match="odd square 'same' convolution"):
        SparseDescriptorHead(conv, 8, 8)
