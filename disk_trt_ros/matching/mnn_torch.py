"""Mutual nearest neighbours in torch, on the fixed-size slots, on any device (needs torch).

The rule is :mod:`disk_trt_ros.matching.mnn`'s, computed over all ``K`` slots with masks instead of slicing the valid
ones, so the counts stay on the device (no synchronisation with the host) and the shapes never change. The float32
operations are those of the numpy reference, one by one. On CUDA, TF32 matrix products are switched off for the
similarity: they would round it to 10 bits of mantissa.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from disk_trt_ros.matching.contract import NO_MATCH
from disk_trt_ros.matching.mnn import MnnSettings


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
    """Match two images' descriptor slots (see :func:`disk_trt_ros.matching.mnn.mutual_nearest_neighbours`).

    Args:
        descriptors0, descriptors1: float32 ``[1, K0, D]`` and ``[1, K1, D]`` on one device.
        num_keypoints0, num_keypoints1: integer ``[1]`` on the same device.

    Returns:
        ``matches0`` int32 ``[1, K0]`` (slot in image 1 or -1) and ``scores0`` float32 ``[1, K0]`` (cosine
        similarity, 0 where unmatched), on that device.
    """
    settings.validate()
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
