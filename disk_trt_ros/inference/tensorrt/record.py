# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The engine record: the sidecar ``ENGINE.json`` that says what an engine was built from and with.

An engine file carries no ONNX metadata, so the sidecar holds the model's metadata
(:meth:`~disk_trt_ros.contract.ModelInfo.to_metadata`, or a matcher's) beside what the engine depends on: the ONNX
file's sha256, the TensorRT version, the GPU's name and compute capability, the precision and builder settings. The
engine cache
(:mod:`~disk_trt_ros.inference.tensorrt.cache`) compares them to decide whether an engine can be reused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from disk_trt_ros.contract import ModelInfo, Precision
from disk_trt_ros.errors import EngineCacheError
from disk_trt_ros.files import MAX_MODEL_BYTES, read_regular_file
from disk_trt_ros.matcher_contract import MatcherInfo, info_from_metadata

SIDECAR_VERSION = 2
MAX_SIDECAR_BYTES = 1 << 20  # a sidecar is a few kB of JSON


@dataclasses.dataclass(frozen=True)
class EngineRecord:
    """The sidecar: what an engine was built from and with, and the model's metadata.

    Besides what the cache compares (:attr:`DEPENDENCIES`), it records the engine's ``image`` binding dtype
    (``uint8`` where TensorRT took the float32 input as uint8), how many layers the precision policy kept in float32,
    and TensorRT's warnings during the build.
    """

    engine_sha256: str
    input_dtype: str
    fp32_layers: int
    build_warnings: list[str]
    onnx_sha256: str
    onnx_path: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    builder_flags: list[str]
    tactic_sources: list[str]
    workspace_mib: int
    model_metadata: dict[str, str]
    package_version: str
    built_at: str
    build_seconds: float
    sidecar_version: int = SIDECAR_VERSION

    DEPENDENCIES = (
        "sidecar_version",
        "onnx_sha256",
        "tensorrt_version",
        "gpu_name",
        "compute_capability",
        "precision",
        "builder_flags",
        "tactic_sources",
        "workspace_mib",
        "model_metadata",
    )

    @property
    def model_info(self) -> ModelInfo | MatcherInfo:
        """The extractor's or the matcher's contract, as the engine's model promised it."""
        return info_from_metadata(self.model_metadata)

    def dependencies(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.DEPENDENCIES}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> EngineRecord:
        """Parse a sidecar; raises :class:`ValueError` naming what is wrong."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("sidecar_version") != SIDECAR_VERSION:
            raise ValueError(
                f"sidecar version {data.get('sidecar_version')!r}, this disk_trt_ros writes {SIDECAR_VERSION}"
            )
        fields = {field.name: field for field in dataclasses.fields(cls)}
        missing = sorted(set(fields) - set(data))
        if missing:
            raise ValueError(f"missing keys: {', '.join(missing)}")
        expected_types = {
            "builder_flags": list,
            "tactic_sources": list,
            "build_warnings": list,
            "fp32_layers": int,
            "model_metadata": dict,
            "workspace_mib": int,
            "build_seconds": (int, float),
        }
        for name in fields:
            expected = expected_types.get(name, int if name == "sidecar_version" else str)
            if not isinstance(data[name], expected) or isinstance(data[name], bool):
                raise ValueError(f"{name} has the wrong type ({type(data[name]).__name__})")
        lists = ("builder_flags", "tactic_sources", "build_warnings")
        if not all(isinstance(text, str) for name in lists for text in data[name]):
            raise ValueError("builder_flags, tactic_sources and build_warnings must be lists of strings")
        if data["input_dtype"] not in ("uint8", "float32"):
            raise ValueError(f"input_dtype {data['input_dtype']!r} is not uint8 or float32")
        if not all(isinstance(value, str) for value in data["model_metadata"].values()):
            raise ValueError("model_metadata values must be strings")
        if data["precision"] not in Precision.values():
            raise ValueError(f"precision {data['precision']!r} is not one of {', '.join(Precision.values())}")
        record = cls(**{name: data[name] for name in fields})
        info_from_metadata(record.model_metadata)  # raises ContractError (a ValueError) naming what is wrong
        return record


def sidecar_path(engine_path: str | os.PathLike[str]) -> Path:
    """Where the sidecar of ``engine_path`` is: beside it, with ``.json`` appended to its name."""
    return Path(f"{engine_path}.json")


def default_engine_path(onnx_path: str | os.PathLike[str], precision: Precision | str) -> Path:
    """Where an engine for ``onnx_path`` goes when none is named: beside it, ``model.fp16.engine``."""
    return Path(onnx_path).with_suffix(f".{Precision(precision).value}.engine")


def read_engine(engine_path: str | os.PathLike[str]) -> bytes:
    """The bytes of an engine file: a regular file of this user's or root's, of at most
    :data:`~disk_trt_ros.files.MAX_MODEL_BYTES` (raises FileNotFoundError, FileRefusedError, OSError)."""
    return read_regular_file(engine_path, MAX_MODEL_BYTES, "TensorRT engine", owned=True)


def read_recorded_engine(engine_path: str | os.PathLike[str], record: EngineRecord) -> bytes:
    """The bytes of the engine ``record`` (its sidecar) describes; :class:`EngineCacheError` when it cannot be read or
    does not match the sidecar's sha256."""
    try:
        data = read_engine(engine_path)
    except OSError as error:
        raise EngineCacheError(f"cannot read the engine: {error}") from error
    if hashlib.sha256(data).hexdigest() != record.engine_sha256:
        raise EngineCacheError(
            f"engine {engine_path} does not match the sha256 in its sidecar (truncated or replaced); rebuild it "
            "with 'python -m disk_trt_ros build-engine --if-needed'"
        )
    return data


def read_sidecar(engine_path: str | os.PathLike[str]) -> EngineRecord:
    """The sidecar of ``engine_path``; :class:`EngineCacheError` if it is missing or unreadable (not a regular file
    of this user's or root's, or over :data:`MAX_SIDECAR_BYTES`, included)."""
    path = sidecar_path(engine_path)
    try:
        return EngineRecord.from_json(read_regular_file(path, MAX_SIDECAR_BYTES, "engine sidecar", owned=True).decode())
    except FileNotFoundError as error:
        raise EngineCacheError(
            f"engine {engine_path} has no sidecar {path}: build engines with 'python -m disk_trt_ros build-engine'"
        ) from error
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise EngineCacheError(
            f"engine sidecar {path} is unreadable ({error}); rebuild the engine with "
            "'python -m disk_trt_ros build-engine'"
        ) from error
