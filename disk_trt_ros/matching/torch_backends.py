"""Matchers that run in torch, on CUDA when available, else the CPU (needs torch).

They take numpy slots and return numpy :class:`Matches` (host copies and synchronisation included, as the
extractor's backends do). On CUDA, matrix products keep strict float32 (no TF32).
"""

from __future__ import annotations

import numpy as np
import torch

from disk_trt_ros.matching.backends import Matcher
from disk_trt_ros.matching.contract import KeypointSlots, Matches
from disk_trt_ros.matching.mnn import MnnSettings
from disk_trt_ros.matching.mnn_torch import mutual_nearest_neighbours_torch, strict_float32_matmul


def pick_device(device: str | None) -> torch.device:
    """``device``, or CUDA when available, else the CPU."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def slots_on(image: KeypointSlots, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An image's slots as torch tensors on ``device``: keypoints, descriptors, num_keypoints."""
    arrays = (image.keypoints, image.descriptors, image.num_keypoints)
    return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays)  # type: ignore[return-value]


def to_matches(matches0: torch.Tensor, scores0: torch.Tensor) -> Matches:
    return Matches(matches0.cpu().numpy(), scores0.cpu().numpy())


class TorchMnnMatcher(Matcher):
    """Mutual nearest neighbours in torch (:mod:`disk_trt_ros.matching.mnn_torch`); equal to the numpy matcher."""

    name = "mnn-torch"

    def __init__(self, max_keypoints: int, settings: MnnSettings = MnnSettings(), device: str | None = None) -> None:
        super().__init__(max_keypoints)
        settings.validate()
        self.settings = settings
        self.device = pick_device(device)

    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        _, descriptors0, count0 = slots_on(image0, self.device)
        _, descriptors1, count1 = slots_on(image1, self.device)
        with torch.inference_mode():
            outputs = mutual_nearest_neighbours_torch(descriptors0, count0, descriptors1, count1, self.settings)
            return to_matches(*outputs)

    def describe(self) -> str:
        return f"{super().describe()}, {self.settings}, device {self.device}"

