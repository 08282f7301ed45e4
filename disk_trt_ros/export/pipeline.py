# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""DISK from pixels to fixed-size keypoint slots, as one module with static shapes that exports to ONNX.

The module computes what ``kornia.feature.DISK`` computes for ``n=K``: strict local maxima over the full NMS
window, no maximum in the border strip whose window runs off the image, scores strictly above the threshold, the
``K`` best of them, their descriptors from the U-Net's last convolution evaluated at those ``K`` pixels only
(:class:`~disk_trt_ros.export.descriptor_head.SparseDescriptorHead`). The results are ordered by descending score
instead of kornia's raster order, and padded to ``K`` slots. Equal scores (exact float ties, which only a flat
heatmap makes) are ordered by NMS block, then by position inside the block (:func:`block_maxima`).

Graph rules it keeps (TensorRT 8.2's ONNX parser): no ``Mod``, ``NonZero`` or data-dependent shapes; each TopK
takes at most :data:`~disk_trt_ros.contract.TRT_TOPK_ROUND` elements with a constant K; no constants outside
float16's range; pixel coordinates and indices stay integer until the output's final cast.

Node names are the module path (``/unet/...`` for the network, ``/descriptor_head/...``, top level for pre- and
post-processing), so that :data:`FP16_POLICIES` can name the layers that an fp16 TensorRT engine computes in each
precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.feature import DISK
from torch import nn

from disk_trt_ros.contract import (
    DESCRIPTOR_DIM,
    TRT_TOPK_ROUND,
    Fp16Policy,
    InputFormat,
    ModelInfo,
    PrecisionPolicy,
)
from disk_trt_ros.export.descriptor_head import SparseDescriptorHead
from disk_trt_ros.export.unet import DiskUNet, head_from, last_convolution

Outputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]

# top_k's rows hold at least this many times K elements: at 480x640 K=2048 (34,240 blocks) four rows of 8,560 were
# faster than two or eight on TensorRT 8.5 (docs/tensorrt.md).
TOP_K_ROW_FACTOR = 4

# What an fp16 TensorRT engine computes in float16, per --fp16-policy (docs/export.md). Pre- and post-processing (NMS,
# top-K, the descriptor head at the keypoints) compute in float32 in each, and no float16 tensor enters them: in the
# region TensorRT fuses after the U-Net, an fp16 input made the scores and the top-K fp16 (up to 6% of the keypoints
# lost on TensorRT 8.5).
# fp32-detector: everything in strict float32 (an fp16 build computes what the fp32 build computes).
# tf32-detector: the same on TF32 tensor cores (PyTorch's default for float32 convolutions).
# fp16-unet: the U-Net in float16 but its heat-map head; its last activations write float32 for the two heads, and
# the float32 layers may run on TF32 tensor cores (their inputs are float16 values, which TF32 holds exactly; the sums
# stay float32): the descriptor head's convolution took 0.02 instead of 0.09 ms.
# Measured in docs/tensorrt.md (2026-11-28, H200, TensorRT 8.5.3, 480x640 K=2048, random weights).
FP16_POLICIES: dict[Fp16Policy, PrecisionPolicy] = {
    Fp16Policy.FP32_DETECTOR: PrecisionPolicy(fp32_layers=(r"^",)),
    Fp16Policy.TF32_DETECTOR: PrecisionPolicy(fp32_layers=(r"^",), tf32=True),
    Fp16Policy.FP16_UNET: PrecisionPolicy(
        fp32_layers=(r"^(?!/unet/)", r"^/unet/heatmap_head/"),
        fp16_layers=(r"^/unet/(?!heatmap_head/)",),
        fp32_outputs=(r"^/unet/last_gate/activations\.",),
        tf32=True,
    ),
}


def image_to_rgb(image: torch.Tensor, input_format: InputFormat) -> torch.Tensor:
    """``[1, H, W, C]`` 8-bit pixel values (any dtype) to kornia's float32 RGB ``[1, 3, H, W]`` in [0, 1], each colour
    taken from the channel :attr:`~disk_trt_ros.contract.InputFormat.rgb_channels` names."""
    chw = image.to(torch.float32).div(255.0).permute(0, 3, 1, 2)
    if input_format.channels == 1:
        return chw.expand(-1, 3, -1, -1)  # a broadcast in the graph rather than a gather
    if input_format.rgb_channels == (0, 1, 2):
        return chw
    return chw.index_select(1, torch.tensor(list(input_format.rgb_channels), device=image.device))


def neighbourhood_max(heatmap: torch.Tensor, window: int) -> torch.Tensor:
    """Max over each full ``window x window`` neighbourhood, centre excluded, for the interior centres only.

    Args:
        heatmap: ``[1, 1, H, W]``.
        window: odd window side, ``2 r + 1``.

    Returns:
        ``[1, 1, H - 2 r, W - 2 r]``; entry ``(i, j)`` belongs to centre ``(i + r, j + r)``. The neighbourhood is the
        ``r`` full rows above the centre, the ``r`` below, and the ``r`` pixels left and right of it on its row. Three
        max-pools cover them: the window's row maxima, then ``r`` of those in a column (above and below are the same
        pooling at two offsets), and ``r`` neighbours on the centre's row (left and right likewise). Five poolings,
        one per part, took 0.02 ms more in TensorRT 8.5 at 480x640 (docs/tensorrt.md).
    """
    radius = window // 2
    height, width = heatmap.shape[-2:]
    row_max = F.max_pool2d(heatmap, (1, window), stride=1)
    rows_of_r = F.max_pool2d(row_max, (radius, 1), stride=1)
    above, below = rows_of_r[..., : height - 2 * radius, :], rows_of_r[..., radius + 1 :, :]
    centre_row = heatmap[..., radius : height - radius, :]
    pixels_of_r = F.max_pool2d(centre_row, (1, radius), stride=1)
    left, right = pixels_of_r[..., : width - 2 * radius], pixels_of_r[..., radius + 1 :]
    return torch.maximum(torch.maximum(above, below), torch.maximum(left, right))


def candidate_scores(heatmap: torch.Tensor, window: int, score_threshold: float) -> torch.Tensor:
    """Scores of the keypoint candidates, flattened in raster order, ``score_threshold`` everywhere else.

    Args:
        heatmap: ``[1, 1, H, W]`` detection logits.

    Returns:
        ``[1, H * W]``: the heatmap value at every strict maximum above ``score_threshold``; every other position
        holds ``score_threshold`` itself, which no candidate equals, so no out-of-range sentinel is needed.
    """
    radius = window // 2
    height, width = heatmap.shape[-2:]
    centre = heatmap[..., radius : height - radius, radius : width - radius]
    is_candidate = (centre > neighbourhood_max(heatmap, window)) & (centre > score_threshold)
    interior = torch.where(is_candidate, centre, score_threshold)
    padded = F.pad(interior, (radius,) * 4, value=score_threshold)
    return padded.reshape(1, height * width)


def block_maxima(
    candidates: torch.Tensor, height: int, width: int, window: int, floor_value: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reduce the candidate map to one entry per ``b x b`` block, ``b = (window + 1) // 2``, losing no candidate.

    Two strict maxima are more than ``(window - 1) / 2`` pixels apart along some axis (each would otherwise lie in
    the other's window and exceed it), and any two pixels of a ``b x b`` block are closer than that: a block holds at
    most one candidate. For window 5 that is a 3x3 block, nine times fewer elements for the top-K.

    Args:
        candidates: ``[1, H * W]`` candidate scores in raster order, ``floor_value`` where there is no candidate.

    Returns:
        ``[1, B]`` block scores (the block's candidate, else ``floor_value``), blocks in raster order, and int64
        ``[B]`` the raster index of that candidate (where there is none, an index inside the image).
    """
    side = (window + 1) // 2
    rows, columns = -(-height // side), -(-width // side)
    grid = F.pad(
        candidates.reshape(1, 1, height, width),
        (0, columns * side - width, 0, rows * side - height),
        value=floor_value,
    )
    scores = F.max_pool2d(grid, side, stride=side).reshape(1, rows * columns)
    # The candidate's place inside its block, 0 .. side*side-1: at most one term of each sum is non-zero, and the
    # sums are small integers, exact in float16.
    place_in_block = torch.arange(side * side, dtype=torch.float32, device=grid.device).reshape(side, side)
    place_in_block = place_in_block.repeat(rows, columns)
    is_candidate = (grid > floor_value).to(torch.float32)
    place = F.avg_pool2d(is_candidate * place_in_block, side, stride=side).mul(side * side).round().to(torch.int64)
    # Blocks of the padding hold no candidate; their origin is 0 so that every index stays inside the image.
    block_row = torch.arange(rows, dtype=torch.int64, device=grid.device).reshape(rows, 1) * side
    block_column = torch.arange(columns, dtype=torch.int64, device=grid.device).reshape(1, columns) * side
    inside = (block_row < height) & (block_column < width)
    block_origin = torch.where(inside, block_row * width + block_column, 0).reshape(rows * columns)
    offset_in_image = (
        torch.arange(side, dtype=torch.int64, device=grid.device).reshape(side, 1) * width
        + torch.arange(side, device=grid.device)
    )
    return scores, block_origin + offset_in_image.reshape(-1).index_select(0, place.reshape(rows * columns))


def top_k_in_rounds(
    scores: torch.Tensor, k: int, floor_value: float, round_size: int = TRT_TOPK_ROUND
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest of each row of ``scores [R, N]``, descending, ties in index order, with no TopK above
    ``round_size``.

    One TopK returns the first block of the global order; each next round runs TopK again over what is left, where
    "left" is everything after the previous round's last element in that order: a smaller score, or an equal score
    at a larger index. ``floor_value`` (the threshold) marks taken elements; it is below every candidate. Relies on
    ONNX TopK returning equal values in index order (TensorRT 8.5 does: docs/tensorrt.md).

    Returns:
        values ``[R, k]`` and int64 indices ``[R, k]`` into each row.
    """
    count = scores.shape[1]
    positions = torch.arange(count, dtype=torch.int64, device=scores.device).unsqueeze(0)
    values: list[torch.Tensor] = []
    indices: list[torch.Tensor] = []
    remaining = scores
    taken = 0
    while taken < k:
        round_k = min(round_size, k - taken)
        round_values, round_indices = torch.topk(remaining, round_k, dim=1, largest=True, sorted=True)
        values.append(round_values)
        indices.append(round_indices)
        taken += round_k
        if taken < k:
            last_value = round_values[:, -1:]
            last_index = round_indices[:, -1:]
            after_last = (remaining < last_value) | ((remaining == last_value) & (positions > last_index))
            remaining = torch.where(after_last, remaining, floor_value)
    if len(values) == 1:
        return values[0], indices[0]
    return torch.cat(values, dim=1), torch.cat(indices, dim=1)


def top_k_rows(count: int, k: int) -> int:
    """How many rows :func:`top_k` splits ``count`` elements into: the most, a power of two dividing ``count``, that
    leaves every row at least :data:`TOP_K_ROW_FACTOR` times ``k`` elements (1: no split)."""
    rows = 1
    while count % (2 * rows) == 0 and count // (2 * rows) >= TOP_K_ROW_FACTOR * k:
        rows *= 2
    return rows


def top_k(
    scores: torch.Tensor, k: int, floor_value: float, round_size: int = TRT_TOPK_ROUND
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest of ``scores [1, N]``, descending, ties in index order: :func:`top_k_in_rounds` over the
    ``k`` largest of each of :func:`top_k_rows` equal rows.

    The global ``k`` largest are among the ``k`` largest of the rows that hold them, so the second TopK over the
    rows' ``R * k`` finds them; its candidates lie row after row, each row's in descending order with ties in index
    order, so equal scores keep the order of their indices. TensorRT 8.5 runs TopK over one long row slowly: at
    480x640 K=2048, 34,240 blocks in one TopK took 0.24 ms, in four rows then 8,192 candidates 0.16 ms
    (docs/tensorrt.md).

    Returns:
        values ``[1, k]`` and int64 indices ``[1, k]`` into ``scores``.
    """
    count = scores.shape[1]
    rows = top_k_rows(count, k)
    if rows == 1:
        return top_k_in_rounds(scores, k, floor_value, round_size)
    length = count // rows
    row_values, row_indices = top_k_in_rounds(scores.reshape(rows, length), k, floor_value, round_size)
    row_starts = torch.arange(rows, dtype=torch.int64, device=scores.device).reshape(rows, 1) * length
    candidates = (row_indices + row_starts).reshape(rows * k)
    values, picks = top_k_in_rounds(row_values.reshape(1, rows * k), k, floor_value, round_size)
    return values, candidates.index_select(0, picks.reshape(k)).reshape(1, k)


def normalise_rows(descriptors: torch.Tensor) -> torch.Tensor:
    """L2-normalise the rows of ``[K, D]`` without leaving float16's range; all-zero rows stay zero.

    Dividing by the largest magnitude first puts every row in [-1, 1] with one entry of exactly 1, so the squared
    norm lies in [1, D] and needs no epsilon.
    """
    largest = descriptors.abs().amax(dim=1, keepdim=True)
    scaled = descriptors / torch.where(largest > 0, largest, 1.0)
    norm = scaled.mul(scaled).sum(dim=1, keepdim=True).sqrt()
    # not clamp: its open upper bound is a float32 max
    return scaled / torch.maximum(norm, torch.ones(1, device=norm.device))


class DiskPipeline(nn.Module):
    """kornia's DISK plus pre- and post-processing, with the engine contract's inputs and outputs.

    Args:
        disk: kornia DISK (its U-Net and weights are used as they are).
        info: the export settings (size, K, input format, NMS window, threshold, instance norms).

    Forward:
        image: ``[1, H, W, C]`` pixel values 0..255, uint8 or float32, in ``info.input_format``.
        Returns ``keypoints [1, K, 2]`` float32 (x, y), ``scores [1, K]`` float32 descending,
        ``descriptors [1, K, 128]`` float32 unit rows, ``num_keypoints [1]`` int32; slots past
        ``num_keypoints`` are zero.
    """

    def __init__(self, disk: DISK, info: ModelInfo) -> None:
        super().__init__()
        info.validate()
        self.unet = DiskUNet(disk.unet, info.instance_norm)
        self.descriptor_head = SparseDescriptorHead(
            head_from(last_convolution(disk.unet), slice(0, DESCRIPTOR_DIM)), info.height, info.width
        )
        self.info = info
        pixel_index = torch.arange(info.height * info.width, dtype=torch.int32)
        self.register_buffer("pixel_x", pixel_index % info.width, persistent=False)
        self.register_buffer("pixel_y", pixel_index // info.width, persistent=False)

    def forward(self, image: torch.Tensor) -> Outputs:
        info = self.info
        features, heatmap = self.unet(image_to_rgb(image, info.input_format))

        candidates = candidate_scores(heatmap, info.nms_window, info.score_threshold)
        block_scores, block_index = block_maxima(
            candidates, info.height, info.width, info.nms_window, info.score_threshold
        )
        scores, blocks = top_k(block_scores, info.max_keypoints, info.score_threshold)
        flat_indices = block_index.index_select(0, blocks.reshape(info.max_keypoints))
        is_valid = scores.reshape(info.max_keypoints) > info.score_threshold
        valid_int = is_valid.to(torch.int32)

        pixel_x = self.pixel_x.index_select(0, flat_indices) * valid_int
        pixel_y = self.pixel_y.index_select(0, flat_indices) * valid_int
        keypoints = torch.stack([pixel_x, pixel_y], dim=1).to(torch.float32).unsqueeze(0)

        descriptors = normalise_rows(self.descriptor_head(features, pixel_x, pixel_y))
        descriptors = torch.where(is_valid.unsqueeze(1), descriptors, 0.0)
        scores = torch.where(is_valid, scores.reshape(info.max_keypoints), 0.0)
        return keypoints, scores.unsqueeze(0), descriptors.unsqueeze(0), count_true(is_valid)


def count_true(flags: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Number of ``True`` in a 1-D bool tensor, as int32 ``[1]``, exact in a float16 engine.

    TensorRT 8.2 reduces only floating-point tensors, and float16 counts exactly only up to 2048: each chunk of
    at most 1024 is summed as float, and the chunk counts are added as int32.
    """
    as_float = flags.to(torch.float32)
    total = as_float[0:chunk].sum(dim=0, keepdim=True).to(torch.int32)
    for start in range(chunk, flags.shape[0], chunk):
        total = total + as_float[start : start + chunk].sum(dim=0, keepdim=True).to(torch.int32)
    return total
