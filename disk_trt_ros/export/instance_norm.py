# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Instance normalisation written as plain ONNX operators, for TensorRT versions that import ONNX
``InstanceNormalization`` as a plugin (8.2 to 8.5: a cuDNN-backed plugin layer; 8.6 on have a native layer).

:class:`DecomposedInstanceNorm` computes what ``torch.nn.InstanceNorm2d`` computes in eval mode without running
statistics (kornia's DISK: ``eps=1e-5``, no affine scale and bias, no running statistics), from ``ReduceMean``,
``Sub``, ``Mul``, ``Add``, ``Sqrt`` and ``Div`` nodes, all named under the replaced norm's module path.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from disk_trt_ros.contract import InstanceNorm


class DecomposedInstanceNorm(nn.Module):
    """``torch.nn.InstanceNorm2d`` (eval mode, statistics of the instance) from reductions and arithmetic.

    Args:
        norm: the norm to reproduce; its ``eps`` and, when ``affine``, its per-channel ``weight`` and ``bias``.

    Forward:
        features: float ``[N, C, H, W]``.
        Returns ``(features - mean) / sqrt(var + eps) * weight + bias`` per sample and channel, ``mean`` and ``var``
        over ``H, W``, ``var`` biased (the mean of the squared centred values), as PyTorch's.

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
        centred = features - features.mean(dim=(2, 3), keepdim=True)
        variance = centred.mul(centred).mean(dim=(2, 3), keepdim=True)
        normalised = centred / variance.add(self.eps).sqrt()
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
