# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""DISK's descriptor head, evaluated at the keypoints only.

kornia's DISK computes 128 descriptor channels at every pixel with one ``k x k`` convolution ("same" zero padding)
over the U-Net's last features, then reads them at the ``K`` keypoints: at 480x640 that convolution is four fifths
of the network's arithmetic (79 of 99 GMAC) for the ``K`` of 307,200 pixels that are used.
:class:`SparseDescriptorHead` gathers each keypoint's ``k x k`` window of features and applies the same weights with
a stride of ``k``: the same products, summed in another order (float32 rounding apart, the descriptors kornia
reads), for ``K / (H * W)`` of the arithmetic. Taps outside the image read zero, as the padding does.

The gather is one ``Gather`` of flat indices from ``[C, H * W]``; indices and the inside-the-image test stay integer
(TensorRT 8.2's parser rules: no ``Mod``, static shapes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SparseDescriptorHead(nn.Module):
    """A "same"-padded ``k x k`` convolution (odd ``k``), evaluated at given pixels.

    Args:
        conv: the dense head whose ``weight [D, C, k, k]`` and ``bias [D]`` are used (copied).
        height, width: the feature map's size.

    Forward:
        features: float ``[1, C, H, W]``.
        pixel_x, pixel_y: int32 ``[K]`` pixel positions inside the map.
        Returns ``[K, D]``: row ``i`` is the dense convolution's output at ``(pixel_y[i], pixel_x[i])``.
    """

    def __init__(self, conv: nn.Conv2d, height: int, width: int) -> None:
        super().__init__()
        kernel = conv.kernel_size[0]
        same = conv.padding in ("same", (kernel // 2, kernel // 2))
        if conv.kernel_size != (kernel, kernel) or kernel % 2 != 1 or not same or conv.stride != (1, 1):
            raise ValueError(f"expected an odd square 'same' convolution of stride 1, got kernel {conv.kernel_size}, "
                             f"padding {conv.padding}, stride {conv.stride}")
        self.kernel, self.height, self.width = kernel, height, width
        self.weight = nn.Parameter(conv.weight.detach().clone())
        self.bias = nn.Parameter(conv.bias.detach().clone())
        self.register_buffer("taps", torch.arange(kernel, dtype=torch.int32) - kernel // 2, persistent=False)

    def forward(self, features: torch.Tensor, pixel_x: torch.Tensor, pixel_y: torch.Tensor) -> torch.Tensor:
        count, kernel, channels = pixel_x.shape[0], self.kernel, features.shape[1]
        rows = pixel_y.reshape(1, count, 1) + self.taps.reshape(kernel, 1, 1)  # [k, K, 1]: tap row, keypoint
        columns = pixel_x.reshape(1, count, 1) + self.taps.reshape(1, 1, kernel)  # [1, K, k]: keypoint, tap column
        inside = (rows >= 0) & (rows < self.height) & (columns >= 0) & (columns < self.width)  # [k, K, k]
        flat = torch.where(inside, rows * self.width + columns, 0).reshape(kernel * count * kernel)
        windows = features.reshape(channels, self.height * self.width).index_select(1, flat)
        # [1, C, k, K * k]: keypoint i's window in columns i*k .. i*k + k - 1, read by one stride-k convolution (a
        # 1x1 convolution over [C * k * k, K] measured slower in TensorRT 8.5: docs/tensorrt.md)
        windows = windows.reshape(1, channels, kernel, count * kernel)
        windows = windows * inside.reshape(1, 1, kernel, count * kernel).to(windows.dtype)
        descriptors = F.conv2d(windows, self.weight, self.bias, stride=kernel)  # [1, D, 1, K]
        return descriptors.reshape(-1, count).transpose(0, 1)
