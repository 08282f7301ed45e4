# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Matchers that run in torch, on CUDA when available, else the CPU (needs torch; LightGlue also kornia): mutual
nearest neighbours, and LightGlue's static module (the one the ONNX graph is exported from).

Mutual nearest neighbours follow :mod:`disk_trt_ros.inference.mnn`'s rule, computed over all ``K`` slots with masks
instead of slicing the valid ones, so the counts stay on the device (no synchronisation with the host) and the shapes
never change. The float32 operations are those of the numpy reference, one by one. On CUDA, TF32 matrix products are
switched off (:func:`strict_float32_matmul`): they would round the similarities to 10 bits of mantissa.

Both matchers take numpy slots and return numpy :class:`~disk_trt_ros.inference.base.Matches` (host copies and
synchronisation included, as the extractor's backends do).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import numpy as np
import torch

from disk_trt_ros.contract import Precision
from disk_trt_ros.export.lightglue_graph import StaticLightGlue
from disk_trt_ros.inference.base import (
    KeypointSlots,
    Matcher,
    MatcherOptions,
    Matches,
    MnnSettings,
    require_matcher_model,
)
from disk_trt_ros.inference.mnn import ignored_model_report
from disk_trt_ros.inference.torch_backend import pick_device
from disk_trt_ros.matcher_contract import NO_MATCH, read_onnx_matcher_info


def valid_slots(num_keypoints: torch.Tensor, slots: int) -> torch.Tensor:
    """bool ``[slots]``: True for the first ``num_keypoints`` (an int tensor ``[1]`` on the slots' device)."""
    return torch.arange(slots, device=num_keypoints.device) < num_keypoints.reshape(1).to(torch.int64)


def mutual_nearest_neighbours_torch(
    descriptors0: torch.Tensor,
    num_keypoints0: torch.Tensor,
    descriptors1: torch.Tensor,
    num_keypoints1: torch.Tensor,
    settings: MnnSettings = MnnSettings(),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Match two images' descriptor slots (see :func:`disk_trt_ros.inference.mnn.mutual_nearest_neighbours`).

    Args:
        descriptors0, descriptors1: float32 ``[1, K0, D]`` and ``[1, K1, D]`` on one device.
        num_keypoints0, num_keypoints1: integer ``[1]`` on the same device.

    Returns:
        ``matches0`` int32 ``[1, K0]`` (slot in image 1 or -1) and ``scores0`` float32 ``[1, K0]`` (cosine
        similarity, 0 where unmatched), on that device.
    """
    slots0, slots1 = descriptors0.shape[1], descriptors1.shape[1]
    valid0 = valid_slots(num_keypoints0, slots0)
    valid1 = valid_slots(num_keypoints1, slots1)
    with strict_float32_matmul():
        similarity = descriptors0[0] @ descriptors1[0].T
    distance = torch.sqrt(torch.clamp(2.0 - 2.0 * similarity, min=0.0))
    infinity = torch.tensor(float("inf"), device=distance.device)
    masked = torch.where(valid0[:, None] & valid1[None, :], distance, infinity)
    nearest1 = masked.argmin(dim=1)  # torch's argmin returns the first of equal minima
    nearest0 = masked.argmin(dim=0)
    rows = torch.arange(slots0, device=distance.device)
    nearest_distance = masked.gather(1, nearest1[:, None])[:, 0]
    keep = valid0 & (nearest0[nearest1] == rows) & torch.isfinite(nearest_distance)
    if settings.ratio_threshold is not None:
        ratio_threshold = torch.tensor(settings.ratio_threshold, dtype=torch.float32, device=distance.device)
        second_in_row = _second_smallest(masked, dim=1)
        second_in_column = _second_smallest(masked, dim=0)[nearest1]
        enough = (num_keypoints0.reshape(()) >= 2) & (num_keypoints1.reshape(()) >= 2)
        keep &= enough & (nearest_distance / second_in_row <= ratio_threshold)
        keep &= nearest_distance / second_in_column <= ratio_threshold
    if settings.max_distance is not None:
        keep &= nearest_distance <= torch.tensor(settings.max_distance, dtype=torch.float32, device=distance.device)
    matches0 = torch.where(keep, nearest1, NO_MATCH).to(torch.int32)
    scores0 = torch.where(keep, similarity.gather(1, nearest1[:, None])[:, 0], 0.0)
    return matches0[None], scores0[None]


def _second_smallest(values: torch.Tensor, dim: int) -> torch.Tensor:
    """The second smallest entry along ``dim`` (ties counted), +inf where there is only one."""
    if values.shape[dim] < 2:
        return torch.full_like(values.amin(dim=dim), float("inf"))
    return values.topk(2, dim=dim, largest=False).values.select(dim, 1)


@contextlib.contextmanager
def strict_float32_matmul() -> Iterator[None]:
    """CUDA matrix products in full float32 inside the block (no TF32); the previous setting comes back after."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def slots_on(image: KeypointSlots, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An image's slots as torch tensors on ``device``: keypoints, descriptors, num_keypoints."""
    arrays = (image.keypoints, image.descriptors, image.num_keypoints)
    return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays)  # type: ignore[return-value]


def to_matches(matches0: torch.Tensor, scores0: torch.Tensor) -> Matches:
    """``matches0`` and ``scores0`` (batch of one, on any device) as numpy :class:`Matches`."""
    return Matches(matches0.cpu().numpy(), scores0.cpu().numpy())


class TorchMnnMatcher(Matcher):
    """Mutual nearest neighbours in torch, for any K; equal to :class:`~disk_trt_ros.inference.mnn.NumpyMnnMatcher`.

    Args:
        settings: the ratio test and distance threshold.
        device: ``cuda``, ``cpu`` or None (CUDA when available).
    """

    name = "mnn-torch"

    def __init__(self, settings: MnnSettings = MnnSettings(), device: str | None = None) -> None:
        super().__init__(None)
        self.settings = settings
        self.device = pick_device(device)

    @classmethod
    def create(cls, options: MatcherOptions, report: Callable[[str], None]) -> TorchMnnMatcher:
        ignored_model_report(cls.name, options, report)
        return cls(options.mnn)

    @property
    def compute_device(self) -> str:
        return str(self.device)

    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        _, descriptors0, count0 = slots_on(image0, self.device)
        _, descriptors1, count1 = slots_on(image1, self.device)
        with torch.inference_mode():
            outputs = mutual_nearest_neighbours_torch(descriptors0, count0, descriptors1, count1, self.settings)
            return to_matches(*outputs)

    def describe(self) -> str:
        return f"{super().describe()}, {self.settings}, device {self.device}"


def lightglue_for_model(model_path: str) -> StaticLightGlue:
    """Rebuild the torch module an exported matcher came from, from the weights its metadata names.

    Raises :class:`ContractError` when those weights cannot be loaded here or their sha256 differs from the model's.
    """
    from disk_trt_ros.export.lightglue_weights import load_lightglue
    from disk_trt_ros.export.weights import weights_of_model

    info = read_onnx_matcher_info(model_path)
    lightglue = weights_of_model(load_lightglue, info.weights, info.weights_sha256, model_path, "torch matcher")
    return StaticLightGlue(lightglue, info)


class TorchLightGlue(Matcher):
    """:class:`StaticLightGlue`, the module the ONNX graph is exported from, run by torch in float32, with torch's
    fused attention (``scaled_dot_product_attention``) unless ``fused_attention`` is False.

    Args:
        source: the module, or the path of an exported matcher whose weights can be loaded here.
        device: ``cuda``, ``cpu`` or None (CUDA when available).
        fused_attention: sets the module's :attr:`StaticLightGlue.fused_attention`.
    """

    name = "lightglue-torch"

    def __init__(self, source: StaticLightGlue | str, device: str | None = None, fused_attention: bool = True) -> None:
        module = source if isinstance(source, StaticLightGlue) else lightglue_for_model(source)
        super().__init__(module.info)
        self.device = pick_device(device)
        module.fused_attention = fused_attention
        self.module = module.eval().to(self.device)

    @classmethod
    def create(cls, options: MatcherOptions, report: Callable[[str], None]) -> TorchLightGlue:
        """The module of an exported matcher (``options.model``) whose weights load here. It runs in float32 (a
        ``fp16`` precision is reported and ignored); ``options.backend.threads`` sets PyTorch's process-wide thread
        count, as for the torch backend."""
        model = require_matcher_model(options, cls.name)
        if options.backend.precision is not Precision.FP32:
            report(f"{cls.name} runs in float32; precision {options.backend.precision} is ignored")
        if options.backend.threads:
            torch.set_num_threads(options.backend.threads)
        return cls(str(model))

    @property
    def compute_device(self) -> str:
        return str(self.device)

    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        with torch.inference_mode(), strict_float32_matmul():
            return to_matches(*self.module(*slots_on(image0, self.device), *slots_on(image1, self.device)))

    def describe(self) -> str:
        return f"{super().describe()}, device {self.device}"
