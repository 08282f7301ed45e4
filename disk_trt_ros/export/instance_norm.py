# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Instance normalisation written as plain ONNX operators, for TensorRT versions that import ONNX
``InstanceNormalization`` as a plugin (8.2 to 8.5: a cuDNN-backed plugin layer; 8.6 on have a native layer).

:class:`DecomposedInstanceNorm` computes what ``torch.nn.InstanceNorm2d`` computes in eval mode without running
statistics (kornia's DISK: ``eps=1e-5``, no affine scale and bias, no running statistics), from ``AveragePool``,
``ReduceMean``, ``Sub``, ``Mul``, ``Add``, ``Sqrt`` and ``Div`` nodes, all named under the replaced norm's module path.
Each mean over a feature map is taken in two steps, the means of small tiles and then the mean of those
(:func:`spatial_mean`): TensorRT 8.5 runs a mean over a whole 480x640 map as one pooling window per channel (0.31 ms
on an H200), the tiles as a pooling of many small windows (0.04 ms). The output is written as ``features / deviation
- mean / deviation`` so that TensorRT fuses the centring into the squaring that the variance needs instead of writing
the centred map out (docs/tensorrt.md has the measurements).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional

from disk_trt_ros.contract import InstanceNorm

# The side of the tiles whose means spatial_mean averages (cut to a divisor of the map's side where it is none).
STATISTICS_TILE = 16


def spatial_mean(features: torch.Tensor) -> torch.Tensor:
    """Mean over ``H, W`` of float ``[N, C, H, W]``, as ``[N, C, 1, 1]``: the mean of the means of equal tiles
    (``gcd(H, 16) x gcd(W, 16)``, exported as an ``AveragePool``), which is the mean of the map up to float rounding."""
    height, width = (int(side) for side in features.shape[-2:])
    tile = (math.gcd(height, STATISTICS_TILE), math.gcd(width, STATISTICS_TILE))
    if tile != (1, 1):
        features = functional.avg_pool2d(features, tile)
    return features.mean(dim=(2, 3), keepdim=True)


class DecomposedInstanceNorm(nn.Module):
    """``torch.nn.InstanceNorm2d`` (eval mode, statistics of the instance) from reductions and arithmetic.

    Args:
        norm: the norm to reproduce; its ``eps`` and, when ``affine``, its per-channel ``weight`` and ``bias``.

    Forward:
        features: float ``[N, C, H, W]``.
        Returns ``(features - mean) / sqrt(var + eps) * weight + bias`` per sample and channel, ``mean`` and ``var``
        over ``H, W`` (:func:`spatial_mean`), ``var`` biased (the mean of the squared centred values), as PyTorch's.

    Raises:
        ValueError: ``norm`` tracks running statistics (it would normalise with those, not the instance's).
    """

    def __init__(self, norm: nn.InstanceNorm2d) -> None:
        super().__init__()
        if norm.track_running_stats:
            raise ValueError("an InstanceNorm2d with running statistics normalises with those; it is not decomposed")
        self.eps = norm.eps
        self.weight = None if norm.weight is None else nn.Parameter(norm.weight.detach().reshape(1, -1, 1, 1))
        self.bias = None if norm.bias is None else nn.Parameter(norm.bias.detach().reshape(1, -1, 1, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        mean = spatial_mean(features)
        centred = features - mean
        deviation = spatial_mean(centred.mul(centred)).add(self.eps).sqrt()
        normalised = features / deviation - mean / deviation
        if self.weight is not None and self.bias is not None:
            normalised = normalised * self.weight + self.bias
        return normalised


def with_instance_norms(module: nn.Module, instance_norm: InstanceNorm) -> nn.Module:
    """``module`` itself for :attr:`InstanceNorm.ONNX`; for :attr:`InstanceNorm.DECOMPOSED`, a copy whose
    ``InstanceNorm2d`` children are :class:`DecomposedInstanceNorm` under the same names (so exported node names keep
    the module path), ``module`` left as it is."""
    if instance_norm is InstanceNorm.ONNX:
        return module
    decomposed = copy.deepcopy(module)
    for parent in list(decomposed.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.InstanceNorm2d):
                setattr(parent, name, DecomposedInstanceNorm(child))
    return decomposed
