# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Reading ONNX files: bounded regular files, parsed with clear errors, their ``metadata_props``.

This module imports only the standard library, :mod:`disk_trt_ros.errors` and :mod:`disk_trt_ros.files` (and onnx
when an ONNX file is read), so that the TensorRT runtime on a Jetson can use it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from disk_trt_ros.errors import ContractError, ModelNotFoundError
from disk_trt_ros.files import MAX_MODEL_BYTES, read_regular_file

if TYPE_CHECKING:
    import onnx


def read_onnx_file(path: str | os.PathLike[str], command: str = "export") -> bytes:
    """The bytes of an ONNX file (a regular file of at most :data:`~disk_trt_ros.files.MAX_MODEL_BYTES`);
    :class:`ModelNotFoundError` when it does not exist (saying to make one with ``command``), :class:`ContractError`
    when it cannot be one."""
    try:
        return read_regular_file(path, MAX_MODEL_BYTES, "ONNX model")
    except FileNotFoundError as error:
        raise ModelNotFoundError(
            f"{path}: no such file; export a model with 'python -m disk_trt_ros {command} --output {path}'"
        ) from error
    except OSError as error:  # FileRefusedError (a FIFO, a device, too large) names the problem itself
        raise ContractError(f"{path} cannot be read as an ONNX model: {error}") from error


def parse_onnx_model(data: bytes, path: str | os.PathLike[str], load_external_data: bool = True) -> onnx.ModelProto:
    """The ONNX model in ``data`` (read from ``path``); :class:`ContractError` when it is not one, or when its weights
    are needed (``load_external_data``) and kept in external data files, which are not read (the exporter writes one
    file)."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    try:
        model = onnx.load_model_from_string(data)
    except Exception as error:  # onnx raises DecodeError and others for bytes that are not a model
        raise ContractError(f"{path} is not a readable ONNX model: {error}") from error
    if load_external_data and any(uses_external_data(tensor) for tensor in model.graph.initializer):
        raise ContractError(
            f"{path} keeps its weights in external data files, which disk_trt_ros does not read; "
            "export a single-file model with 'python -m disk_trt_ros export'"
        )
    return model


def load_onnx_model(
    path: str | os.PathLike[str], load_external_data: bool = True, command: str = "export"
) -> onnx.ModelProto:
    """Load an ONNX file (:func:`read_onnx_file`, :func:`parse_onnx_model`); with ``load_external_data`` False only
    its graph and metadata are needed."""
    return parse_onnx_model(read_onnx_file(path, command), path, load_external_data)


def onnx_metadata(model: onnx.ModelProto) -> dict[str, str]:
    """An ONNX model's ``metadata_props``."""
    return {prop.key: prop.value for prop in model.metadata_props}


def read_onnx_metadata(path: str | os.PathLike[str], command: str = "export") -> dict[str, str]:
    """An ONNX file's ``metadata_props`` (weights are not loaded); errors as :func:`load_onnx_model`'s."""
    return onnx_metadata(load_onnx_model(path, load_external_data=False, command=command))
