# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Mutual nearest neighbours: the numpy reference against the rule written as loops, the torch implementation
against the numpy one (exact), ties, masks, ratio test, distance threshold, and refused inputs."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")

import itertools

import numpy as np
import torch

from disk_trt_ros.errors import ContractError, OptionsError
from disk_trt_ros.inference.base import KeypointSlots, Matches, MnnSettings
from disk_trt_ros.inference.mnn import NumpyMnnMatcher, descriptor_distance, mutual_nearest_neighbours
from disk_trt_ros.inference.torch_matchers import TorchMnnMatcher, mutual_nearest_neighbours_torch
from support.matching import PHOTO_PAIRS, SLOTS, photo_slots, with_count, with_garbage

SETTINGS = (
    MnnSettings(),
    MnnSettings(ratio_threshold=0.9),
    MnnSettings(ratio_threshold=1.0),
    MnnSettings(max_distance=1.16),
    MnnSettings(ratio_threshold=0.95, max_distance=1.2),
)


def grid_pair(seed: int, slots0: int, slots1: int, count0: int, count1: int, dim: int = 128) -> tuple:
    """Descriptors on a 1/16 grid, so every similarity is exact in float32 whatever the summation order, with many
    exact ties: image 0 repeats some of its rows, image 1 copies rows of image 0 (drawn with replacement, so some
    twice) beside rows of its own; invalid slots are zero."""
    rng = np.random.default_rng(seed)
    descriptors0 = (rng.integers(-1, 2, (slots0, dim)) / 16).astype(np.float32)
    descriptors1 = (rng.integers(-1, 2, (slots1, dim)) / 16).astype(np.float32)
    repeats = rng.choice(slots0, size=slots0 // 8, replace=False)
    descriptors0[repeats] = descriptors0[rng.integers(0, slots0, repeats.size)]
    copies = rng.choice(slots1, size=slots1 // 2, replace=False)
    descriptors1[copies] = descriptors0[rng.integers(0, slots0, copies.size)]
    descriptors0[count0:] = 0.0
    descriptors1[count1:] = 0.0
    return (
        descriptors0[None], np.array([count0], dtype=np.int32), descriptors1[None], np.array([count1], dtype=np.int32)
    )


def rule_by_loops(descriptors0, count0, descriptors1, count1, settings: MnnSettings) -> np.ndarray:
    """The module docstring's rule, one pair at a time."""
    n0, n1 = int(count0[0]), int(count1[0])
    matches = np.full(descriptors0.shape[1], -1)
    if n0 == 0 or n1 == 0:
        return matches[None]
    distance = descriptor_distance(descriptors0[0, :n0] @ descriptors1[0, :n1].T)

    def nearest(values: list) -> int:
        return min(range(len(values)), key=lambda index: (values[index], index))

    def ratio_passes(values: list) -> bool:
        if n0 < 2 or n1 < 2:
            return False
        first, second = sorted(values)[:2]
        with np.errstate(invalid="ignore", divide="ignore"):
            return bool(np.float32(first) / np.float32(second) <= np.float32(settings.ratio_threshold))

    for i in range(n0):
        j = nearest(list(distance[i]))
        if nearest(list(distance[:, j])) != i:
            continue
        ratios_pass = ratio_passes(list(distance[i])) and ratio_passes(list(distance[:, j]))
        if settings.ratio_threshold is not None and not ratios_pass:
            continue
        if settings.max_distance is not None and not distance[i, j] <= np.float32(settings.max_distance):
            continue
        matches[i] = j
    return matches[None]


def torch_matches(descriptors0, count0, descriptors1, count1, settings: MnnSettings) -> Matches:
    outputs = mutual_nearest_neighbours_torch(
        torch.from_numpy(descriptors0), torch.from_numpy(count0), torch.from_numpy(descriptors1),
        torch.from_numpy(count1), settings,
    )
    return Matches(*(output.numpy() for output in outputs))


def assert_same(expected: Matches, actual: Matches) -> None:
    assert actual.matches0.dtype == np.int32 and actual.scores0.dtype == np.float32
    np.testing.assert_array_equal(actual.matches0, expected.matches0)
    np.testing.assert_array_equal(actual.scores0, expected.scores0)


COUNTS = ((40, 48, 40, 48), (40, 48, 33, 21), (24, 24, 0, 24), (24, 24, 1, 24), (24, 24, 2, 2), (32, 16, 32, 16))


@pytest.mark.parametrize("slots0, slots1, count0, count1", COUNTS)
def test_numpy_reference_follows_the_rule_written_as_loops(slots0, slots1, count0, count1):
    for seed, settings in itertools.product(range(3), SETTINGS):
        inputs = grid_pair(seed, slots0, slots1, count0, count1)
        result = mutual_nearest_neighbours(*inputs, settings)
        np.testing.assert_array_equal(result.matches0, rule_by_loops(*inputs, settings), err_msg=str(settings))
        assert (result.scores0[result.matches0 < 0] == 0).all()


def test_ties_go_to_the_smallest_index_and_count_in_the_ratio_test():
    unit = np.eye(128, dtype=np.float32)
    descriptors0 = np.stack([unit[0], unit[1], unit[2], unit[0]])[None]  # slots 0 and 3 are the same descriptor
    descriptors1 = np.stack([unit[5], unit[1], unit[1], unit[0], unit[2]])[None]  # slots 1 and 2 too
    inputs = (descriptors0, np.array([4], dtype=np.int32), descriptors1, np.array([5], dtype=np.int32))
    plain = mutual_nearest_neighbours(*inputs)
    # slot 0 and slot 3 both have image 1's slot 3 nearest; slot 3 of image 1 takes slot 0 (the smaller index);
    # slot 1 has image 1's slots 1 and 2 at distance 0 and takes slot 1, which takes it back.
    np.testing.assert_array_equal(plain.matches0, [[3, 1, 4, -1]])
    np.testing.assert_array_equal(plain.scores0, [[1.0, 1.0, 1.0, 0.0]])
    ratio = mutual_nearest_neighbours(*inputs, MnnSettings(ratio_threshold=1.0))
    # 0 / 0 fails: slot 0 ties with slot 3 in its column, slot 1 with slot 2 in its row; slot 2 has a clear margin.
    np.testing.assert_array_equal(ratio.matches0, [[-1, -1, 4, -1]])
    for settings in (MnnSettings(), MnnSettings(ratio_threshold=1.0)):
        assert_same(mutual_nearest_neighbours(*inputs, settings), torch_matches(*inputs, settings))


@pytest.mark.parametrize("slots0, slots1, count0, count1", COUNTS)
def test_torch_equals_the_numpy_reference_exactly_on_exact_arithmetic(slots0, slots1, count0, count1):
    for seed, settings in itertools.product(range(4), SETTINGS):
        inputs = grid_pair(seed, slots0, slots1, count0, count1)
        assert_same(mutual_nearest_neighbours(*inputs, settings), torch_matches(*inputs, settings))


@pytest.mark.parametrize("pair", PHOTO_PAIRS, ids=lambda pair: pair[0])
def test_torch_equals_the_numpy_reference_exactly_on_photo_descriptors(pair):
    for (count0, count1), settings in itertools.product(((SLOTS, SLOTS), (200, 256), (256, 131)), SETTINGS):
        image0, image1 = photo_slots(pair[0], count0), photo_slots(pair[1], count1)
        inputs = (image0.descriptors, image0.num_keypoints, image1.descriptors, image1.num_keypoints)
        expected = mutual_nearest_neighbours(*inputs, settings)
        assert_same(expected, torch_matches(*inputs, settings))
        assert expected.count > 0 or settings.max_distance is not None
        print(pair, count0, count1, settings, expected.count, "matches")


def test_what_invalid_slots_hold_does_not_matter():
    image0 = photo_slots(PHOTO_PAIRS[0][0], 150)
    image1 = photo_slots(PHOTO_PAIRS[0][1], 170)
    for settings in SETTINGS:
        clean = NumpyMnnMatcher(settings).match(image0, image1)
        assert_same(clean, NumpyMnnMatcher(settings).match(with_garbage(image0, 1), with_garbage(image1, 2)))
        torch_matcher = TorchMnnMatcher(settings, "cpu")
        assert_same(clean, torch_matcher.match(with_garbage(image0, 3), with_garbage(image1, 4)))
        assert (clean.matches0[0, 150:] == -1).all() and clean.matches0.max() < 170


def test_matches_are_mutual_and_pairs_list_them_in_slot_order():
    image0, image1 = photo_slots(PHOTO_PAIRS[1][0]), photo_slots(PHOTO_PAIRS[1][1])
    matches = NumpyMnnMatcher().match(image0, image1)
    pairs, scores = matches.pairs()
    assert pairs.dtype == np.int32 and pairs.shape == (matches.count, 2) and scores.shape == (matches.count,)
    assert len(set(pairs[:, 1])) == len(pairs) and (np.diff(pairs[:, 0]) > 0).all()
    backwards = NumpyMnnMatcher().match(image1, image0)
    assert sorted(map(tuple, backwards.pairs()[0][:, ::-1])) == sorted(map(tuple, pairs))
    similarity = np.einsum("nd,nd->n", image0.descriptors[0, pairs[:, 0]], image1.descriptors[0, pairs[:, 1]])
    np.testing.assert_allclose(scores, similarity, rtol=0, atol=1e-6)


def test_inputs_that_break_the_contract_are_refused_by_name():
    image = photo_slots(PHOTO_PAIRS[0][0])
    matcher = NumpyMnnMatcher()
    short = KeypointSlots(image.keypoints, image.descriptors[:, :, :64].copy(), image.num_keypoints)
    with pytest.raises(ContractError, match=r"descriptors1 is float32 \(1, 256, 64\), the matcher takes .* 128\)"):
        matcher.match(image, short)
    with pytest.raises(ContractError, match=r"keypoints0 is float32 \(1, 256, 2\).*K=128"):
        image.check(128, 0)  # what a matcher with a fixed K (LightGlue) does first
    too_many = KeypointSlots(image.keypoints, image.descriptors, np.array([300], dtype=np.int32))
    with pytest.raises(ContractError, match="num_keypoints0=300 is outside 0..256"):
        matcher.match(too_many, image)
    wrong_type = KeypointSlots(image.keypoints, image.descriptors, np.array([3], dtype=np.int64))
    with pytest.raises(ContractError, match="num_keypoints1 is int64"):
        matcher.match(image, wrong_type)
    with pytest.raises(ContractError, match="descriptor sizes differ: 128 in image 0, 64 in image 1"):
        mutual_nearest_neighbours(image.descriptors, image.num_keypoints, short.descriptors, short.num_keypoints)
    for arguments, message in (((0.0, None), "ratio_threshold=0.0"), ((None, 3.0), "max_distance=3.0")):
        with pytest.raises(OptionsError, match=message):
            MnnSettings(*arguments)


def test_an_empty_image_gives_no_match():
    image0, image1 = photo_slots(PHOTO_PAIRS[0][0]), with_count(photo_slots(PHOTO_PAIRS[0][1]), 0)
    for matcher in (NumpyMnnMatcher(), TorchMnnMatcher(device="cpu")):
        for first, second in ((image0, image1), (image1, image0)):
            matches = matcher.match(first, second)
            assert matches.count == 0 and not matches.scores0.any()
