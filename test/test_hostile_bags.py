# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``eval`` over damaged bags: a corrupt page of a sqlite3 bag, decompression bombs and undecodable frames, a model
whose outputs break the contract. Each time it goes on where it can (or stops reading the bag cleanly) and still
writes its report, which says what was skipped and why; it never ends in a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import pytest

from disk_trt_ros.cli import run_command
from disk_trt_ros.evaluation.bag_io import BagFormat, ImageBag
from disk_trt_ros.evaluation.sample_bag import write_sample_bag
from disk_trt_ros.image_conversion import DEFAULT_MAX_IMAGE_PIXELS
from disk_trt_ros.photos import load_photos
from support import trt_double
from support.bags import corrupt_sqlite_page_holding, write_image_bag
from support.fuzz import jpeg_declaring, png_declaring
from support.paths import REPO_ROOT, subprocess_environment

TOPIC = "/camera/image_raw"
FRAMES = 12


def run_eval(bag: Path, out: Path, model: Path, *extra: str) -> tuple[int, str]:
    """``python -m disk_trt_ros eval`` in this process; the exit status and what it wrote to stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        status = run_command("eval", ["--bag", str(bag), "--topic", TOPIC, "--model", str(model),
                                      "--backend", "onnxruntime", "--threads", "1", "--out", str(out), *extra])
    return status, stderr.getvalue()


@pytest.fixture(scope="module")
def model(export_model: Any) -> Any:
    return export_model(height=64, width=96)


@pytest.fixture
def sample_bag(tmp_path: Path) -> Path:
    """Twelve 96x64 rgb8 frames over scikit-image's photographs, with ground truth (sqlite3)."""
    path = tmp_path / "bag"
    write_sample_bag(path, load_photos(None), frames=FRAMES, fps=10.0, width=96, height=64,
                     bag_format=BagFormat.SQLITE3)
    return path


def frame_bytes(bag: Path, index: int) -> bytes:
    """A slice of frame ``index``'s pixels, found once in the bag's file."""
    with ImageBag(bag, TOPIC) as opened:
        frame = next(frame for frame in opened.frames() if frame.index == index)
    return bytes(frame.message.data[5000:5064])


def test_a_corrupt_page_stops_reading_the_bag_and_the_report_says_so(
    sample_bag: Path, tmp_path: Path, model: Any
) -> None:
    corrupt_sqlite_page_holding(sample_bag, frame_bytes(sample_bag, 7))
    status, stderr = run_eval(sample_bag, tmp_path / "out", model.path)
    assert status == 0, stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["frames"] == 7 and [record["index"] for record in report["frames"]] == list(range(7))
    (error,) = report["bag_read_errors"]
    assert error.startswith(f"the bag cannot be read past message 7 on '{TOPIC}' (CorruptError: database disk image "
                            "is malformed); the 5 frames from there on were not read"), error
    assert f"- reading stopped: {error}" in (tmp_path / "out" / "report.md").read_text()


def test_a_bag_that_cannot_be_opened_is_one_line(sample_bag: Path, tmp_path: Path, model: Any) -> None:
    (database,) = sample_bag.glob("*.db3")
    database.write_bytes(database.read_bytes()[:4096] + bytes(8192))
    status, stderr = run_eval(sample_bag, tmp_path / "out", model.path)
    assert status == 1 and stderr.startswith("eval: error: cannot read bag") and stderr.count("\n") == 1, stderr


def test_ground_truth_that_cannot_be_read_further_leaves_the_later_frames_without_it(
    sample_bag: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storage failing while the ground truth is read (before the frames): frames are still read, those after
    the failure without ground truth."""
    from rosbags.highlevel import AnyReader

    messages = AnyReader.messages

    def failing_after_four(self: Any, connections: Any = (), **kwargs: Any) -> Iterator[Any]:
        for count, item in enumerate(messages(self, connections=connections, **kwargs)):
            if count == 4 and connections[0].topic.endswith("ground_truth_homography"):
                raise OSError("Input/output error")
            yield item

    monkeypatch.setattr(AnyReader, "messages", failing_after_four)
    errors: list[str] = []
    with ImageBag(sample_bag, TOPIC) as bag:
        truths = [frame.scene_to_frame is not None for frame in bag.frames(on_read_error=errors.append)]
    assert truths == [True] * 4 + [False] * (FRAMES - 4)
    assert errors == [f"the ground truth on '{TOPIC}/ground_truth_homography' cannot be read past message 4 "
                      "(OSError: Input/output error); later frames have none"]


def good_jpeg(index: int) -> dict[str, Any]:
    rgb = np.random.default_rng(index).integers(0, 256, (64, 96, 3), np.uint8)
    return {"format": "jpeg", "data": cv2.imencode(".jpg", rgb)[1].tobytes()}


def test_bombs_and_undecodable_frames_are_rejected_under_a_memory_limit(tmp_path: Path, model: Any) -> None:
    """eval in a process limited to its imports plus 768 MiB: the trial's bombs and a corrupt JPEG are rejected,
    named in the report, and the frames between them evaluated."""
    bad = {1: jpeg_declaring(30000, 30000), 3: png_declaring(30000, 30000, rows=None), 4: png_declaring(65535, 65535),
           6: good_jpeg(6)["data"][:3] + bytes(range(256))}
    frames = [{"format": "jpeg", "data": bad[index]} if index in bad else good_jpeg(index) for index in range(8)]
    bag, out = tmp_path / "bag", tmp_path / "out"
    write_image_bag(bag, TOPIC, frames, compressed=True)
    command = [sys.executable, "-m", "support.memory_limit", "--headroom-mib", "768", "--preload",
               "disk_trt_ros.evaluation.run", "--preload", "onnxruntime", "disk_trt_ros", "eval", "--bag", str(bag),
               "--topic", TOPIC, "--model", str(model.path), "--backend", "onnxruntime", "--threads", "1",
               "--out", str(out)]
    result = subprocess.run(command, cwd=REPO_ROOT, env=subprocess_environment(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert [record["index"] for record in report["frames"]] == [0, 2, 5, 7]
    assert report["rejected_frames"] == 4
    rejections = dict(reason.split(": ", 1) for reason in report["rejections"])
    refused = f"more than max_image_pixels = {DEFAULT_MAX_IMAGE_PIXELS}: refused before decoding"
    assert all(refused in rejections[f"frame {index}"] for index in (1, 3, 4)), rejections
    assert "could not be decoded" in rejections["frame 6"], rejections


def test_frames_whose_model_outputs_break_the_contract_are_skipped_and_counted(tmp_path: Path) -> None:
    """A model whose keypoints leave the frame for bright images: those frames are not evaluated, the report counts
    and names them."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    broken = tmp_path / "broken.onnx"
    trt_double.make_contract_onnx(broken, trt_double.tiny_model_info(), violation="keypoints outside the frame")
    bright = (128 + np.arange(32 * 32 * 3) % 127).astype(np.uint8)
    frames = []
    for index in range(6):
        pixels = bright if index % 3 == 1 else bright // 4
        pixels = pixels.copy()
        pixels[0] = 4  # four keypoints
        frames.append({"height": 32, "width": 32, "encoding": "rgb8", "is_bigendian": 0, "step": 96,
                       "data": pixels.tobytes()})
    write_image_bag(tmp_path / "bag", TOPIC, frames)
    status, stderr = run_eval(tmp_path / "bag", tmp_path / "out", broken)
    assert status == 0, stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [record["index"] for record in report["frames"]] == [0, 2, 3, 5]
    assert report["invalid_output_frames"] == 2 and report["rejected_frames"] == 0
    assert report["invalid_outputs"][0].startswith("frame 1: the model's outputs break the contract: 4 keypoints lie "
                                                   "outside the 32x32 model frame"), report["invalid_outputs"]
    assert "Frames whose model outputs broke the contract | 2 |" in (tmp_path / "out" / "report.md").read_text()
