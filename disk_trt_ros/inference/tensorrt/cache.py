# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The TensorRT engine as a cached artefact of the ONNX model: build it, reuse it while it still fits.

:func:`ensure_engine` writes the engine ``E`` and its sidecar ``E.json`` (:mod:`.record`). With ``if_needed`` it
rebuilds only when what the sidecar records differs from what a build now would record, or the engine is missing,
unreadable, does not match the sidecar's sha256 or does not deserialize.

Files are written to a temporary name and renamed (:mod:`disk_trt_ros.atomic`), so a reader sees the old engine or
the whole new one. Builds of one engine are serialised by an exclusive ``flock`` on ``E.lock``: a second launch
waits, then finds the engine up to date. The build itself is :func:`.builder.compile_engine`. The engine's directory
must be writable by this user (or root) alone, and its files theirs: anyone else could plant an engine there
(:mod:`.directory`, which also holds the lock).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import time
from pathlib import Path
from typing import Any, Callable

from disk_trt_ros import __version__
from disk_trt_ros.atomic import atomic_write_bytes
from disk_trt_ros.contract import ModelInfo, PrecisionPolicy
from disk_trt_ros.errors import EngineCacheError
from disk_trt_ros.files import MAX_MODEL_BYTES, read_regular_file
from disk_trt_ros.inference.tensorrt.builder import BuildSettings, compile_engine
from disk_trt_ros.inference.tensorrt.cuda_bindings import open_cuda_memory
from disk_trt_ros.inference.tensorrt.cuda_memory import DeviceInfo
from disk_trt_ros.inference.tensorrt.directory import engine_lock, require_trusted_directory
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import (
    SIDECAR_VERSION,
    EngineRecord,
    read_engine,
    read_sidecar,
    sidecar_path,
)
from disk_trt_ros.inference.tensorrt.runtime import deserialization_failure, import_tensorrt
from disk_trt_ros.matcher_contract import MatcherInfo, info_from_metadata
from disk_trt_ros.onnx_files import onnx_metadata, parse_onnx_model

MAX_RECORDED_WARNINGS = 50  # TensorRT repeats some warnings per layer; the sidecar keeps the first ones


def wanted_dependencies(
    onnx_sha256: str,
    info: ModelInfo | MatcherInfo,
    tensorrt_version: str,
    device: DeviceInfo,
    settings: BuildSettings,
    policy: PrecisionPolicy = PrecisionPolicy(),
) -> dict[str, Any]:
    """What an engine built now with ``settings`` would record under :attr:`EngineRecord.DEPENDENCIES`, less
    ``workspace_mib`` when ``settings`` leaves it open (any cached value is then accepted)."""
    wanted = {
        "sidecar_version": SIDECAR_VERSION,
        "onnx_sha256": onnx_sha256,
        "tensorrt_version": tensorrt_version,
        "gpu_name": device.name,
        "compute_capability": device.compute_capability_text,
        "precision": settings.precision.value,
        "builder_flags": settings.builder_flags(policy),
        "tactic_sources": list(settings.tactic_sources),
        "workspace_mib": settings.workspace_mib,
        "model_metadata": info.to_metadata(),
    }
    if settings.workspace_mib is None:
        del wanted["workspace_mib"]
    return wanted


def stale_reason(
    engine_path: Path, wanted: dict[str, Any], deserialization_failure: Callable[[bytes], str | None]
) -> tuple[EngineRecord | None, str | None]:
    """``(record, None)`` when the engine at ``engine_path`` can be reused, else ``(None, why it cannot)``."""
    if not engine_path.exists():
        return None, "no engine file yet"
    try:
        record = read_sidecar(engine_path)
    except EngineCacheError as error:
        return None, str(error)
    recorded = record.dependencies()
    changed = [
        f"{name} differs from the model's"
        if isinstance(wanted[name], dict)
        else f"{name} {recorded[name]!r} -> {wanted[name]!r}"
        for name in wanted
        if recorded[name] != wanted[name]
    ]
    if changed:
        return None, "changed: " + "; ".join(changed)
    try:
        data = read_engine(engine_path)
    except OSError as error:  # FileRefusedError too: a FIFO, a device, another user's file
        return None, f"engine file unreadable ({error})"
    if hashlib.sha256(data).hexdigest() != record.engine_sha256:
        return None, "engine file does not match the sha256 in its sidecar (truncated or replaced)"
    failure = deserialization_failure(data)
    if failure is not None:
        return None, f"TensorRT {wanted['tensorrt_version']} cannot deserialize the engine ({failure})"
    return record, None


def ensure_engine(
    onnx_path: str | os.PathLike[str],
    engine_path: str | os.PathLike[str],
    settings: BuildSettings,
    *,
    if_needed: bool = True,
    progress: Progress | None = None,
    device: int = 0,
) -> EngineRecord:
    """Build the engine for ``onnx_path`` at ``engine_path`` (always, or only if needed) and return its sidecar.

    Raises:
        EngineCacheError: missing ONNX file, parser or builder failure, unwritable or untrusted directory.
        ContractError: the ONNX file was not exported by disk_trt_ros.
        CudaError: a CUDA call failed.
        TensorRTUnavailableError, CudaUnavailableError: what to install.
    """
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    progress = progress or Progress()
    try:
        onnx_data = read_regular_file(onnx_path, MAX_MODEL_BYTES, "ONNX model")
    except FileNotFoundError as error:
        raise EngineCacheError(
            f"ONNX model {onnx_path} not found; export one with 'python -m disk_trt_ros export --output {onnx_path}'"
        ) from error
    except OSError as error:
        raise EngineCacheError(f"cannot read the ONNX model: {error}") from error
    metadata = onnx_metadata(parse_onnx_model(onnx_data, onnx_path, load_external_data=False))
    info = info_from_metadata(metadata)
    policy = PrecisionPolicy.from_metadata(metadata)
    require_trusted_directory(engine_path, create=True)
    for path in (engine_path, sidecar_path(engine_path)):  # found now, not after a build of minutes
        if path.is_dir():
            raise EngineCacheError(f"{path} is a directory; give --engine (the node's 'engine') a file name")
    trt = import_tensorrt()
    with open_cuda_memory(device) as cuda, cuda.active():
        onnx_sha256 = hashlib.sha256(onnx_data).hexdigest()
        wanted = wanted_dependencies(onnx_sha256, info, str(trt.__version__), cuda.device_info(), settings, policy)
        if if_needed:
            record, reason = stale_reason(engine_path, wanted, deserialization_failure)
            if record is not None:
                progress(f"engine {engine_path} is up to date")
                return record
            progress(f"building {engine_path}: {reason}")
        with engine_lock(engine_path, progress):
            if if_needed:  # another process may have built it while this one waited for the lock
                record, _ = stale_reason(engine_path, wanted, deserialization_failure)
                if record is not None:
                    progress(f"engine {engine_path} was built meanwhile and is up to date")
                    return record
            _remove_partial_files(engine_path)
            return _build(onnx_path, engine_path, settings, policy, wanted, progress)


def _remove_partial_files(engine_path: Path) -> None:
    """Temporary files of a writer that was killed (only the lock holder writes, so none is in use)."""
    for partial in engine_path.parent.glob(f".{engine_path.name}.*.partial"):
        partial.unlink(missing_ok=True)


def _build(
    onnx_path: Path,
    engine_path: Path,
    settings: BuildSettings,
    policy: PrecisionPolicy,
    wanted: dict[str, Any],
    progress: Progress,
) -> EngineRecord:
    started = time.monotonic()
    compiled = compile_engine(onnx_path, settings, progress, policy)
    data = compiled.data
    record = EngineRecord(
        engine_sha256=hashlib.sha256(data).hexdigest(),
        input_dtype=compiled.input_dtype,
        fp32_layers=compiled.fp32_layers,
        build_warnings=compiled.warnings[:MAX_RECORDED_WARNINGS],
        onnx_path=str(onnx_path.resolve()),
        package_version=__version__,
        built_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(time.monotonic() - started, 1),
        **{**wanted, "workspace_mib": settings.effective_workspace_mib},
    )
    try:
        atomic_write_bytes(engine_path, data)
        atomic_write_bytes(sidecar_path(engine_path), record.to_json().encode())
    except OSError as error:
        raise EngineCacheError(f"cannot write the engine {engine_path} ({error.strerror})") from error
    progress(f"wrote {engine_path} ({len(data) / 1e6:.1f} MB) and {sidecar_path(engine_path).name}")
    return record
