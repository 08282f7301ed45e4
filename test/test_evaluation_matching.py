# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``eval --matcher``: the matcher's quality on pairs with known answers (evaluation/matching.py), and the matching
section of the report, end to end on bags with ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from disk_trt_ros.cli import main as dispatch
from disk_trt_ros.contract import MatcherMethod
from disk_trt_ros.errors import OptionsError
from disk_trt_ros.evaluation import metrics
from disk_trt_ros.evaluation.matching import match_frames, matching_summary
from disk_trt_ros.evaluation.options import EvaluationSettings, MatchingOptions
from disk_trt_ros.evaluation.report import MATCHING_ROWS, lookup
from disk_trt_ros.inference.base import Features, MnnSettings
from disk_trt_ros.inference.mnn import NumpyMnnMatcher
from support import bags

SIZE = (320, 240)  # (width, height)
KNOWN_HOMOGRAPHY = np.array([[0.95, -0.08, 9.0], [0.07, 1.02, -4.0], [1e-4, -2e-4, 1.0]])
SHIFT = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # 10 px along x


def scene(count: int, seed: int = 0) -> Features:
    rng = np.random.default_rng(seed)
    descriptors = rng.normal(size=(count, 128)).astype(np.float32)
    descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
    keypoints = rng.uniform([40, 40], [SIZE[0] - 40, SIZE[1] - 40], (count, 2)).astype(np.float32)
    return Features(keypoints, np.linspace(1, 0, count, dtype=np.float32), descriptors)


def warped(features: Features, homography: np.ndarray, seed: int = 1) -> Features:
    """The same keypoints seen through ``homography``, in another order."""
    order = np.random.default_rng(seed).permutation(features.count)
    keypoints = metrics.warp_points(features.keypoints, homography).astype(np.float32)
    return Features(keypoints[order], features.scores, features.descriptors[order])


def test_an_identity_pair_is_all_correct_and_all_inliers() -> None:
    features = scene(200)
    pair = match_frames(NumpyMnnMatcher(), features, SIZE, features, SIZE, EvaluationSettings(), np.eye(3))
    np.testing.assert_array_equal(pair.matches, np.stack([np.arange(200)] * 2, axis=1))
    assert pair.record["matcher_matches"] == 200 and pair.record["matcher_inlier_ratio"] == 1.0
    for threshold in metrics.MMA_THRESHOLDS_PX:
        assert pair.record[f"matcher_precision_{threshold:g}px"] == 1.0
    assert pair.correct is not None and pair.correct.all() and pair.record["matching_ms"] > 0


def test_a_known_homography_makes_every_true_match_correct_and_a_wrong_one_none() -> None:
    features = scene(150)
    moved = warped(features, KNOWN_HOMOGRAPHY)
    right = match_frames(NumpyMnnMatcher(), features, SIZE, moved, SIZE, EvaluationSettings(), KNOWN_HOMOGRAPHY)
    assert right.record["matcher_matches"] == 150
    assert right.record["matcher_precision_1px"] == 1.0 and right.record["matcher_inlier_ratio"] == 1.0
    wrong = match_frames(NumpyMnnMatcher(), features, SIZE, moved, SIZE, EvaluationSettings(),
                         SHIFT @ KNOWN_HOMOGRAPHY)
    assert [wrong.record[f"matcher_precision_{t:g}px"] for t in metrics.MMA_THRESHOLDS_PX] == [0.0, 0.0, 0.0]
    assert wrong.correct is not None and not wrong.correct.any()


def test_half_the_matches_wrong_gives_half_the_precision() -> None:
    """Image b's second half of keypoints is moved 20 px off the homography: those matches are wrong."""
    features = scene(100)
    moved = warped(features, np.eye(3), seed=0)
    order = np.random.default_rng(0).permutation(100)
    off = order >= 50  # the slots of b that hold a's keypoints 50..99
    moved.keypoints[off] += np.float32(20.0)
    pair = match_frames(NumpyMnnMatcher(), features, SIZE, moved, SIZE, EvaluationSettings(), np.eye(3))
    assert pair.record["matcher_matches"] == 100 and pair.record["matcher_precision_5px"] == 0.5
    summary = matching_summary([pair.record, {"index": 7}], "mnn")
    assert summary["pairs"] == 1 and summary["precision_5px"] == 0.5 and summary["matches"]["mean"] == 100


def test_without_ground_truth_only_the_inliers_are_judged() -> None:
    features = scene(60)
    pair = match_frames(NumpyMnnMatcher(MnnSettings(ratio_threshold=0.9)), features, SIZE, scene(60, seed=5), SIZE,
                        EvaluationSettings(), None)
    assert pair.correct is None and "matcher_precision_1px" not in pair.record
    summary = matching_summary([pair.record], "mnn")
    assert summary["ground_truth_pairs"] == 0 and summary["precision_3px"] is None


def test_lightglue_without_a_model_is_refused() -> None:
    with pytest.raises(OptionsError, match="--matcher lightglue needs --matcher-model"):
        MatchingOptions(MatcherMethod.LIGHTGLUE)


# ------------------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def identity_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bags.identity_bag(tmp_path_factory.mktemp("bags") / "identity")


def test_eval_with_the_matcher_reports_its_section_and_draws_its_matches(
    tmp_path: Path, export_model: Any, identity_bag: Path
) -> None:
    status = dispatch(["eval", "--bag", str(identity_bag), "--topic", bags.TOPIC, "--model",
                       str(export_model().path), "--backend", "onnxruntime", "--threads", "1", "--matcher", "mnn",
                       "--matcher-backend", "onnxruntime", "--out", str(tmp_path)])
    assert status == 0
    report = json.loads((tmp_path / "report.json").read_text())
    matching = report["summary"]["matching"]
    assert matching["pairs"] == matching["ground_truth_pairs"] == 2 and matching["matcher"].startswith("mnn-numpy")
    assert matching["precision_1px"] == 1.0 and matching["inlier_ratio"]["min"] == 1.0
    assert matching["matches"]["min"] == report["summary"]["keypoints"]["min"], "each keypoint finds itself"
    assert report["summary"]["latency_matching_ms"]["count"] == 2
    markdown = (tmp_path / "report.md").read_text()
    section = markdown[markdown.index("## Matching"):]
    for label, key in MATCHING_ROWS:
        if lookup(report, key) is not None:
            assert f"| {label} |" in section and f"`{key}`" in section, key
    drawn = [name for name in report["plots"] if name.startswith("matcher_")]
    assert drawn and all((tmp_path / name).is_file() and f"]({name})" in markdown for name in drawn)


def test_matcher_options_without_a_matcher_are_refused(
    tmp_path: Path, export_model: Any, identity_bag: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["eval", "--bag", str(identity_bag), "--topic", bags.TOPIC, "--model", str(export_model().path),
            "--out", str(tmp_path / "out")]
    cases = (
        (["--matcher-ratio", "0.9"], "--matcher-model, --matcher-ratio and --matcher-max-distance need --matcher"),
        (["--matcher", "lightglue"], "--matcher lightglue needs --matcher-model"),
    )
    for arguments, message in cases:
        assert dispatch([*base, *arguments]) == 1, arguments
        error = capsys.readouterr().err
        assert error.startswith("eval: error: ") and message in error, error
    assert not (tmp_path / "out").exists()
