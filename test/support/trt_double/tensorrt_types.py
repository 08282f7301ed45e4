# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The enumerations and constants of the ``tensorrt`` double, shared by its builder and runtime halves."""

from __future__ import annotations

import enum

import numpy as np

ENGINE_MAGIC = b"TRTDOUBLE1"
TIMING_CACHE_MAGIC = b"TIMINGDOUBLE1"


class DataType(enum.Enum):
    FLOAT = np.float32
    HALF = np.float16
    INT8 = np.int8
    INT32 = np.int32
    BOOL = np.bool_
    UINT8 = np.uint8


class Severity(enum.IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


# ONNX operators that TensorRT 8.x imports as plugin layers, and the plugin creator each needs at deserialization.
PLUGIN_CREATORS = {"InstanceNormalization": "InstanceNormalization_TRT"}


class TensorIOMode(enum.Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class BuilderFlag(enum.IntEnum):
    FP16 = 0
    INT8 = 1
    TF32 = 6
    STRICT_TYPES = 5
    OBEY_PRECISION_CONSTRAINTS = 10  # 8.4 on


class LayerType(enum.Enum):
    CONSTANT = "Constant"
    OTHER = "Other"


class LayerInformationFormat(enum.Enum):
    ONELINE = 0
    JSON = 1


class ProfilingVerbosity(enum.Enum):
    LAYER_NAMES_ONLY = 0
    NONE = 1
    DETAILED = 2


class TacticSource(enum.IntEnum):
    CUBLAS = 0
    CUBLAS_LT = 1
    CUDNN = 2
    EDGE_MASK_CONVOLUTIONS = 3


class MemoryPoolType(enum.IntEnum):
    WORKSPACE = 0


class NetworkDefinitionCreationFlag(enum.IntEnum):
    EXPLICIT_BATCH = 0


class Dims(tuple):
    """``trt.Dims``: iterable sizes."""


def version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)
