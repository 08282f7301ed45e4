# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing engine sidecars: whatever ``ENGINE.json`` holds, the cache reuses a good engine or rebuilds it.

The sidecar is the engine cache's only memory of what an engine was built from; a disk, a user or another tool can
leave anything there. :func:`~disk_trt_ros.inference.tensorrt.record.read_sidecar` must give an
:class:`~disk_trt_ros.inference.tensorrt.record.EngineRecord` or an
:class:`~disk_trt_ros.errors.EngineCacheError`, and the ``--if-needed`` decision must end in an engine
whose sidecar is true: reused only when it describes this engine and this model exactly, else rebuilt. TensorRT and
CUDA are the doubles of ``support.trt_double``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from disk_trt_ros.contract import METADATA_PREFIX
from disk_trt_ros.errors import EngineCacheError
from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import EngineRecord, read_sidecar, sidecar_path
from support import fuzz, trt_double

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = fuzz.json_values(text_size=10, key_size=5, max_leaves=8)


# Deserializing an engine of the TensorRT double runs its model with onnxruntime.
RUNS_ENGINES = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                                  reason="onnxruntime is not installed: the TensorRT double runs its engines with it")


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """An ONNX model, its engine built once, and the true sidecar's content."""
    trt_double.install(monkeypatch, "10.0.1")
    model, engine = tmp_path / "model.onnx", tmp_path / "model.engine"
    trt_double.make_contract_onnx(model, trt_double.tiny_model_info())
    ensure_engine(model, engine, BuildSettings(), progress=Progress(lambda line: None))
    return model, engine, json.loads(sidecar_path(engine).read_text())


@st.composite
def lying_sidecars(draw: st.DrawFn, true: dict[str, Any]) -> str:
    """The true sidecar with values replaced (by random JSON or by a plausible lie), keys removed, keys added."""
    sidecar = json.loads(json.dumps(true))
    keys = sorted(true)
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        plausible = {
            "engine_sha256": hashlib.sha256(b"another engine").hexdigest(),
            "onnx_sha256": "0" * 64,
            "tensorrt_version": "8.6.1",
            "precision": "fp32",
            "builder_flags": [],
            "workspace_mib": 1,
            "model_metadata": trt_double.tiny_model_info(height=64).to_metadata(),
        }
        choices = [json_values] + ([st.just(plausible[key])] if key in plausible else [])
        sidecar[key] = draw(st.one_of(*choices))
    if draw(st.booleans()):
        metadata = sidecar.get("model_metadata")
        if isinstance(metadata, dict) and metadata:
            name = draw(st.sampled_from(sorted(metadata)))
            metadata[name] = draw(json_values | st.text(max_size=8))
    for key in draw(st.lists(st.sampled_from(keys), max_size=1)):
        sidecar.pop(key, None)
    sidecar.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
    return json.dumps(sidecar)


def informational_changes(true: dict[str, Any]) -> st.SearchStrategy[str]:
    """The true sidecar with only what the engine does not depend on changed: when and by whom it was built."""
    return st.fixed_dictionaries(
        {"built_at": st.text(max_size=30), "build_seconds": st.floats(0, 1e4), "package_version": st.text(max_size=8),
         "onnx_path": st.text(max_size=30)}
    ).map(lambda changes: json.dumps({**true, **changes}))


def any_sidecar_text(true: dict[str, Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        informational_changes(true).map(str.encode),
        lying_sidecars(true).map(str.encode),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=200),
    )


@given(data=st.data())
@FUZZ
def test_read_sidecar_gives_a_record_or_an_engine_cache_error(
    cache: tuple[Path, Path, dict[str, Any]], data: st.DataObject
) -> None:
    _, engine, true = cache
    sidecar_path(engine).write_bytes(data.draw(any_sidecar_text(true)))
    try:
        record = read_sidecar(engine)
    except EngineCacheError as error:
        assert str(sidecar_path(engine)) in str(error)
        event("refused")
        return
    event("read")
    assert isinstance(record, EngineRecord)


@RUNS_ENGINES
@given(data=st.data())
@FUZZ
def test_if_needed_ends_in_an_engine_whose_sidecar_is_true(
    cache: tuple[Path, Path, dict[str, Any]], data: st.DataObject
) -> None:
    model, engine, true = cache
    event("rebuilt" if check_if_needed_with(model, engine, data.draw(any_sidecar_text(true))) else "reused")


# Kept failing examples: sidecars that once ended in an exception other than EngineCacheError, or in a reused engine
# that the TensorRT backend then refused at every start.
KEPT_SIDECARS = {
    "JSON nested deeper than the recursion limit": lambda true: b"[" * 100_000,
    "model metadata holding a number, not a JSON text": lambda true: json.dumps(
        {**true, "model_metadata": {**true["model_metadata"], METADATA_PREFIX + "height": 32}}).encode(),
    "model metadata of another contract version": lambda true: json.dumps(
        {**true, "model_metadata": {**true["model_metadata"], METADATA_PREFIX + "contract_version": "2"}}).encode(),
    "model metadata that lies about the input size": lambda true: json.dumps(
        {**true, "model_metadata": trt_double.tiny_model_info(height=64).to_metadata()}).encode(),
}


@RUNS_ENGINES
@pytest.mark.parametrize("case", sorted(KEPT_SIDECARS))
def test_kept_failing_sidecars_end_in_an_engine_whose_sidecar_is_true(
    cache: tuple[Path, Path, dict[str, Any]], case: str
) -> None:
    model, engine, true = cache
    check_if_needed_with(model, engine, KEPT_SIDECARS[case](true))


@pytest.mark.parametrize("case", sorted(KEPT_SIDECARS))
def test_kept_failing_sidecars_are_read_or_refused_clearly(cache: tuple[Path, Path, dict[str, Any]], case: str) -> None:
    _, engine, true = cache
    sidecar_path(engine).write_bytes(KEPT_SIDECARS[case](true))
    try:
        read_sidecar(engine).model_info  # noqa: B018 - reading the model info is what is checked
    except EngineCacheError as error:
        assert str(sidecar_path(engine)) in str(error)


def check_if_needed_with(model: Path, engine: Path, sidecar_text: bytes) -> bool:
    """Write the sidecar, run the --if-needed decision, check the result; returns whether the engine was rebuilt."""
    sidecar_path(engine).write_bytes(sidecar_text)
    builds = len(trt_double_builds())
    record = ensure_engine(model, engine, BuildSettings(), progress=Progress(lambda line: None))
    assert read_sidecar(engine) == record
    assert record.engine_sha256 == hashlib.sha256(engine.read_bytes()).hexdigest()
    assert record.model_info == trt_double.tiny_model_info()
    backend = TensorRTBackend(engine)
    backend.close()
    assert not list(engine.parent.glob(".*.partial"))
    return len(trt_double_builds()) > builds


def trt_double_builds() -> list[dict[str, Any]]:
    return sys.modules["tensorrt"].builds
