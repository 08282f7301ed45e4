# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""kornia's DISK U-Net as the export computes it: the same weights and operations, arranged for TensorRT.

Two changes of arrangement, neither of the arithmetic: the last convolution's heatmap channel is a convolution of its
own (:func:`head_from`; the descriptor channels go to :mod:`~disk_trt_ros.export.descriptor_head`), and the last
block's norm and activation run on the upsampled map and the skip apart, before their concatenation
(:class:`PartwiseGate`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from disk_trt_ros.contract import DESCRIPTOR_DIM, InstanceNorm
from disk_trt_ros.export.instance_norm import with_instance_norms


class PartwiseGate(nn.Module):
    """The instance norm and PReLU that open a kornia DISK ``Conv`` block, applied to each part of the block's
    concatenated input apart, the results concatenated.

    Both act on each channel alone, so this computes what the block computes on the concatenation: the same
    operations on the same values (ONNX Runtime's outputs are bit-identical). In a TensorRT 8.5 engine each part's
    result is written into the concatenation, where the upsampled map was copied into it first: at 480x640 K=2048
    the ``fp16-unet`` engine with the instance-norm plugin took 0.1 ms less (docs/tensorrt.md).

    Args:
        norm: the block's ``InstanceNorm2d`` (statistics of the instance, as kornia's).
        gate: the block's ``PReLU``, one slope per channel or one for all.
        channels: each part's channel count, in the order of the concatenation.

    Forward:
        parts: float ``[N, C_i, H, W]``, one per entry of ``channels``.
        Returns ``[N, sum(C_i), H, W]``.

    Raises:
        ValueError: ``norm`` tracks running statistics, or ``channels`` do not add up to its channels.
    """

    def __init__(self, norm: nn.InstanceNorm2d, gate: nn.PReLU, channels: Sequence[int]) -> None:
        super().__init__()
        if norm.track_running_stats or sum(channels) != norm.num_features:
            raise ValueError(f"expected an InstanceNorm2d without running statistics over {sum(channels)} channels, "
                             f"got {norm}")
        starts = [sum(channels[:index]) for index in range(len(channels))]
        parts = [slice(start, start + count) for start, count in zip(starts, channels)]
        self.norms = nn.ModuleList(_norm_part(norm, part) for part in parts)
        self.activations = nn.ModuleList(_prelu_part(gate, part) for part in parts)

    def forward(self, parts: Sequence[torch.Tensor]) -> torch.Tensor:
        gated = [activation(norm(part)) for part, norm, activation in zip(parts, self.norms, self.activations)]
        return torch.cat(gated, dim=1)


def _norm_part(norm: nn.InstanceNorm2d, channels: slice) -> nn.InstanceNorm2d:
    part = nn.InstanceNorm2d(channels.stop - channels.start, eps=norm.eps, affine=norm.affine)
    if norm.affine:
        with torch.no_grad():
            part.weight.copy_(norm.weight[channels])
            part.bias.copy_(norm.bias[channels])
    return part


def _prelu_part(gate: nn.PReLU, channels: slice) -> nn.PReLU:
    slopes = gate.weight if gate.num_parameters == 1 else gate.weight[channels]
    part = nn.PReLU(slopes.numel())
    with torch.no_grad():
        part.weight.copy_(slopes)
    return part


class DiskUNet(nn.Module):
    """kornia's DISK U-Net up to its last convolution, and that convolution's heatmap channel.

    The last convolution's 128 descriptor channels are left to
    :class:`~disk_trt_ros.export.descriptor_head.SparseDescriptorHead`, which computes them at the keypoints only;
    its heatmap channel is a convolution of its own (``heatmap_head``), without a concatenation that would make the
    heatmap share an fp16 buffer in an engine. The last block's norm and activation are a :class:`PartwiseGate`
    (``last_gate``).

    Args:
        unet: kornia's DISK U-Net (left as it is).
        instance_norm: how its instance norms are exported (:func:`with_instance_norms`).

    Forward:
        rgb: float32 ``[1, 3, H, W]`` in [0, 1].
        Returns the features the last convolution reads ``[1, C, H, W]`` (C = 80 for kornia's DISK) and the heatmap
        ``[1, 1, H, W]`` (logits).
    """

    def __init__(self, unet: nn.Module, instance_norm: InstanceNorm) -> None:
        super().__init__()
        last = unet.path_up[-1]
        norm, gate = last.conv[0], last.conv[1]  # kornia's Conv block: norm, PReLU, dropout, convolution
        self.last_gate = with_instance_norms(PartwiseGate(norm, gate, (last.bottom_, last.horizontal_)), instance_norm)
        unet = with_instance_norms(unet, instance_norm)
        self.path_down = unet.path_down
        self.path_up = unet.path_up
        self.heatmap_head = head_from(last_convolution(unet), slice(DESCRIPTOR_DIM, DESCRIPTOR_DIM + 1))

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = [rgb]
        for layer in self.path_down:
            features.append(layer(features[-1]))
        skips = features[-2::-1]
        bottom = features[-1]
        for layer, skip in zip(self.path_up[:-1], skips):
            bottom = layer(bottom, skip)
        combined = self.last_gate([self.path_up[-1].upsample(bottom), skips[len(self.path_up) - 1]])
        return combined, self.heatmap_head(combined)


def last_convolution(unet: nn.Module) -> nn.Conv2d:
    """The convolution that ends kornia's DISK U-Net (128 descriptor channels, then the heatmap)."""
    return unet.path_up[-1].conv[-1]


def head_from(conv: nn.Conv2d, channels: slice) -> nn.Conv2d:
    """A convolution computing ``channels`` of ``conv``'s output with ``conv``'s weights."""
    head = nn.Conv2d(conv.in_channels, channels.stop - channels.start, conv.kernel_size, padding=conv.padding)
    with torch.no_grad():
        head.weight.copy_(conv.weight[channels])
        head.bias.copy_(conv.bias[channels])
    return head
