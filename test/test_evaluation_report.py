# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``eval`` offline with the real ONNX Runtime backend: report files, known answers, reference agreement, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cv2
import pytest

from disk_trt_ros.cli import main as dispatch
from disk_trt_ros.evaluation import report as report_module
from disk_trt_ros.evaluation.bag_io import IMAGE_TYPE, BagFormat, BagWriter, make_header
from disk_trt_ros.evaluation.report import SUMMARY_ROWS, format_value, lookup
from disk_trt_ros.evaluation.sample_bag import write_sample_bag
from disk_trt_ros.photos import load_photos
from support.bags import identity_bag
from support.images import load_photo
from support.paths import PHOTO_DIR, shared_photo_paths

TOPIC = "/camera/image_raw"
ROW = re.compile(r"^\| (?P<label>[^|]+) \| (?P<value>[^|]+) \| `(?P<key>[^`]+)` \|$")


@pytest.fixture(scope="module")
def sample_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five 192x240 frames (the model is 128x160, so frames are resized and keypoints mapped back), with JPEGs."""
    shared_photo_paths()
    path = tmp_path_factory.mktemp("bags") / "sample"
    write_sample_bag(path, load_photos(PHOTO_DIR), frames=5, fps=10.0, width=240, height=192,
                     bag_format=BagFormat.MCAP, compressed=True)
    return path


def run_eval(bag: Path, out: Path, model: Path, *extra: str) -> dict[str, Any]:
    status = dispatch(["eval", "--bag", str(bag), "--topic", TOPIC, "--model", str(model), "--backend", "onnxruntime",
                       "--threads", "1", "--out", str(out), *extra])
    assert status == 0
    return json.loads((out / "report.json").read_text())


def test_the_report_holds_every_number_and_the_markdown_shows_them(
    sample_bag: Path, tmp_path: Path, export_model: Any
) -> None:
    report = run_eval(sample_bag, tmp_path, export_model().path)
    summary = report["summary"]
    assert summary["frames"] == 5 and len(report["frames"]) == 5
    assert summary["latency_inference_ms"]["count"] == 5 and summary["latency_inference_ms"]["p50"] > 0
    assert 0 < summary["keypoints"]["mean"] <= 64
    assert summary["matches"]["count"] == 4 and summary["ground_truth_pairs"] == 4
    for record in report["frames"]:
        assert record["keypoints"] <= 64
    assert report["model"]["weights"] == "random:0" and report["model"]["random_weights"] is True

    markdown = (tmp_path / "report.md").read_text()
    assert markdown.index("| Metric |") < markdown.index("## What was evaluated"), "the summary table comes first"
    assert "Random weights (random:0)" in markdown and "meaningless" in markdown
    rows = [ROW.match(line) for line in markdown.splitlines() if ROW.match(line)]
    shown = {row["key"]: row["value"] for row in rows}
    expected = {key for _, key in SUMMARY_ROWS if lookup(report, key) is not None}
    assert set(shown) == expected
    assert {"summary.latency_inference_ms.p99", "summary.repeatability.mean", "summary.mma_3px",
            "summary.corner_error_px.mean", "summary.inliers.mean", "summary.track_length.mean"} <= expected
    for key, value in shown.items():
        assert value == format_value(lookup(report, key)), key
        assert float(value) == pytest.approx(lookup(report, key), abs=5e-4), key

    for name in report["plots"]:
        image = cv2.imread(str(tmp_path / name))
        assert image is not None and image.shape[0] > 100, name
        assert f"]({name})" in markdown
    assert {"latency.png", "keypoints_inliers.png"} <= set(report["plots"])
    assert sum(name.startswith("matches_") for name in report["plots"]) == 3


def test_every_plot_is_headed_by_the_model_backend_size_and_a_random_weights_warning(
    sample_bag: Path, tmp_path: Path, export_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    headings: dict[str, str] = {}
    save = report_module._save

    def save_and_record(figure: Any, path: Path, caption: str) -> Path:
        written = save(figure, path, caption)
        headings[path.name] = figure.get_suptitle()
        return written

    monkeypatch.setattr(report_module, "_save", save_and_record)
    model = export_model()
    report = run_eval(sample_bag, tmp_path, model.path)
    assert set(headings) == set(report["plots"])
    for heading in headings.values():
        assert model.path.name in heading and "onnxruntime" in heading, heading
        assert "160x128" in heading and "K=64" in heading, heading
        assert "RANDOM WEIGHTS (random:0)" in heading, heading


def test_an_identity_sequence_gives_repeatability_one_and_zero_corner_error(tmp_path: Path, export_model: Any) -> None:
    report = run_eval(identity_bag(tmp_path / "bag"), tmp_path / "out", export_model().path)
    summary = report["summary"]
    assert summary["ground_truth_pairs"] == 2
    assert summary["repeatability"]["min"] == 1.0
    assert summary["mma_1px"] == 1.0
    assert summary["corner_error_px"]["max"] < 0.01
    assert summary["homography_accuracy_1px"] == 1.0
    assert summary["inlier_ratio"]["min"] == 1.0
    assert summary["track_length"]["max"] == 3


def test_a_reference_backend_agrees_on_the_same_model_and_not_on_another(
    sample_bag: Path, tmp_path: Path, export_model: Any
) -> None:
    model = export_model().path
    same = run_eval(sample_bag, tmp_path / "same", model, "--max-frames", "2", "--reference", "onnxruntime")
    assert same["summary"]["agreement_overlap"]["min"] == 1.0
    assert same["summary"]["agreement_descriptor_cosine_min"] > 0.9999
    other = run_eval(sample_bag, tmp_path / "other", model, "--max-frames", "2", "--reference", "onnxruntime",
                     "--reference-model", str(export_model(seed=1).path))
    assert other["summary"]["agreement_overlap"]["max"] < 0.3
    assert "Reference agreement: keypoint overlap, mean" in (tmp_path / "other" / "report.md").read_text()


def test_compressed_frames_and_the_fundamental_matrix(sample_bag: Path, tmp_path: Path, export_model: Any) -> None:
    status = dispatch(["eval", "--bag", str(sample_bag), "--topic", TOPIC + "/compressed", "--model",
                       str(export_model().path), "--backend", "onnxruntime", "--geometry", "fundamental",
                       "--max-frames", "3", "--out", str(tmp_path)])
    assert status == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["settings"]["geometry"] == "fundamental"
    assert report["summary"]["frames"] == 3 and report["summary"]["inliers"]["count"] == 2
    assert report["summary"]["ground_truth_pairs"] == 2
    assert report["summary"]["corner_error_px"]["count"] == 2, "a homography is fitted for the corner error"


def test_a_frame_that_cannot_be_converted_is_counted_and_skipped(tmp_path: Path, export_model: Any) -> None:
    picture = load_photo(shared_photo_paths()[0], 128, 160)
    with BagWriter(tmp_path / "bag", BagFormat.SQLITE3) as bag:
        image = bag.add_topic(TOPIC, IMAGE_TYPE)
        for index in range(3):
            data = picture.reshape(-1)[: 1000 if index == 1 else None]
            bag.write(image, index + 1, bag.typestore.types[IMAGE_TYPE](
                header=make_header(bag.typestore, index + 1, "cam"), height=128, width=160, encoding="rgb8",
                is_bigendian=0, step=480, data=data))
    report = run_eval(tmp_path / "bag", tmp_path / "out", export_model().path)
    assert report["rejected_frames"] == 1 and report["summary"]["frames"] == 2
    assert report["rejections"][0].startswith("frame 1: image data holds 1000 bytes")
    assert [record["index"] for record in report["frames"]] == [0, 2]
    assert report["summary"]["ground_truth_pairs"] == 0 and "repeatability" not in report["summary"]


def test_bad_arguments_get_a_clear_error(
    sample_bag: Path, tmp_path: Path, export_model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(export_model().path)
    cases = [
        (["--bag", str(sample_bag), "--topic", TOPIC], "--model is required"),
        (["--bag", str(sample_bag), "--topic", "/nope", "--model", model], "image topics are: /camera/image_raw"),
        (["--bag", str(tmp_path / "missing"), "--topic", TOPIC, "--model", model], "does not exist"),
        (["--bag", str(sample_bag), "--topic", TOPIC, "--model", str(tmp_path / "no.onnx")], "no.onnx"),
        (["--bag", str(sample_bag), "--topic", TOPIC, "--node", "--reference", "onnxruntime"], "--reference"),
    ]
    for arguments, message in cases:
        assert dispatch(["eval", *arguments, "--out", str(tmp_path / "out")]) == 1, arguments
        error = capsys.readouterr().err
        assert error.startswith("eval: error: ") and message in error, arguments
    with pytest.raises(SystemExit) as parse_error:  # refused while parsing (cli_arguments): argparse's status 2
        dispatch(["eval", "--bag", str(sample_bag), "--topic", TOPIC, "--model", model, "--max-frames", "0", "--out",
                  str(tmp_path / "out")])
    assert parse_error.value.code == 2 and "argument --max-frames: must be an integer from 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
