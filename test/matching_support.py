"""Helpers for the matching tests: keypoint slots from the real photos."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from disk_trt_ros.contract import InputFormat, ModelInfo, TrtCompat
from disk_trt_ros.export.pipeline import DiskPipeline
from disk_trt_ros.export.weights import random_disk
from disk_trt_ros.matching.contract import KeypointSlots
from support.images import load_photo
from support.paths import PHOTO_DIR

PHOTO_PAIRS = (("sacre_coeur1.jpg", "sacre_coeur2.jpg"), ("DSC_0410.JPG", "DSC_0411.JPG"))
FRAME_HEIGHT, FRAME_WIDTH = 240, 320
SLOTS = 256


@functools.lru_cache(maxsize=None)
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

