# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""LightGlue for DISK as a static graph: parity with kornia's LightGlue (same random weights, photo keypoints),
masking of invalid slots, the TensorRT 8.2 check of the exported graph, and the onnxruntime and torch matchers.

Tolerances, from float32 rounding in other summation orders (masked sums over K slots, attention written out
instead of kornia's fused kernel), which grows with the size of the logits: each entry of the log assignment
within ``5e-6 * max |entry|`` of kornia's (about 1e-4 for the plain random weights, 4e-4 for the sharpened ones);
matches identical except rows whose decision kornia's own log assignment puts within twice that of a tie (printed);
match scores within 1e-4 relative.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("kornia", reason="kornia is not installed (pip install kornia)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from kornia.feature import LightGlue

from disk_trt_ros import __version__
from disk_trt_ros.contract import MatcherMethod, TrtCompat
from disk_trt_ros.errors import ContractError, ModelNotFoundError
from disk_trt_ros.export.lightglue_graph import MASKED_LOGIT, StaticLightGlue
from disk_trt_ros.export.lightglue_weights import random_lightglue
from disk_trt_ros.export.onnx_export import export_matcher_onnx
from disk_trt_ros.inference.base import KeypointSlots, Matches
from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeLightGlue
from disk_trt_ros.inference.torch_matchers import TorchLightGlue
from disk_trt_ros.matcher_contract import MatcherInfo
from support.matching import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    PHOTO_PAIRS,
    SLOTS,
    KorniaMatches,
    kornia_matches,
    photo_slots,
    sharpened,
    shuffled,
    unexplained_differences,
    with_count,
    with_garbage,
)
from support.paths import REPO_ROOT

LOG_ASSIGNMENT_TOLERANCE = 5e-6  # times the largest magnitude of the log assignment
SCORE_RTOL = 1e-4
# The two photo pairs, one with image 0's slots masked, one with image 1's; and a photo against its own slots
# shuffled, where most keypoints find their match.
CASES = ("sacre_coeur 200:256", "DSC_0410/0411 256:180", "DSC_0410 200:shuffled 256")


def case_slots(case: str) -> tuple[KeypointSlots, KeypointSlots]:
    if case == CASES[0]:
        return photo_slots(PHOTO_PAIRS[0][0], 200), photo_slots(PHOTO_PAIRS[0][1])
    if case == CASES[1]:
        return photo_slots(PHOTO_PAIRS[1][0]), photo_slots(PHOTO_PAIRS[1][1], 180)
    return photo_slots(PHOTO_PAIRS[1][0], 200), shuffled(photo_slots(PHOTO_PAIRS[1][0]), seed=0)


@dataclasses.dataclass(frozen=True)
class Variant:
    """Random LightGlue weights exported at a filter threshold."""

    lightglue: LightGlue
    threshold: float
    path: Path
    info: MatcherInfo


def matcher_info(threshold: float, weights: str = "random:0", sha256: str = "") -> MatcherInfo:
    return MatcherInfo(
        MatcherMethod.LIGHTGLUE, FRAME_HEIGHT, FRAME_WIDTH, SLOTS, threshold, TrtCompat.TRT_8_2, weights, sha256,
        __version__,
    )


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, Variant]:
    """``plain``: seeded random weights, threshold 0 (every mutual best pair is a match, probabilities ~1e-4);
    ``sharp``: the same made confident (:func:`sharpened`), kornia's default threshold 0.1."""
    directory = tmp_path_factory.mktemp("matchers")
    plain, sha256 = random_lightglue(0)
    result = {}
    for name, lightglue, threshold in (("plain", plain, 0.0), ("sharp", sharpened(plain), 0.1)):
        info = matcher_info(threshold, sha256=sha256)
        path = directory / f"lightglue_{name}.onnx"
        export_matcher_onnx(lightglue, info, path)
        result[name] = Variant(lightglue, threshold, path, info)
    return result


@pytest.fixture(scope="module")
def references(variants) -> dict[tuple[str, str], tuple[KeypointSlots, KeypointSlots, KorniaMatches]]:
    """kornia's matches for every variant and case, computed once."""
    result = {}
    for (name, variant), case in ((v, c) for v in variants.items() for c in CASES):
        image0, image1 = case_slots(case)
        result[name, case] = (image0, image1, kornia_matches(variant.lightglue, image0, image1, variant.threshold))
    return result


def assert_matches_kornia(
    label: str, ours: Matches, image0: KeypointSlots, reference: KorniaMatches, threshold: float
) -> None:
    count0 = image0.count
    matches0, scores0 = ours.matches0[0], ours.scores0[0]
    assert (matches0[count0:] == -1).all() and (scores0[count0:] == 0).all()
    tie_tolerance = 2 * log_assignment_tolerance(reference)
    explained, unexplained = unexplained_differences(matches0[:count0], reference, threshold, tie_tolerance)
    both = (matches0[:count0] >= 0) & (reference.matches0 >= 0)
    relative = np.abs(scores0[:count0][both] - reference.scores0[both]) / reference.scores0[both]
    print(
        f"{label}: {int((reference.matches0 >= 0).sum())} kornia matches, {len(explained)} differ as near-ties "
        f"{explained}, largest relative score difference {relative.max():.2e}"
    )
    assert not unexplained, unexplained
    assert len(explained) <= 0.02 * count0
    assert (reference.matches0 >= 0).sum() >= 5, "too few matches for a meaningful comparison"
    assert relative.max() <= SCORE_RTOL
    assert ((scores0 > threshold) == (matches0 >= 0)).all()


def log_assignment_tolerance(reference: KorniaMatches) -> float:
    return LOG_ASSIGNMENT_TOLERANCE * float(np.abs(reference.log_assignment).max())


@pytest.mark.parametrize("name", ["plain", "sharp"])
def test_log_assignment_of_the_static_module_equals_kornias(variants, references, name):
    variant = variants[name]
    module = StaticLightGlue(variant.lightglue, variant.info).eval()
    for case in CASES:
        image0, image1, reference = references[name, case]
        count0, count1 = image0.count, image1.count
        stacked = [torch.from_numpy(np.concatenate([a, b])) for a, b in zip(
            (image0.keypoints, image0.descriptors, image0.num_keypoints),
            (image1.keypoints, image1.descriptors, image1.num_keypoints),
        )]
        with torch.no_grad():
            valid, log_assignment = module.assign(*stacked)
        ours = log_assignment[0].numpy()
        difference = np.abs(ours[:count0, :count1] - reference.log_assignment)
        tolerance = log_assignment_tolerance(reference)
        print(f"{name} {case}: largest log-assignment difference {difference.max():.2e} (tolerance {tolerance:.2e})")
        assert difference.max() <= tolerance
        assert (ours[count0:] == MASKED_LOGIT).all() and (ours[:, count1:] == MASKED_LOGIT).all()
        assert valid.sum(dim=1).tolist() == [count0, count1]


@pytest.mark.parametrize("name", ["plain", "sharp"])
def test_onnxruntime_and_torch_matchers_give_kornias_matches(variants, references, name):
    variant = variants[name]
    matchers = (
        OnnxRuntimeLightGlue(str(variant.path), threads=2),
        TorchLightGlue(StaticLightGlue(variant.lightglue, variant.info), "cpu"),
    )
    for matcher in matchers:
        for case in CASES:
            image0, image1, reference = references[name, case]
            matches = matcher.match(image0, image1)
            assert matches.matches0.dtype == np.int32 and matches.scores0.dtype == np.float32
            assert_matches_kornia(f"{matcher.name} {name} {case}", matches, image0, reference, variant.threshold)


def test_what_invalid_slots_hold_does_not_change_the_matches(variants):
    matcher = OnnxRuntimeLightGlue(str(variants["sharp"].path), threads=2)
    image0, image1 = photo_slots(PHOTO_PAIRS[1][0], 150), photo_slots(PHOTO_PAIRS[1][1], 210)
    clean = matcher.match(image0, image1)
    noisy = matcher.match(with_garbage(image0, 5), with_garbage(image1, 6))
    np.testing.assert_array_equal(noisy.matches0, clean.matches0)
    np.testing.assert_array_equal(noisy.scores0, clean.scores0)
    assert clean.count > 0 and clean.matches0.max() < 210 and (clean.matches0[0, 150:] == -1).all()


def test_an_image_without_keypoints_gets_no_match(variants):
    matcher = OnnxRuntimeLightGlue(str(variants["plain"].path), threads=2)
    image, empty = photo_slots(PHOTO_PAIRS[0][0]), with_count(photo_slots(PHOTO_PAIRS[0][1]), 0)
    for first, second in ((image, empty), (empty, image), (empty, empty)):
        matches = matcher.match(first, second)
        assert matches.count == 0 and not matches.scores0.any()


def test_the_exported_graph_passes_the_tensorrt_8_2_check(variants):
    path = variants["sharp"].path
    check = subprocess.run(
        [sys.executable, "-m", "disk_trt_ros", "check", str(path), "--trt", "8.2"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )
    assert check.returncode == 0 and check.stdout.strip() == "ok", check.stdout + check.stderr
    model = onnx.load(str(path))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [13]
    operators = {node.op_type for node in model.graph.node}
    assert not operators & {"NonZero", "Mod", "TopK", "Shape", "Loop", "If", "ScatterND"}, operators
    signature = {
        value.name: (tuple(d.dim_value for d in value.type.tensor_type.shape.dim), value.type.tensor_type.elem_type)
        for value in list(model.graph.input) + list(model.graph.output)
    }
    assert signature == {
        spec.name: (spec.shape, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(spec.dtype)))
        for spec in variants["sharp"].info.tensor_specs()
    }


def test_torch_matcher_rebuilds_the_model_from_its_metadata(variants, tmp_path):
    image0, image1 = photo_slots(PHOTO_PAIRS[0][0], 120), photo_slots(PHOTO_PAIRS[0][1], 140)
    path = variants["plain"].path
    rebuilt = TorchLightGlue(str(path), "cpu").match(image0, image1)
    exported = OnnxRuntimeLightGlue(str(path), threads=2).match(image0, image1)
    np.testing.assert_array_equal(rebuilt.matches0, exported.matches0)
    np.testing.assert_allclose(rebuilt.scores0, exported.scores0, rtol=SCORE_RTOL, atol=0)
    other = tmp_path / "other_weights.onnx"
    export_matcher_onnx(random_lightglue(1)[0], matcher_info(0.0, weights="random:1", sha256="0" * 64), other)
    with pytest.raises(ContractError, match="have sha256 .* but .* was exported from 0000"):
        TorchLightGlue(str(other), "cpu")


def test_onnxruntime_matcher_refuses_a_model_that_is_not_a_matcher(export_model):
    extractor = export_model()
    with pytest.raises(ContractError, match="lacks 'disk_trt_ros.matcher.method'.*export-matcher"):
        OnnxRuntimeLightGlue(str(extractor.path))
    with pytest.raises(ModelNotFoundError, match="no such file; export a model with 'python -m disk_trt_ros export-m"):
        OnnxRuntimeLightGlue(str(extractor.path) + ".missing")
