"""Matchers that run in torch, on CUDA when available, else the CPU (needs torch; LightGlue also kornia).

Both take numpy slots and return numpy :class:`Matches` (host copies and synchronisation included, as the
extractor's backends do). On CUDA, matrix products keep strict float32 (no TF32).
"""

from __future__ import annotations

import numpy as np
import torch

from disk_trt_ros.contract import ContractError
from disk_trt_ros.matching.backends import Matcher
from disk_trt_ros.matching.contract import KeypointSlots, Matches, read_onnx_matcher_info
from disk_trt_ros.matching.lightglue_graph import StaticLightGlue
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


def lightglue_for_model(model_path: str) -> StaticLightGlue:
    """Rebuild the torch module an exported matcher came from, from the weights its metadata names.

    Raises :class:`ContractError` when those weights cannot be loaded here or their sha256 differs from the model's.
    """
    from disk_trt_ros.errors import WeightsError
    from disk_trt_ros.matching.lightglue_weights import load_lightglue

    info = read_onnx_matcher_info(model_path)
    try:
        lightglue, sha256 = load_lightglue(info.weights)
    except WeightsError as error:
        raise ContractError(f"the torch matcher needs the weights of {model_path}: {error}") from error
    if sha256 != info.weights_sha256:
        raise ContractError(
            f"weights '{info.weights}' have sha256 {sha256}, but {model_path} was exported from {info.weights_sha256}; "
            "give the torch matcher the checkpoint the model was exported from"
        )
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
        super().__init__(module.info.max_keypoints)
        self.info = module.info
        self.device = pick_device(device)
        module.fused_attention = fused_attention
        self.module = module.eval().to(self.device)

    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        with torch.inference_mode(), strict_float32_matmul():
            return to_matches(*self.module(*slots_on(image0, self.device), *slots_on(image1, self.device)))

    def describe(self) -> str:
        info = self.info
        return (
            f"{super().describe()}, {info.width}x{info.height} frame, threshold {info.filter_threshold}, "
            f"weights={info.weights}, device {self.device}"
        )
