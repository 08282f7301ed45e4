# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing the model metadata reader: every metadata either gives a valid ModelInfo or a ContractError.

The node and the engine builder take H, W, K and the input format from a model's ``metadata_props``, which any
ONNX file can carry. ``ModelInfo.from_metadata`` must turn whatever it finds into a validated
:class:`~disk_trt_ros.contract.ModelInfo` or a :class:`~disk_trt_ros.contract.ContractError` whose message names the
key — never another exception, never a value silently reinterpreted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import onnx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from disk_trt_ros.contract import (
    METADATA_PREFIX,
    Fp16Policy,
    InputFormat,
    InstanceNorm,
    ModelInfo,
    TrtCompat,
    read_onnx_model_info,
)
from disk_trt_ros.errors import ContractError
from support import fuzz

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

VALID = ModelInfo(
    height=128, width=160, max_keypoints=64, input_format=InputFormat.RGB, input_dtype="float32", nms_window=5,
    score_threshold=0.0, trt_compat=TrtCompat.TRT_8_2, weights="random:0", weights_sha256="ab" * 32,
    package_version="0.1.0",
)
KEYS = sorted(VALID.to_metadata())
NUMERIC_FIELDS = ("height", "width", "max_keypoints", "nms_window", "score_threshold", "contract_version")

json_values = fuzz.json_values(text_size=12, key_size=4, max_leaves=6)
metadata_text = st.one_of(
    json_values.map(lambda value: json.dumps(value)),  # valid JSON of any type (NaN and Infinity included)
    st.text(max_size=20),  # usually not JSON at all
    st.sampled_from(['"rgb"', '"mono"', '"bgr"', '"8.2"', '"10"', '"uint8"', '"float32"', '"onnx"', '"decomposed"',
                     '"fp32-detector"', '"tf32-detector"', '"fp16-unet"', "16", "0", "-16", "3",
                     "1e308", "2e9", "128.5", "true", "NaN", "-Infinity", '"128"']),
)


@st.composite
def mutated_metadata(draw: st.DrawFn) -> dict[str, str]:
    """Valid metadata with some keys replaced by fuzzed text, some removed, some unknown keys added."""
    metadata = VALID.to_metadata()
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
        metadata[key] = draw(metadata_text)
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=1)):
        metadata.pop(key, None)
    metadata.update(draw(st.dictionaries(st.text(max_size=30), st.text(max_size=10), max_size=2)))
    return metadata


def assert_faithful(info: ModelInfo, metadata: dict[str, str]) -> None:
    """An accepted ModelInfo says what the metadata says: numbers equal (no truncation), texts equal."""
    info.validate()
    for name in NUMERIC_FIELDS:
        value = json.loads(metadata[METADATA_PREFIX + name])
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (name, value)
        assert math.isfinite(value) and value == getattr(info, name), (name, value, getattr(info, name))
    for name in ("weights", "weights_sha256", "package_version", "input_dtype"):
        assert json.loads(metadata[METADATA_PREFIX + name]) == getattr(info, name), name
    assert json.loads(metadata[METADATA_PREFIX + "input_format"]) == info.input_format.value
    assert json.loads(metadata[METADATA_PREFIX + "trt_compat"]) == info.trt_compat.value
    # a model exported before the instance-norm choice existed has no key: its norms are ONNX InstanceNormalization
    instance_norm = metadata.get(METADATA_PREFIX + "instance_norm", '"onnx"')
    assert json.loads(instance_norm) == info.instance_norm.value
    fp16_policy = metadata.get(METADATA_PREFIX + "fp16_policy", '"fp32-detector"')  # likewise: the policy of before
    assert json.loads(fp16_policy) == info.fp16_policy.value


def read(metadata: dict[str, str]) -> ModelInfo | None:
    """``from_metadata``, with ContractError (and only it) turned into None after checking its message."""
    try:
        return ModelInfo.from_metadata(metadata)
    except ContractError as error:
        assert str(error), "a ContractError without a message"
        return None


# Kept failing examples: before contract.py checked the JSON types, each of these was accepted with another meaning
# (128.5 read as 128, true as 1 keypoint, null as the weights "None", 1e308 as a height).
@example({**VALID.to_metadata(), METADATA_PREFIX + "height": "128.5"})
@example({**VALID.to_metadata(), METADATA_PREFIX + "nms_window": "5.9"})
@example({**VALID.to_metadata(), METADATA_PREFIX + "max_keypoints": "true"})
@example({**VALID.to_metadata(), METADATA_PREFIX + "width": '"160"'})
@example({**VALID.to_metadata(), METADATA_PREFIX + "contract_version": "1.0"})
@example({**VALID.to_metadata(), METADATA_PREFIX + "weights": "null"})
@example({**VALID.to_metadata(), METADATA_PREFIX + "package_version": "3"})
@example({**VALID.to_metadata(), METADATA_PREFIX + "height": "1e308"})
@given(mutated_metadata())
@FUZZ
def test_metadata_gives_a_faithful_model_info_or_a_contract_error(metadata: dict[str, str]) -> None:
    info = read(metadata)
    if info is not None:
        assert_faithful(info, metadata)


@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=30), metadata_text, max_size=14))
@FUZZ
def test_arbitrary_metadata_never_raises_anything_but_a_contract_error(metadata: dict[str, str]) -> None:
    info = read(metadata)
    if info is not None:
        assert_faithful(info, metadata)


@given(st.builds(
    ModelInfo,
    height=st.integers(1, 64).map(lambda n: 16 * n),
    width=st.integers(1, 64).map(lambda n: 16 * n),
    max_keypoints=st.integers(1, 8192),
    input_format=st.sampled_from(InputFormat),
    input_dtype=st.just("float32"),
    nms_window=st.integers(1, 7).map(lambda n: 2 * n + 1),
    score_threshold=st.floats(-10.0, 10.0),
    trt_compat=st.sampled_from(TrtCompat),
    weights=st.text(max_size=20),
    weights_sha256=st.text("0123456789abcdef", min_size=64, max_size=64),
    package_version=st.text(max_size=10),
    instance_norm=st.sampled_from(InstanceNorm),
    fp16_policy=st.sampled_from(Fp16Policy),
))
@FUZZ
def test_every_valid_model_info_round_trips_through_its_metadata(info: ModelInfo) -> None:
    try:
        info.validate()
    except ContractError:
        return
    assert ModelInfo.from_metadata(info.to_metadata()) == info


@pytest.fixture(scope="module")
def model_bytes(export_model: Any) -> bytes:
    return export_model().path.read_bytes()


@given(data=st.data())
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # the file is rewritten by every example
def test_a_damaged_onnx_file_gives_a_contract_error(model_bytes: bytes, data: st.DataObject, tmp_path: Path) -> None:
    """Truncated, overwritten or random files where a model should be: ContractError, not a protobuf exception."""
    damage = data.draw(st.sampled_from(["truncate", "overwrite", "random"]))
    if damage == "truncate":
        damaged = model_bytes[: data.draw(st.integers(0, len(model_bytes) - 1))]
    elif damage == "overwrite":
        start = data.draw(st.integers(0, len(model_bytes) - 1))
        damaged = model_bytes[:start] + data.draw(st.binary(min_size=1, max_size=64)) + model_bytes[start + 64:]
    else:
        damaged = data.draw(st.binary(max_size=512))
    path = tmp_path / "damaged.onnx"
    path.write_bytes(damaged)
    try:
        info = read_onnx_model_info(str(path))
    except ContractError as error:
        assert str(path) in str(error) or "metadata" in str(error)
        return
    info.validate()  # damage that spared the metadata: a valid model info (loading the graph is the backend's job)


def test_a_model_from_another_contract_version_is_refused_by_name(tmp_path: Path, export_model: Any) -> None:
    model = onnx.load(str(export_model().path))
    for prop in model.metadata_props:
        if prop.key == METADATA_PREFIX + "contract_version":
            prop.value = "2"
    path = tmp_path / "future.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ContractError, match="contract version 2.*reads version 1.*export the model again"):
        read_onnx_model_info(str(path))
