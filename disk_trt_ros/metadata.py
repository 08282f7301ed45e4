# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A frozen dataclass as flat string metadata (ONNX ``metadata_props``, an engine's sidecar), and back.

Each field is one key, ``PREFIX + field name``, holding the field's value as JSON: numbers as numbers, enumerations
by their value, texts as strings. Reading checks every key's presence and JSON type (no silent conversion: 128.5 is
not a height, "None" not a weight), the contract version, then the dataclass's own ``validate()``.
:mod:`disk_trt_ros.contract` says which dataclasses, prefixes and versions there are.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import typing
from typing import Any, Mapping, TypeVar

from disk_trt_ros.errors import ContractError

Info = TypeVar("Info")
_JSON_TYPES: dict[type, tuple[type, ...]] = {int: (int,), float: (int, float)}
_JSON_TYPE_NAMES = {(int,): "integer", (int, float): "number", (str,): "string"}


def to_metadata(info: Any, prefix: str) -> dict[str, str]:
    """Each field of the dataclass ``info`` as ``{prefix + name: JSON}``; enumerations by their value."""
    values = {field.name: getattr(info, field.name) for field in dataclasses.fields(info)}
    return {prefix + name: json.dumps(value.value if isinstance(value, enum.Enum) else value)
            for name, value in values.items()}


def from_metadata(
    cls: type[Info], metadata: Mapping[str, str], prefix: str, version: int, contract: str, command: str
) -> Info:
    """The ``cls`` instance that ``metadata`` holds under ``prefix``, validated.

    Args:
        cls: a frozen dataclass with a ``contract_version`` field and a ``validate()`` method.
        version: the contract version this package reads.
        contract, command: for the messages, the contract's name (``engine``) and the command that exports such
            models (``export``).

    Raises:
        ContractError: a key missing, not JSON, of the wrong type, another contract version, an invalid value.
    """
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = prefix + field.name
        if key not in metadata:
            raise ContractError(
                f"model metadata lacks '{key}': the model was not exported by disk_trt_ros (or by an older version); "
                f"export it again with 'python -m disk_trt_ros {command}'"
            )
        try:
            value = json.loads(metadata[key])
        except json.JSONDecodeError as error:
            raise ContractError(f"model metadata '{key}' is not valid JSON: {metadata[key]!r}") from error
        expected = _JSON_TYPES.get(hints[field.name], (str,))
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ContractError(
                f"model metadata '{key}' is {metadata[key]!r}, not a JSON {_JSON_TYPE_NAMES[expected]}; "
                f"export the model again with 'python -m disk_trt_ros {command}'"
            )
        values[field.name] = value
    if values["contract_version"] != version:
        raise ContractError(
            f"model was exported for {contract} contract version {values['contract_version']}, this disk_trt_ros "
            f"reads version {version}; export the model again with this version"
        )
    for name, value in values.items():
        try:
            values[name] = hints[name](value)
        except (TypeError, ValueError) as error:
            raise ContractError(f"model metadata '{prefix + name}' holds an invalid value: {error}") from error
    info = cls(**values)
    info.validate()  # type: ignore[attr-defined]
    return info
