# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Every expected failure of ``python -m disk_trt_ros COMMAND`` is one line ``COMMAND: error: ...`` on stderr, nothing
on stdout, exit status 1: the new user's mistakes of issue 13, command by command."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from disk_trt_ros.cli import main
from support import trt_double
from support.paths import REPO_ROOT, subprocess_environment

NO_TENSORRT = pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a contract model (``model.onnx``) and a 2-frame sample bag (``bag``)."""
    directory = tmp_path_factory.mktemp("cli")
    trt_double.make_contract_onnx(directory / "model.onnx", trt_double.tiny_model_info())
    assert main(["make-sample-bag", "--out", str(directory / "bag"), "--frames", "2"]) == 0
    return directory


def run_failing(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    status = main(arguments)
    captured = capsys.readouterr()
    assert (status, captured.out) == (1, ""), captured
    assert captured.err.startswith(f"{arguments[0]}: error: ") and captured.err.count("\n") == 1, captured.err
    return captured.err


@NO_TENSORRT
def test_eval_with_tensorrt_missing(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = run_failing(["eval", "--bag", str(workspace / "bag"), "--topic", "/camera/image_raw", "--model",
                         str(workspace / "model.onnx"), "--backend", "tensorrt", "--out", str(workspace / "r")], capsys)
    assert "TensorRT is not installed" in error


@NO_TENSORRT
@pytest.mark.parametrize("command", ["bench", "build-engine"])
def test_bench_and_build_engine_with_tensorrt_missing(
    workspace: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    model = str(workspace / "model.onnx")
    arguments = {"bench": ["bench", "--backend", "tensorrt", "--model", model, "--iters", "1"],
                 "build-engine": ["build-engine", "--onnx", model, "--engine", str(workspace / "m.engine")]}
    assert "TensorRT is not installed" in run_failing(arguments[command], capsys)


@pytest.mark.parametrize("arguments, library", [
    (["export", "--weights", "random:0", "--height", "64", "--width", "64", "--output", "OUT/m.onnx"], "torch"),
    (["bench", "--backend", "torch", "--model", "MODEL", "--iters", "1"], "torch"),
])
def test_a_command_whose_library_is_missing_says_what_to_install(
    workspace: Path, tmp_path: Path, arguments: list[str], library: str
) -> None:
    """As in a colcon test environment or on a Jetson without PyTorch: one line naming what to pip install."""
    given = [a.replace("OUT", str(tmp_path)).replace("MODEL", str(workspace / "model.onnx")) for a in arguments]
    result = subprocess.run(
        [sys.executable, "-m", "support.import_guard", "disk_trt_ros", *given],
        capture_output=True, text=True, cwd=REPO_ROOT, env=subprocess_environment(), timeout=120,
    )
    assert (result.returncode, result.stdout) == (1, ""), result
    assert result.stderr == f"{arguments[0]}: error: " + (
        f"{'export' if arguments[0] == 'export' else 'TorchBackend'} needs {library}, which is not installed here: "
        "pip install torch kornia\n"
    ), result.stderr


def test_eval_without_a_model(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = run_failing(["eval", "--bag", str(workspace / "bag"), "--topic", "/camera/image_raw"], capsys)
    assert "--model is required" in error


def test_check_of_a_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no such file" in run_failing(["check", str(tmp_path / "missing.onnx"), "--trt", "8.2"], capsys)


def test_make_sample_bag_over_an_existing_bag(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "exists already" in run_failing(["make-sample-bag", "--out", str(workspace / "bag")], capsys)
