# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Special files and untrusted directories where models, checkpoints, engines, sidecars and locks are expected.

A FIFO as a model or a sidecar used to hang the node, ``check`` and the engine cache with no message; ``/dev/zero``
as a model ate memory until killed; a world-writable cache directory let a planted engine with a rewritten sidecar
be loaded; the lock file's open followed a planted symbolic link. Every call here must end (``finishes_within``)
with the file refused by name, or with the cache rebuilding what it may replace. TensorRT and CUDA are the doubles
of ``support.trt_double``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from disk_trt_ros.errors import ContractError, EngineCacheError, FileRefusedError
from disk_trt_ros.files import MAX_MODEL_BYTES, read_regular_file
from disk_trt_ros.inference.registry import create_backend
from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.directory import lock_path
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import sidecar_path
from disk_trt_ros.onnx_files import load_onnx_model
from support import trt_double
from support.paths import REPO_ROOT, subprocess_environment
from support.waiting import finishes_within

DEADLINE_S = 30.0  # what a refusal may take; a FIFO would block forever
OTHER_UID = 12345


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def unix_socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


def sparse_file(path: Path, size: int) -> Path:
    with open(path, "wb") as stream:
        stream.truncate(size)  # no disk blocks: its size is all there is
    return path


SPECIAL_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "a FIFO": (lambda directory: fifo(directory / "model.onnx"), "is a FIFO"),
    "/dev/zero": (lambda directory: Path("/dev/zero"), "is a character device"),
    "a link to /dev/zero": (lambda directory: _link(directory / "model.onnx", "/dev/zero"), "is a character device"),
    "a directory": (lambda directory: directory, "is a directory"),
    "a socket": (lambda directory: unix_socket(directory / "model.onnx"), "not a regular file"),
    "a sparse file over the limit": (lambda directory: sparse_file(directory / "model.onnx", MAX_MODEL_BYTES + 1),
                                     "is 2.0 GiB, more than the 2.0 GiB such a file may be"),
}


def _link(path: Path, target: str) -> Path:
    path.symlink_to(target)
    return path


def run_cli(*arguments: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "disk_trt_ros", *arguments]
    return subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", SPECIAL_FILES)
def test_only_regular_files_within_the_limit_are_read(tmp_path: Path, kind: str) -> None:
    make, message = SPECIAL_FILES[kind]
    path = make(tmp_path)
    with pytest.raises(FileRefusedError, match=message):
        finishes_within(lambda: read_regular_file(path, MAX_MODEL_BYTES, "ONNX model"), DEADLINE_S, f"reading {kind}")


def test_a_regular_file_is_read_through_a_link_and_only_up_to_its_limit(tmp_path: Path) -> None:
    target = tmp_path / "weights.bin"
    target.write_bytes(b"x" * 100)
    assert read_regular_file(_link(tmp_path / "link.bin", str(target)), 100, "checkpoint") == b"x" * 100
    with pytest.raises(FileRefusedError, match="checkpoint .* is 100 bytes, more than the 99 bytes"):
        read_regular_file(target, 99, "checkpoint")


@pytest.mark.parametrize("kind", SPECIAL_FILES)
def test_every_model_loader_refuses_a_special_file(tmp_path: Path, kind: str) -> None:
    path = SPECIAL_FILES[kind][0](tmp_path)
    with pytest.raises(ContractError, match="cannot be read as an ONNX model"):
        finishes_within(lambda: load_onnx_model(path), DEADLINE_S, f"loading {kind}")


@pytest.mark.parametrize("kind", SPECIAL_FILES)
def test_the_onnxruntime_backend_refuses_a_special_file(tmp_path: Path, kind: str) -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    path = SPECIAL_FILES[kind][0](tmp_path)
    with pytest.raises(ContractError, match="cannot be read as an ONNX model"):
        finishes_within(lambda: create_backend("onnxruntime", path), DEADLINE_S, f"onnxruntime on {kind}")


def installed(*modules: str) -> pytest.MarkDecorator:
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    return pytest.mark.skipif(bool(missing), reason=f"not installed here: {', '.join(missing)}")


@pytest.mark.parametrize("command", [
    ["check", "{fifo}"],
    ["check", "/dev/zero"],
    pytest.param(["bench", "--backend", "onnxruntime", "--model", "{fifo}"], marks=installed("onnxruntime")),
    pytest.param(["export", "--weights", "{fifo}", "--output", "{tmp}/disk.onnx"], marks=installed("torch", "kornia")),
])
def test_commands_refuse_special_files_in_one_line(tmp_path: Path, command: list[str]) -> None:
    named = fifo(tmp_path / "special")
    result = run_cli(*(part.format(fifo=named, tmp=tmp_path) for part in command))
    name = command[0]
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith(f"{name}: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "is a FIFO" in result.stderr or "is a character device" in result.stderr, result.stderr


# ---------------------------------------------------------------------------------------------- the engine cache


def build(model: Path, engine: Path, **settings: Any) -> None:
    finishes_within(lambda: ensure_engine(model, engine, BuildSettings("fp32", **settings),
                                          progress=Progress(lambda line: None)), DEADLINE_S, f"building {engine}")


def builds() -> int:
    return len(sys.modules["tensorrt"].builds)


@pytest.fixture
def engine(fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path) -> Path:
    """A built engine in a directory of its own (mode 0755)."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    path = cache / "model.engine"
    build(tiny_model, path)
    return path


@pytest.mark.parametrize("replaced", ["engine", "sidecar"])
def test_a_fifo_in_the_cache_is_refused_by_the_backend_and_replaced_by_the_cache(
    tiny_model: Path, engine: Path, replaced: str
) -> None:
    path = engine if replaced == "engine" else sidecar_path(engine)
    path.unlink()
    fifo(path)
    with pytest.raises(EngineCacheError, match="is a FIFO"):
        finishes_within(lambda: TensorRTBackend(engine), DEADLINE_S, f"loading an engine whose {replaced} is a FIFO")
    before = builds()
    build(tiny_model, engine)
    assert builds() == before + 1 and path.is_file()


@pytest.mark.parametrize("path", ["engine", "sidecar"])
def test_an_engine_path_that_is_a_directory_is_refused_before_building(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path, path: str
) -> None:
    engine = tmp_path / "model.engine"
    directory = engine if path == "engine" else sidecar_path(engine)
    directory.mkdir()
    with pytest.raises(EngineCacheError, match=f"{directory} is a directory; give --engine"):
        build(tiny_model, engine)
    assert builds() == 0


def test_an_engine_that_is_a_device_is_refused(engine: Path) -> None:
    engine.unlink()
    engine.symlink_to("/dev/zero")
    with pytest.raises(EngineCacheError, match="is a character device"):
        finishes_within(lambda: TensorRTBackend(engine), DEADLINE_S, "loading /dev/zero as an engine")


def test_a_fifo_as_the_onnx_model_or_the_timing_cache_ends(fake_gpu: trt_double.FakeGpu, tmp_path: Path) -> None:
    with pytest.raises(EngineCacheError, match="cannot read the ONNX model: .* is a FIFO"):
        build(fifo(tmp_path / "model.onnx"), tmp_path / "model.engine")
    model = tmp_path / "tiny.onnx"
    trt_double.make_contract_onnx(model, trt_double.tiny_model_info())
    build(model, tmp_path / "tiny.engine", timing_cache=fifo(tmp_path / "timing.cache"))  # warned, built anyway
    assert (tmp_path / "tiny.engine").is_file()


@pytest.mark.parametrize("planted", ["a link to a file of the user's", "a FIFO"])
def test_the_lock_file_is_never_followed_or_waited_on(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path, planted: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    engine = tmp_path / "model.engine"
    if planted == "a FIFO":
        fifo(lock_path(engine))
    else:
        lock_path(engine).symlink_to(victim)
    with pytest.raises(EngineCacheError, match=r"the lock file .*model.engine.lock is not a regular file.*remove it"):
        build(tiny_model, engine)
    assert victim.read_text() == "precious" and builds() == 0


@pytest.mark.parametrize("mode, problem", [(0o777, "writable by its group and all users"),
                                           (0o757, "writable by all users"), (0o775, "writable by its group")])
def test_a_cache_directory_others_can_write_is_refused_saying_why_and_what_to_do(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path, mode: int, problem: str
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(mode)
    with pytest.raises(EngineCacheError, match=f"refusing the engine directory: {cache} is {problem} "
                                               rf"\(mode {mode:o}, no sticky bit\).*chmod go-w"):
        build(tiny_model, cache / "model.engine")
    assert builds() == 0 and not list(cache.iterdir())


def test_a_planted_engine_with_a_rewritten_sidecar_in_a_world_writable_directory_is_not_loaded(
    tiny_model: Path, engine: Path, tmp_path: Path
) -> None:
    """The trial's attack: another model's engine put in place, its sidecar rewritten to vouch for it."""
    foreign_model, foreign = tmp_path / "foreign.onnx", tmp_path / "foreign.engine"
    trt_double.make_contract_onnx(foreign_model, trt_double.tiny_model_info(max_keypoints=4))
    build(foreign_model, foreign)
    engine.parent.chmod(0o777)
    shutil.copy(foreign, engine)
    record = json.loads(sidecar_path(engine).read_text())
    vouching = {**record, "engine_sha256": hashlib.sha256(engine.read_bytes()).hexdigest()}
    sidecar_path(engine).write_text(json.dumps(vouching))
    before = builds()
    for load in (lambda: create_backend("tensorrt", tiny_model, precision="fp32", engine_path=engine),
                 lambda: TensorRTBackend(engine)):
        with pytest.raises(EngineCacheError, match="writable by its group and all users"):
            load()
    assert builds() == before


def test_a_sticky_directory_is_used_but_other_users_files_in_it_are_not(
    tiny_model: Path, engine: Path
) -> None:
    engine.parent.chmod(0o1777)  # like /tmp: others may add files, not replace this user's
    build(tiny_model, engine)
    TensorRTBackend(engine).close()
    if os.geteuid() != 0:
        pytest.skip("making a file another user's needs root")
    os.chown(sidecar_path(engine), OTHER_UID, OTHER_UID)
    with pytest.raises(EngineCacheError, match=f"is owned by user {OTHER_UID}, not by this user"):
        TensorRTBackend(engine)
    before = builds()
    build(tiny_model, engine)  # the cache replaces it (root may, in a sticky directory)
    assert builds() == before + 1 and sidecar_path(engine).stat().st_uid == 0


def test_a_cache_directory_of_another_user_is_refused(fake_gpu: trt_double.FakeGpu, tiny_model: Path,
                                                      tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a directory another user's needs root")
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    os.chown(cache, OTHER_UID, OTHER_UID)
    with pytest.raises(EngineCacheError, match=f"{cache} is owned by user {OTHER_UID}, not by this user"):
        build(tiny_model, cache / "model.engine")


def test_build_engine_refuses_an_untrusted_directory_in_one_line(tiny_model: Path, tmp_path: Path) -> None:
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)
    command = trt_double.command("build-engine", "--onnx", str(tiny_model), "--engine", str(cache / "m.engine"))
    result = subprocess.run(command, cwd=REPO_ROOT, env=subprocess_environment(TRT_DOUBLE_BUILD_SECONDS="0"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("build-engine: error: refusing the engine directory"), result.stderr
