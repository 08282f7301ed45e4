# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The engine cache, for real on disk: sidecar, reuse, every kind of mismatch, corrupt and missing files, the lock
between two processes, atomic writes and a build killed half way.

TensorRT and CUDA are the doubles of ``support.trt_double`` (TensorRT is not installable here); everything else is the
real code, with real files and real processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from disk_trt_ros.contract import TrtCompat
from disk_trt_ros.errors import ContractError, CudaUnavailableError, EngineCacheError, TensorRTUnavailableError
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import SIDECAR_VERSION, EngineRecord, read_sidecar, sidecar_path
from disk_trt_ros.inference.tensorrt.runtime import import_tensorrt
from support import trt_double
from support.paths import REPO_ROOT, subprocess_environment


def build(
    model: Path, engine: Path, settings: BuildSettings | None = None, if_needed: bool = True
) -> tuple[EngineRecord, list[str]]:
    """ensure_engine with its progress lines collected."""
    lines: list[str] = []
    settings = settings or BuildSettings()
    record = ensure_engine(model, engine, settings, if_needed=if_needed, progress=Progress(lines.append))
    return record, lines


def builds() -> list[dict]:
    return sys.modules["tensorrt"].builds


def no_partial_files(directory: Path) -> bool:
    return not list(directory.glob("*.partial")) and not list(directory.glob(".*.partial"))


def test_build_writes_engine_and_sidecar(fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path) -> None:
    engine = tmp_path / "model.engine"
    record, lines = build(tiny_model, engine, BuildSettings("fp16", 256))
    assert engine.is_file() and sidecar_path(engine).is_file()
    sidecar = json.loads(sidecar_path(engine).read_text())
    assert sidecar["onnx_sha256"] == hashlib.sha256(tiny_model.read_bytes()).hexdigest()
    assert sidecar["engine_sha256"] == hashlib.sha256(engine.read_bytes()).hexdigest()
    assert sidecar["tensorrt_version"] == "10.0.1"
    assert (sidecar["gpu_name"], sidecar["compute_capability"]) == ("Fake GPU", "8.7")
    assert (sidecar["precision"], sidecar["builder_flags"], sidecar["workspace_mib"]) == ("fp16", ["FP16"], 256)
    assert sidecar["model_metadata"] == trt_double.tiny_model_info().to_metadata()
    assert read_sidecar(engine) == record and record.model_info == trt_double.tiny_model_info()
    assert builds()[-1]["flags"] == ["FP16"], "TF32 would loosen the policy's fp32 layers"
    assert builds()[-1]["workspace"] == 256 << 20
    assert any("Building engine (2 steps)" in line for line in lines), lines  # TensorRT 10's progress monitor
    assert no_partial_files(tmp_path)


@pytest.mark.parametrize("version", ["8.2.1.8", "8.4.3.1", "10.3.0"])
def test_builder_settings_on_each_api(
    monkeypatch: pytest.MonkeyPatch, tiny_model: Path, tmp_path: Path, version: str
) -> None:
    """8.2/8.3 set max_workspace_size, 8.4+ set_memory_pool_limit; before 10 the network needs EXPLICIT_BATCH
    (the double's parser refuses others); fp32 sets no FP16 flag and clears TF32."""
    trt_double.install(monkeypatch, version)
    record, _ = build(tiny_model, tmp_path / "model.engine", BuildSettings("fp32", 64))
    assert builds() == [
        {
            "tensorrt_version": version, "gpu_name": "Fake GPU", "flags": [], "workspace": 64 << 20,
            "tactic_sources": None, "plugins": [], "fp32_layers": [], "fp16_layers": [], "fp32_outputs": [],
        }
    ]
    assert (record.tensorrt_version, record.builder_flags) == (version, [])


def test_if_needed_reuses_an_up_to_date_engine(fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path) -> None:
    engine = tmp_path / "model.engine"
    first, _ = build(tiny_model, engine)
    modified = engine.stat().st_mtime_ns
    second, lines = build(tiny_model, engine)
    assert len(builds()) == 1 and second == first and engine.stat().st_mtime_ns == modified
    assert any("is up to date" in line for line in lines)
    build(tiny_model, engine, if_needed=False)
    assert len(builds()) == 2, "without --if-needed the engine is always rebuilt"


def test_workspace_left_open_accepts_any_cached_limit(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path
) -> None:
    engine = tmp_path / "model.engine"
    build(tiny_model, engine, BuildSettings(workspace_mib=512))
    build(tiny_model, engine, BuildSettings(workspace_mib=None))
    assert len(builds()) == 1
    _, lines = build(tiny_model, engine, BuildSettings(workspace_mib=256))
    assert len(builds()) == 2 and any("workspace_mib 512 -> 256" in line for line in lines), lines


@pytest.mark.parametrize(
    "change, expected_reason",
    [
        ("onnx", "onnx_sha256"),
        ("tensorrt", "tensorrt_version '10.0.1' -> '10.3.0'"),
        ("gpu_name", "gpu_name 'Fake GPU' -> 'Other GPU'"),
        ("compute_capability", "compute_capability '8.7' -> '9.0'"),
        ("precision", "precision 'fp16' -> 'fp32'"),
    ],
)
def test_any_changed_dependency_rebuilds(
    monkeypatch: pytest.MonkeyPatch, tiny_model: Path, tmp_path: Path, change: str, expected_reason: str
) -> None:
    trt_double.install(monkeypatch, "10.0.1")
    engine = tmp_path / "model.engine"
    build(tiny_model, engine)
    settings = BuildSettings()
    if change == "onnx":
        trt_double.make_contract_onnx(tiny_model, trt_double.tiny_model_info(weights_sha256="cd" * 32))
    elif change == "tensorrt":
        trt_double.install(monkeypatch, "10.3.0")
    elif change == "gpu_name":
        trt_double.install(monkeypatch, "10.0.1", trt_double.FakeGpu(name="Other GPU"))
    elif change == "compute_capability":
        trt_double.install(monkeypatch, "10.0.1", trt_double.FakeGpu(compute_capability=(9, 0)))
    else:
        settings = BuildSettings("fp32")
    before = len(builds())
    record, lines = build(tiny_model, engine, settings)
    assert len(builds()) == before + 1
    assert any(expected_reason in line for line in lines), lines
    assert read_sidecar(engine) == record and record.engine_sha256 == hashlib.sha256(engine.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "damage, expected_reason",
    [
        ("delete engine", "no engine file yet"),
        ("delete sidecar", "has no sidecar"),
        ("sidecar not json", "sidecar"),
        ("sidecar wrong types", "wrong type"),
        ("sidecar missing keys", "missing keys"),
        ("sidecar other version", "sidecar version 99"),
        ("sidecar metadata invalid", "lacks 'disk_trt_ros.height'"),
        ("sidecar metadata lies", "model_metadata differs from the model's"),
        ("truncate engine", "does not match the sha256"),
        ("engine does not deserialize", "cannot deserialize"),
    ],
)
def test_damaged_cache_is_rebuilt(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path, damage: str, expected_reason: str
) -> None:
    engine = tmp_path / "model.engine"
    build(tiny_model, engine)
    sidecar = sidecar_path(engine)
    data = json.loads(sidecar.read_text())
    if damage == "delete engine":
        engine.unlink()
    elif damage == "delete sidecar":
        sidecar.unlink()
    elif damage == "sidecar not json":
        sidecar.write_text('{"engine_sha256": ')
    elif damage == "sidecar wrong types":
        sidecar.write_text(json.dumps({**data, "workspace_mib": "lots", "builder_flags": "FP16"}))
    elif damage == "sidecar missing keys":
        sidecar.write_text(json.dumps({"sidecar_version": SIDECAR_VERSION, "onnx_sha256": data["onnx_sha256"]}))
    elif damage == "sidecar other version":
        sidecar.write_text(json.dumps({**data, "sidecar_version": 99}))
    elif damage == "sidecar metadata invalid":
        metadata = {key: value for key, value in data["model_metadata"].items() if not key.endswith(".height")}
        sidecar.write_text(json.dumps({**data, "model_metadata": metadata}))
    elif damage == "sidecar metadata lies":
        sidecar.write_text(json.dumps({**data, "model_metadata": trt_double.tiny_model_info(height=64).to_metadata()}))
    elif damage == "truncate engine":
        engine.write_bytes(engine.read_bytes()[:20])
    else:  # a sidecar that lies: its sha256 matches bytes that TensorRT cannot load
        engine.write_bytes(b"not an engine")
        sidecar.write_text(json.dumps({**data, "engine_sha256": hashlib.sha256(b"not an engine").hexdigest()}))
    record, lines = build(tiny_model, engine)
    assert len(builds()) == 2
    assert any(expected_reason in line for line in lines), lines
    assert read_sidecar(engine) == record
    assert record.engine_sha256 == hashlib.sha256(engine.read_bytes()).hexdigest()


def test_parser_rejection_names_the_node_and_keeps_the_old_engine(
    monkeypatch: pytest.MonkeyPatch, tiny_model: Path, tmp_path: Path
) -> None:
    import onnx
    from onnx import helper

    trt_double.install(monkeypatch, "8.2.1.8")
    engine = tmp_path / "model.engine"
    build(tiny_model, engine)
    before = engine.read_bytes(), sidecar_path(engine).read_text()
    graph = onnx.load(str(tiny_model))
    graph.graph.node.append(helper.make_node("Mod", ["flat", "flat"], ["remainder"], fmod=1))
    onnx.save(graph, str(tiny_model))
    with pytest.raises(EngineCacheError, match=r"(?s)rejected .*node \d+: no importer registered for op: Mod"):
        build(tiny_model, engine)
    assert (engine.read_bytes(), sidecar_path(engine).read_text()) == before
    assert no_partial_files(tmp_path)


def test_uint8_model_on_tensorrt_8_2_is_refused_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trt_double.install(monkeypatch, "8.2.1.8")
    model = tmp_path / "uint8.onnx"
    trt_double.make_contract_onnx(model, trt_double.tiny_model_info(input_dtype="uint8", trt_compat=TrtCompat.TRT_10))
    with pytest.raises(
        EngineCacheError, match=r"(?s)unsupported type UINT8.*check .*uint8.onnx --trt 8.2'.*--trt-compat 8.2"
    ):
        build(model, tmp_path / "uint8.engine")


def test_missing_or_foreign_onnx_is_a_clear_error(fake_gpu: trt_double.FakeGpu, tmp_path: Path) -> None:
    with pytest.raises(EngineCacheError, match="not found; export one"):
        build(tmp_path / "absent.onnx", tmp_path / "model.engine")
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(b"\x08\x07")  # a valid, empty ModelProto: no disk_trt_ros metadata
    with pytest.raises(ContractError, match="not exported by disk_trt_ros"):
        build(foreign, tmp_path / "model.engine")
    assert not (tmp_path / "model.engine").exists()


def test_unwritable_directory_is_a_clear_error(fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        directory = Path("/sys")  # root ignores permission bits; sysfs refuses new files even to root
    else:
        directory = tmp_path / "read-only"
        directory.mkdir()
        directory.chmod(0o555)
    with pytest.raises(EngineCacheError, match="directory must be writable"):
        build(tiny_model, directory / "disk_trt_ros_test.engine")


def test_timing_cache_is_saved_and_reused_and_a_corrupt_one_tolerated(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "timing.cache"
    settings = BuildSettings(timing_cache=cache)
    build(tiny_model, tmp_path / "a.engine", settings)
    assert cache.read_bytes().startswith(trt_double.TIMING_CACHE_MAGIC)
    build(tiny_model, tmp_path / "b.engine", settings)
    assert json.loads(cache.read_bytes()[len(trt_double.TIMING_CACHE_MAGIC) :]) == ["build 1", "build 2"]
    cache.write_bytes(b"garbage")
    _, lines = build(tiny_model, tmp_path / "c.engine", settings)
    assert any("timing cache" in line and "empty one" in line for line in lines), lines
    assert (tmp_path / "c.engine").is_file()


def test_stale_partial_files_are_removed_under_the_lock(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path
) -> None:
    leftover = tmp_path / ".model.engine.k2j3h4.partial"  # what a writer killed mid-write leaves
    leftover.write_bytes(b"half an engine")
    unrelated = tmp_path / ".other.engine.x.partial"
    unrelated.write_bytes(b"someone else's")
    build(tiny_model, tmp_path / "model.engine")
    assert not leftover.exists() and unrelated.exists()


def test_heartbeat_reports_while_the_builder_is_silent() -> None:
    lines: list[str] = []
    progress = Progress(lines.append)
    with progress.heartbeat("building the engine", interval=0.05):
        time.sleep(0.3)
    assert sum("still building the engine" in line for line in lines) >= 2
    count = len(lines)
    time.sleep(0.15)
    assert len(lines) == count, "the heartbeat stops with the build"


def test_without_tensorrt_the_command_says_what_to_install(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnx")
    if "tensorrt" in sys.modules or _importable("tensorrt"):
        pytest.skip("TensorRT is installed here")
    from disk_trt_ros.cli import main

    status = main(["build-engine", "--onnx", str(tiny_model), "--engine", str(tmp_path / "m.engine"), "--if-needed"])
    error = capsys.readouterr().err
    assert status != 0
    assert "TensorRT is not installed" in error and ("pip install tensorrt" in error or "JetPack" in error), error
    assert not (tmp_path / "m.engine").exists()


def test_without_a_cuda_binding_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tiny_model: Path, tmp_path: Path
) -> None:
    trt_double.install(monkeypatch, "10.0.1")
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(CudaUnavailableError, match="cuda-python.*pycuda"):
        build(tiny_model, tmp_path / "model.engine")


def test_import_tensorrt_error_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(TensorRTUnavailableError, match="pip install tensorrt|JetPack"):
        import_tensorrt()


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# --- real processes -----------------------------------------------------------------------------------------------


def start_build(model: Path, engine: Path, build_seconds: float, log: Path, *extra: str) -> subprocess.Popen[str]:
    """``build-engine --if-needed`` in a new process whose TensorRT and CUDA are the doubles."""
    environment = subprocess_environment(
        TRT_DOUBLE_BUILD_SECONDS=str(build_seconds), TRT_DOUBLE_BUILD_LOG=str(log), PYTHONUNBUFFERED="1"
    )
    command = trt_double.command("build-engine", "--onnx", str(model), "--engine", str(engine))
    return subprocess.Popen(
        [*command, "--if-needed", *extra],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 60.0) -> list[str]:
    """Read the process's output until a line contains ``needle``; returns the lines read."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no line with {needle!r} in {lines}")


def test_two_processes_build_the_engine_once(tiny_model: Path, tmp_path: Path) -> None:
    engine, log = tmp_path / "model.engine", tmp_path / "builds.log"
    first = start_build(tiny_model, engine, 3.0, log)
    try:
        wait_for_line(first, "building the fp16 engine")
        second = start_build(tiny_model, engine, 3.0, log)
        second_output, _ = second.communicate(timeout=120)
        first_output, _ = first.communicate(timeout=120)
    finally:
        first.kill()
    assert (first.returncode, second.returncode) == (0, 0), (first_output, second_output)
    assert len(log.read_text().splitlines()) == 1, "the engine was built once"
    assert "waiting for it" in second_output and "built meanwhile and is up to date" in second_output, second_output
    assert read_sidecar(engine).engine_sha256 == hashlib.sha256(engine.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "number", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda n: signal.Signals(n).name
)
def test_a_build_ended_half_way_leaves_nothing_behind(tiny_model: Path, tmp_path: Path, number: int) -> None:
    engine, log = tmp_path / "model.engine", tmp_path / "builds.log"
    process = start_build(tiny_model, engine, 60.0, log)
    try:
        wait_for_line(process, "building the fp16 engine")
        sent = time.monotonic()
        process.send_signal(number)
        process.wait(timeout=10)
        ended_after = time.monotonic() - sent
    finally:
        process.kill()
    assert process.returncode != 0
    assert ended_after < 2.0, f"the build took {ended_after:.1f} s to end"
    assert not engine.exists() and not sidecar_path(engine).exists()
    assert no_partial_files(tmp_path)
    again = start_build(tiny_model, engine, 0.0, log)  # the lock died with the process
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0, output
    assert read_sidecar(engine).engine_sha256 == hashlib.sha256(engine.read_bytes()).hexdigest()


def test_the_build_is_announced_once_a_signal_would_end_it(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path
) -> None:
    """"building the ... engine" is written once SIGINT and SIGTERM have their default action (what the test above
    relies on when it signals right after that line), and their handlers are back after the build."""
    handlers_when_announced: list[tuple[object, object]] = []

    def record(line: str) -> None:
        if "] building the" in line:
            handlers_when_announced.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    ensure_engine(tiny_model, tmp_path / "model.engine", BuildSettings(), progress=Progress(record))
    assert handlers_when_announced == [(signal.SIG_DFL, signal.SIG_DFL)]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before != (signal.SIG_DFL,) * 2
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set(), "no signal is left blocked"


def test_tactic_sources_are_set_recorded_and_checked(
    fake_gpu: trt_double.FakeGpu, tiny_model: Path, tmp_path: Path
) -> None:
    """--tactic-sources enables exactly the named sources (a machine without cuBLAS leaves CUBLAS out); the sidecar
    records them, a change rebuilds, and an unknown name is refused with the ones TensorRT has."""
    engine = tmp_path / "model.engine"
    record, _ = build(tiny_model, engine, BuildSettings(tactic_sources=("CUDNN", "EDGE_MASK_CONVOLUTIONS")))
    assert builds()[-1]["tactic_sources"] == (1 << 2) | (1 << 3)
    assert record.tactic_sources == ["CUDNN", "EDGE_MASK_CONVOLUTIONS"]
    _, lines = build(tiny_model, engine)
    assert len(builds()) == 2 and any("tactic_sources" in line for line in lines), lines
    assert builds()[-1]["tactic_sources"] is None, "no --tactic-sources: TensorRT's default"
    with pytest.raises(EngineCacheError, match="unknown tactic source.*CUBLASS.*CUBLAS, CUBLAS_LT"):
        build(tiny_model, engine, BuildSettings(tactic_sources=("CUBLASS",)))
