# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Every command's arguments are checked while they are parsed: a value that cannot work ends the command at once
with one line naming the argument (argparse's ``error: argument --x: ...``, exit status 2), before any work.

The trial's failures are kept as cases: output paths that are directories or read-only failed only after the whole
export, with a traceback; ``--threads 1e9`` gave std::bad_alloc; ``--threads -4`` and ``--ransac-threshold nan`` were
accepted; ``--fps nan`` gave a traceback. The typed APIs under the commands refuse the same values.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disk_trt_ros.cli import run_command
from disk_trt_ros.cli_arguments import integer, number, output_directory, output_file, output_path
from disk_trt_ros.errors import BagError, OptionsError
from disk_trt_ros.evaluation.options import EvalOptions, EvaluationSettings, ReplayOptions
from disk_trt_ros.evaluation.sample_bag import write_sample_bag
from support.filesystem import read_only
from support.paths import REPO_ROOT


def parse_error(command: str, *arguments: str) -> str:
    """The error line of ``python -m disk_trt_ros COMMAND ARGUMENTS``, which must end while parsing (status 2)."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as exit_info:
        run_command(command, list(arguments))
    assert exit_info.value.code == 2, stderr.getvalue()
    lines = stderr.getvalue().splitlines()
    assert lines[-1].startswith(f"python -m disk_trt_ros {command}: error: argument "), lines
    assert "Traceback" not in stderr.getvalue()
    return lines[-1].split(": error: ", 1)[1]


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    (tmp_path / "existing_dir").mkdir()
    (tmp_path / "existing_file").write_text("")
    return tmp_path


CASES = [
    ("export", ["--output", "{dir}/existing_dir"], "argument --output: {dir}/existing_dir is a directory"),
    ("export", ["--output", "/dev/null"], "argument --output: /dev/null is a character device, not a regular file"),
    ("export", ["--output", "{dir}/existing_file/model.onnx"], "is not a directory"),
    ("export", ["--output", "x.onnx", "--height", "64.5"], "argument --height: must be an integer from 16 to 8192"),
    ("export", ["--output", "x.onnx", "--max-keypoints", "0"], "argument --max-keypoints: must be an integer from 1"),
    ("export", ["--output", "x.onnx", "--score-threshold", "nan"], "argument --score-threshold: must be a finite "
                                                                   "number, got 'nan'"),
    ("eval", ["--bag", "b", "--topic", "t", "--threads", "1e9"], "argument --threads: must be an integer from 1 to 1024"
                                                                 ", got '1e9'"),
    ("eval", ["--bag", "b", "--topic", "t", "--threads", "-4"], "argument --threads: must be an integer from 1 to "
                                                                "1024"),
    ("eval", ["--bag", "b", "--topic", "t", "--ransac-threshold", "nan"], "argument --ransac-threshold: must be a "
                                                                          "finite number above 0 and at most 1000"),
    ("eval", ["--bag", "b", "--topic", "t", "--ratio", "0"], "argument --ratio: must be a finite number above 0 and "
                                                             "at most 1"),
    ("eval", ["--bag", "b", "--topic", "t", "--rate", "inf"], "argument --rate: must be a finite number above 0"),
    ("eval", ["--bag", "b", "--topic", "t", "--settle", "-1"], "argument --settle: must be a finite number at least 0"),
    ("eval", ["--bag", "b", "--topic", "t", "--max-frames", "0"], "argument --max-frames: must be an integer from 1"),
    ("eval", ["--bag", "b", "--topic", "t", "--max-image-pixels", "0"], "argument --max-image-pixels: must be an "
                                                                        "integer from 1 to 1073741824"),
    ("eval", ["--bag", "b", "--topic", "t", "--out", "{dir}/existing_file"], "argument --out: {dir}/existing_file is "
                                                                             "a regular file, not a directory"),
    ("eval", ["--bag", "b", "--topic", "t", "--matcher", "mnn", "--matcher-ratio", "1.5"], "argument "
                                                                  "--matcher-ratio: must be a finite number above 0"),
    ("eval", ["--bag", "b", "--topic", "t", "--matcher-max-distance", "-1"], "argument --matcher-max-distance: "
                                                                             "must be a finite number at least 0"),
    ("export-matcher", ["--output", "m.onnx", "--max-keypoints", "0"], "argument --max-keypoints: must be an integer "
                                                                       "from 1"),
    ("export-matcher", ["--output", "m.onnx", "--filter-threshold", "1.5"], "argument --filter-threshold: must be a "
                                                                            "finite number at least 0 and at most 1"),
    ("export-matcher", ["--output", "{dir}/existing_dir"], "argument --output: {dir}/existing_dir is a directory"),
    ("make-sample-bag", ["--out", "{dir}/bag", "--fps", "nan"], "argument --fps: must be a finite number above 0"),
    ("make-sample-bag", ["--out", "{dir}/bag", "--seed", "-1"], "argument --seed: must be an integer from 0"),
    ("make-sample-bag", ["--out", "{dir}/bag", "--width", "8"], "argument --width: must be an integer from 16"),
    ("bench", ["--model", "m.onnx", "--iters", "0"], "argument --iters: must be an integer from 1 to 1000000"),
    ("bench", ["--model", "m.onnx", "--warmup", "-1"], "argument --warmup: must be an integer from 0"),
    ("bench", ["--model", "m.onnx", "--json", "{dir}/existing_dir"], "argument --json: {dir}/existing_dir is a "
                                                                     "directory"),
    ("build-engine", ["--onnx", "m.onnx", "--engine", "{dir}/existing_dir"], "argument --engine: {dir}/existing_dir "
                                                                             "is a directory"),
    ("build-engine", ["--onnx", "m.onnx", "--engine", "e", "--workspace-mib", "0"], "argument --workspace-mib: must "
                                                                                    "be an integer from 1"),
    ("build-engine", ["--onnx", "m.onnx", "--engine", "e", "--device", "-1"], "argument --device: must be an integer "
                                                                              "from 0"),
]


@pytest.mark.parametrize("command, arguments, message", CASES)
def test_each_command_refuses_a_bad_value_while_parsing(
    directory: Path, command: str, arguments: list[str], message: str
) -> None:
    error = parse_error(command, *(argument.format(dir=directory) for argument in arguments))
    assert message.format(dir=directory) in error, error


def test_an_output_in_a_read_only_directory_is_refused_while_parsing(directory: Path) -> None:
    locked = directory / "locked"
    locked.mkdir()
    with read_only(locked):
        error = parse_error("export", "--output", str(locked / "model.onnx"))
        assert f"cannot write {locked}/model.onnx: {locked} does not accept new files" in error, error
        error = parse_error("eval", "--bag", "b", "--topic", "t", "--out", str(locked / "report"))
        assert f"{locked} does not accept new files" in error, error


def test_export_to_a_directory_fails_before_loading_any_weights(directory: Path) -> None:
    """The trial's case, as a user meets it: one line, and nothing of the export done."""
    command = [sys.executable, "-m", "disk_trt_ros", "export", "--weights", "random:0", "--output", str(directory)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert result.stderr.splitlines()[-1] == (f"python -m disk_trt_ros export: error: argument --output: {directory} "
                                             "is a directory; give the name of the file to write")


def test_outputs_that_can_be_written_are_accepted(directory: Path) -> None:
    assert output_file(str(directory / "existing_file")) == directory / "existing_file"
    assert output_file(str(directory / "new" / "deeper" / "model.onnx")) == directory / "new" / "deeper" / "model.onnx"
    assert output_directory(str(directory / "existing_dir")) == directory / "existing_dir"
    assert output_directory(str(directory / "new_report")) == directory / "new_report"
    assert output_path(str(directory / "existing_dir")) == directory / "existing_dir"
    assert output_path(str(directory / "existing_file")) == directory / "existing_file"


@given(text=st.one_of(st.text(max_size=12), st.integers(-10**12, 10**12).map(str),
                      st.floats(allow_nan=True, allow_infinity=True).map(repr)))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_numbers_are_in_their_range_or_refused_with_a_message(text: str) -> None:
    for parse, low, high in ((integer(1, 1024), 1, 1024), (number(0.0, 1.0, above_low=True), 0.0, 1.0),
                             (number(), -math.inf, math.inf)):
        try:
            value = parse(text)
        except argparse.ArgumentTypeError as error:
            assert repr(text) in str(error)
            continue
        assert math.isfinite(value) and low <= value <= high and not (value == 0.0 and low == 0.0)


@pytest.mark.parametrize("make, message", [
    (lambda: EvaluationSettings(ransac_threshold_px=math.nan), "--ransac-threshold must be a positive number"),
    (lambda: EvaluationSettings(ratio=math.nan), "--ratio must be in"),
    (lambda: ReplayOptions(rate=math.inf), "--rate must be a positive number"),
    (lambda: EvalOptions(bag=Path("b"), topic="t", model="m", max_image_pixels=0), "--max-image-pixels must be"),
])
def test_the_typed_evaluation_api_refuses_the_same_values(make: object, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        make()  # type: ignore[operator]


def test_a_sample_bag_at_nan_frames_per_second_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="a finite fps > 0"):
        write_sample_bag(tmp_path / "bag", [], frames=2, fps=math.nan, width=32, height=32, bag_format="sqlite3")
