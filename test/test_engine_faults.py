# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Engine and model faults as the node and the launch meet them: each ends in a rebuild or a clear error, never in
a half-written engine or a node that fails at every start.

``test_engine_cache.py`` covers the cache's own decisions (every changed dependency, damaged sidecars, the lock
between two builds, a build ended half way). Here: the node's path (``create_backend('tensorrt', model.onnx)``, as
``disk_node`` calls it) over damaged caches, twice in a row; an engine given directly; a model from another export
version; a read-only cache directory; the builder killed while a second launch waits for it. TensorRT and CUDA are
the doubles of ``support.trt_double``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest

from disk_trt_ros.contract import METADATA_PREFIX
from disk_trt_ros.errors import ContractError, EngineCacheError
from disk_trt_ros.inference.registry import create_backend
from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
from disk_trt_ros.inference.tensorrt.record import read_sidecar, sidecar_path
from support import trt_double
from support.filesystem import read_only
from support.paths import REPO_ROOT, subprocess_environment


def builds() -> int:
    return len(sys.modules["tensorrt"].builds)


def start_node_backend(model: Path, engine: Path) -> None:
    """What disk_node does at start with backend tensorrt: build or reuse the engine, then load it."""
    create_backend("tensorrt", model, precision="fp32", engine_path=engine).close()


def assert_true_engine(engine: Path) -> None:
    record = read_sidecar(engine)
    assert record.engine_sha256 == hashlib.sha256(engine.read_bytes()).hexdigest()
    assert not list(engine.parent.glob(".*.partial"))


def other_engine(tmp_path: Path, **overrides: object) -> Path:
    """An engine (with its sidecar) built from another model, in a directory of its own."""
    directory = tmp_path / "other"
    directory.mkdir(exist_ok=True)
    other_model = directory / "other.onnx"
    trt_double.make_contract_onnx(other_model, trt_double.tiny_model_info(**overrides))
    engine = directory / "other.engine"
    start_node_backend(other_model, engine)
    return engine


DAMAGES = [
    "truncated engine", "random bytes with a sidecar that vouches for them", "another model's engine and sidecar",
    "an engine of another TensorRT version", "sidecar deleted", "engine deleted",
]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_cache_is_rebuilt_at_the_first_start_and_reused_at_the_next(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    engine = tmp_path / "model.engine"
    start_node_backend(tiny_model, engine)
    sidecar = sidecar_path(engine)
    if damage == "truncated engine":
        engine.write_bytes(engine.read_bytes()[: len(engine.read_bytes()) // 2])
    elif damage == "random bytes with a sidecar that vouches for them":
        engine.write_bytes(os.urandom(256))
        record = json.loads(sidecar.read_text())
        sidecar.write_text(json.dumps({**record, "engine_sha256": hashlib.sha256(engine.read_bytes()).hexdigest()}))
    elif damage == "another model's engine and sidecar":
        foreign = other_engine(tmp_path, max_keypoints=4)
        shutil.copy(foreign, engine)
        shutil.copy(sidecar_path(foreign), sidecar)
    elif damage == "an engine of another TensorRT version":
        trt_double.install(monkeypatch, "8.6.1")
        foreign = other_engine(tmp_path)
        trt_double.install(monkeypatch, "10.0.1")
        shutil.copy(foreign, engine)
        shutil.copy(sidecar_path(foreign), sidecar)
    elif damage == "sidecar deleted":
        sidecar.unlink()
    else:
        engine.unlink()
    before = builds()
    start_node_backend(tiny_model, engine)
    assert builds() == before + 1, "the damaged engine was rebuilt"
    assert_true_engine(engine)
    start_node_backend(tiny_model, engine)
    assert builds() == before + 1, "the rebuilt engine is reused at the next start"


def test_a_consistent_sidecar_that_lies_about_the_engine_is_a_clear_error_naming_the_tensor(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path
) -> None:
    """Another model's engine under a sidecar rewritten to vouch for it as this model's engine: the cache cannot
    tell (an engine carries no ONNX hash), the backend's contract check can, and says how to rebuild."""
    engine = tmp_path / "model.engine"
    start_node_backend(tiny_model, engine)
    foreign = other_engine(tmp_path, max_keypoints=4)
    shutil.copy(foreign, engine)
    record = json.loads(sidecar_path(engine).read_text())
    engine_sha256 = hashlib.sha256(engine.read_bytes()).hexdigest()
    sidecar_path(engine).write_text(json.dumps({**record, "engine_sha256": engine_sha256}))
    with pytest.raises(ContractError, match=r"tensor 'keypoints' has shape \(1, 4, 2\), the contract says \(1, 8, 2\)"
                                            r".*build-engine"):
        start_node_backend(tiny_model, engine)
    environment = subprocess_environment(TRT_DOUBLE_BUILD_SECONDS="0")  # the fix the message names: build again
    command = trt_double.command("build-engine", "--onnx", str(tiny_model), "--engine", str(engine), "--fp32")
    rebuilt = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr


@pytest.mark.parametrize("damage", ["missing", "truncated", "no sidecar", "another TensorRT version"])
def test_an_engine_given_directly_that_cannot_be_used_is_a_clear_error(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    engine = tmp_path / "model.engine"
    start_node_backend(tiny_model, engine)
    expected = {
        "missing": "has no sidecar",
        "truncated": "does not match the sha256 in its sidecar",
        "no sidecar": "has no sidecar",
        "another TensorRT version": "was built with TensorRT 10.0.1, this is 10.3.0",
    }[damage]
    if damage == "missing":
        engine.unlink()
        sidecar_path(engine).unlink()
    elif damage == "truncated":
        engine.write_bytes(engine.read_bytes()[:100])
    elif damage == "no sidecar":
        sidecar_path(engine).unlink()
    else:
        trt_double.install(monkeypatch, "10.3.0")
    with pytest.raises(EngineCacheError, match=expected) as raised:
        TensorRTBackend(engine)
    assert str(engine) in str(raised.value) and "build-engine" in str(raised.value)


def model_of_another_export_version(source: Path, directory: Path) -> Path:
    model = onnx.load(str(source))
    for prop in model.metadata_props:
        if prop.key == METADATA_PREFIX + "contract_version":
            prop.value = "2"
    path = directory / "future.onnx"
    onnx.save(model, str(path))
    return path


def test_a_model_from_another_export_version_is_refused_clearly_by_every_tool(tiny_model: Path, tmp_path: Path) -> None:
    future = model_of_another_export_version(tiny_model, tmp_path)
    expected = "exported for engine contract version 2, this disk_trt_ros reads version 1; export the model again"
    with pytest.raises(ContractError, match=expected):
        create_backend("onnxruntime", future)
    build = subprocess.run(trt_double.command("build-engine", "--onnx", str(future), "--engine",
                                              str(tmp_path / "future.engine"), "--if-needed"),
                           cwd=REPO_ROOT, env=subprocess_environment(), capture_output=True,
                           text=True, timeout=120)
    assert build.returncode == 1 and expected in build.stderr and "Traceback" not in build.stderr, build.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["future.onnx", "model.onnx"]


@pytest.mark.ros
def test_the_node_refuses_a_model_from_another_export_version_at_start(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")
    future = model_of_another_export_version(tiny_model, tmp_path)
    node = subprocess.run([sys.executable, "-m", "disk_trt_ros.node", "--ros-args", "-p", f"model:={future}", "-p",
                           "backend:=onnxruntime"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ROS_DOMAIN_ID": "0", "ROS_LOCALHOST_ONLY": "1"})
    output = node.stdout + node.stderr
    assert node.returncode == 2, output
    assert "contract version 2" in output and "Traceback" not in output, output


def test_a_read_only_cache_directory_serves_an_up_to_date_engine(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    engine = cache / "model.engine"
    start_node_backend(tiny_model, engine)
    before = builds()
    with read_only(cache):
        start_node_backend(tiny_model, engine)
    assert builds() == before


def test_a_read_only_cache_directory_with_a_stale_engine_is_refused_before_building_and_keeps_the_old_engine(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path
) -> None:
    """Kept failing example: the lock file of the earlier build was still there, so TensorRT built for minutes (on a
    Jetson) and only the write failed, at every start."""
    cache = tmp_path / "cache"
    engine = cache / "model.engine"
    start_node_backend(tiny_model, engine)
    old = engine.read_bytes(), sidecar_path(engine).read_text()
    trt_double.make_contract_onnx(tiny_model, trt_double.tiny_model_info(weights_sha256="cd" * 32))  # a new export
    before = builds()
    unwritable = f"cannot write in {cache}.*directory must be writable"
    with read_only(cache), pytest.raises(EngineCacheError, match=unwritable):
        start_node_backend(tiny_model, engine)
    assert builds() == before, "nothing was built only to be thrown away"
    assert (engine.read_bytes(), sidecar_path(engine).read_text()) == old
    assert not list(cache.glob(".*.partial"))


def test_a_read_only_directory_for_a_new_engine_is_refused_before_building(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    with read_only(cache), pytest.raises(EngineCacheError, match="directory must be writable"):
        start_node_backend(tiny_model, cache / "model.engine")
    assert builds() == 0, "nothing was built only to be thrown away"


def build_process(model: Path, engine: Path, seconds: float, log: Path) -> subprocess.Popen[str]:
    environment = subprocess_environment(
        TRT_DOUBLE_BUILD_SECONDS=str(seconds), TRT_DOUBLE_BUILD_LOG=str(log), PYTHONUNBUFFERED="1"
    )
    return subprocess.Popen(
        trt_double.command("build-engine", "--onnx", str(model), "--engine", str(engine), "--if-needed"),
        cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def read_until(process: subprocess.Popen[str], needle: str, timeout: float = 60.0) -> str:
    assert process.stdout is not None
    seen, deadline = "", time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
    assert needle in seen, seen
    return seen


def test_the_builder_killed_while_a_second_launch_waits_hands_over_the_build(tiny_model: Path, tmp_path: Path) -> None:
    engine, log = tmp_path / "model.engine", tmp_path / "builds.log"
    first = build_process(tiny_model, engine, 60.0, log)
    second = None
    try:
        read_until(first, "building the fp16 engine")
        second = build_process(tiny_model, engine, 0.5, log)
        read_until(second, "another process is building")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        output, _ = second.communicate(timeout=120)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
    assert second.returncode == 0, output
    assert len(log.read_text().splitlines()) == 1, "only the second launch finished a build"
    assert_true_engine(engine)
