# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The matchers' tests: keypoint slots from the real photos, kornia's LightGlue as the reference, and the check that
every match that differs from kornia's is a float near-tie (imports PyTorch and kornia)."""

from __future__ import annotations

import copy
import dataclasses
import functools

import numpy as np
import pytest
import torch
from kornia.feature import LightGlue

from disk_trt_ros.contract import InputFormat, ModelInfo, TrtCompat
from disk_trt_ros.export.pipeline import DiskPipeline
from disk_trt_ros.export.weights import random_disk
from disk_trt_ros.inference.base import KeypointSlots
from support.images import load_photo
from support.paths import PHOTO_DIR

PHOTO_PAIRS = (("sacre_coeur1.jpg", "sacre_coeur2.jpg"), ("DSC_0410.JPG", "DSC_0411.JPG"))
FRAME_HEIGHT, FRAME_WIDTH = 240, 320
SLOTS = 256


@functools.cache
def _extracted(name: str) -> KeypointSlots:
    disk, _ = random_disk(0)
    info = ModelInfo(
        FRAME_HEIGHT, FRAME_WIDTH, SLOTS, InputFormat.RGB, "float32", 5, 0.0, TrtCompat.TRT_8_2, "random:0", "", "test"
    )
    image = torch.from_numpy(load_photo(PHOTO_DIR / name, FRAME_HEIGHT, FRAME_WIDTH)).to(torch.float32)[None]
    with torch.no_grad():
        keypoints, _, descriptors, count = DiskPipeline(disk, info).eval()(image)
    return KeypointSlots(keypoints.numpy(), descriptors.numpy(), count.numpy())


def photo_slots(name: str, count: int | None = None) -> KeypointSlots:
    """Random-weight DISK's slots (seed 0, K=256, 240x320) on a photo of ../shared, cut to ``count`` valid slots
    (the rest zeroed, as the extractor leaves them); skips the test when the photo is absent."""
    if not (PHOTO_DIR / name).is_file():
        pytest.skip(f"{PHOTO_DIR / name} is absent (../shared holds the photos)")
    slots = _extracted(name)
    assert slots.count == SLOTS, f"random DISK found only {slots.count} keypoints on {name}"
    return with_count(slots, SLOTS if count is None else count)


def with_count(slots: KeypointSlots, count: int) -> KeypointSlots:
    """The first ``count`` slots kept valid, the others zeroed."""
    keypoints, descriptors = slots.keypoints.copy(), slots.descriptors.copy()
    keypoints[:, count:] = 0.0
    descriptors[:, count:] = 0.0
    return KeypointSlots(keypoints, descriptors, np.array([count], dtype=np.int32))


def with_garbage(slots: KeypointSlots, seed: int) -> KeypointSlots:
    """The invalid slots filled with large random values (the contract says zero; a matcher must not care)."""
    rng = np.random.default_rng(seed)
    keypoints, descriptors = slots.keypoints.copy(), slots.descriptors.copy()
    keypoints[:, slots.count:] = rng.uniform(-1e4, 1e4, keypoints[:, slots.count:].shape)
    descriptors[:, slots.count:] = rng.uniform(-1e3, 1e3, descriptors[:, slots.count:].shape)
    return KeypointSlots(keypoints, descriptors, slots.num_keypoints)


def shuffled(slots: KeypointSlots, seed: int) -> KeypointSlots:
    """The valid slots in a random order: matched against the original, a pair whose every keypoint has its true
    match (random weights match most of them)."""
    order = np.random.default_rng(seed).permutation(slots.count)
    keypoints, descriptors = slots.keypoints.copy(), slots.descriptors.copy()
    keypoints[:, : slots.count] = slots.keypoints[:, order]
    descriptors[:, : slots.count] = slots.descriptors[:, order]
    return KeypointSlots(keypoints, descriptors, slots.num_keypoints)


def sharpened(lightglue: LightGlue) -> LightGlue:
    """A copy whose last assignment layer is confident (similarities x9, matchability +3): its random weights give
    match probabilities spread over (0, 1), where plain random weights give ~1e-4."""
    sharp = copy.deepcopy(lightglue)
    assignment = sharp.log_assignment[sharp.conf.n_layers - 1]
    with torch.no_grad():
        assignment.final_proj.weight.mul_(3.0)
        assignment.final_proj.bias.mul_(3.0)
        assignment.matchability.bias.add_(3.0)
    return sharp


@dataclasses.dataclass(frozen=True)
class KorniaMatches:
    """kornia's LightGlue on the valid slots: matches0 and scores0 ``[n0]``, log assignment ``[n0, n1]``."""

    matches0: np.ndarray
    scores0: np.ndarray
    log_assignment: np.ndarray


def kornia_matches(
    lightglue: LightGlue, image0: KeypointSlots, image1: KeypointSlots, threshold: float
) -> KorniaMatches:
    """kornia's LightGlue, all layers and no pruning, with ``filter_threshold=threshold``, on the valid slots only."""
    assert lightglue.conf.depth_confidence == -1 and lightglue.conf.width_confidence == -1
    lightglue.conf.filter_threshold = threshold
    size = torch.tensor([[FRAME_WIDTH, FRAME_HEIGHT]])

    def image(slots: KeypointSlots) -> dict:
        count = slots.count
        return {
            "keypoints": torch.from_numpy(slots.keypoints[:, :count]),
            "descriptors": torch.from_numpy(slots.descriptors[:, :count]),
            "image_size": size,
        }

    with torch.no_grad():
        result = lightglue({"image0": image(image0), "image1": image(image1)})
    return KorniaMatches(
        result["matches0"][0].numpy(),
        result["matching_scores0"][0].numpy(),
        result["log_assignment"][0, :-1, :-1].numpy(),
    )


def near_tie(values: np.ndarray, tolerance: float) -> bool:
    """Whether the two largest of ``values`` lie within ``tolerance``."""
    if values.size < 2:
        return False
    top = np.sort(values)[-2:]
    return bool(top[1] - top[0] <= tolerance)


def unexplained_differences(
    ours: np.ndarray, reference: KorniaMatches, threshold: float, tolerance: float
) -> tuple[list[str], list[str]]:
    """Rows of image 0 whose match differs from kornia's, as (explained, unexplained) descriptions.

    A difference is explained by a near-tie in kornia's log assignment within ``tolerance``: the best two entries of
    the row, or of the column of either candidate match, or the best probability against the threshold.
    """
    log_assignment = reference.log_assignment
    explained, unexplained = [], []
    for row in np.flatnonzero(ours != reference.matches0):
        reasons = []
        if near_tie(log_assignment[row], tolerance):
            reasons.append("row near-tie")
        for column in {int(ours[row]), int(reference.matches0[row])} - {-1}:
            if near_tie(log_assignment[:, column], tolerance):
                reasons.append(f"column {column} near-tie")
        best = float(np.exp(log_assignment[row].max()))
        if abs(np.log(best) - np.log(max(threshold, 1e-38))) <= tolerance:
            reasons.append(f"probability {best:.6g} at the threshold {threshold}")
        description = f"row {row}: ours {ours[row]}, kornia {reference.matches0[row]}"
        (explained if reasons else unexplained).append(f"{description} ({'; '.join(reasons) or 'no tie'})")
    return explained, unexplained
