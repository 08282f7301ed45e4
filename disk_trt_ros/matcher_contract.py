# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The matcher contract: the tensors and metadata of an exported matcher (LightGlue for DISK), on the vocabulary of
:mod:`disk_trt_ros.contract`.

Tensors (batch of one; :meth:`MatcherInfo.tensor_specs` gives them for one matcher), for images ``s`` = 0 and 1 with
the same ``K``: the extractor's outputs as inputs,
    ``keypoints{s}``: float32 ``[1, K, 2]`` (x, y) pixels in the extractor's ``height x width`` frame.
    ``descriptors{s}``: float32 ``[1, K, 128]``, rows L2-normalised.
    ``num_keypoints{s}``: int32 ``[1]``; slots from ``num_keypoints`` on are invalid: never matched, whatever they hold.
and the outputs
    ``matches0``: int32 ``[1, K]``: for slot ``i`` of image 0, the slot of image 1 it matches or -1 (:data:`NO_MATCH`,
        always for an invalid slot); matches are mutual, a slot of image 1 appears at most once.
    ``scores0``: float32 ``[1, K]``, higher is better, 0 where unmatched: LightGlue's match probability (above the
        model's ``filter_threshold``), or the cosine similarity for mutual nearest neighbours.

Like :mod:`disk_trt_ros.contract`, this module imports only the standard library (and onnx when a file is read).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from disk_trt_ros.contract import (
    DESCRIPTOR_DIM,
    MatcherMethod,
    ModelInfo,
    TensorSpec,
    TrtCompat,
)
from disk_trt_ros.errors import ContractError
from disk_trt_ros.metadata import from_metadata, to_metadata
from disk_trt_ros.onnx_files import read_onnx_metadata

MATCHER_INPUT_NAMES = ("keypoints0", "descriptors0", "num_keypoints0", "keypoints1", "descriptors1", "num_keypoints1")
MATCHER_OUTPUT_NAMES = ("matches0", "scores0")
NO_MATCH = -1
MATCHER_METADATA_PREFIX = "disk_trt_ros.matcher."
MATCHER_CONTRACT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class MatcherInfo:
    """What an exported matcher promises, read back from its ONNX metadata or its engine's sidecar.

    Attributes:
        method: ``lightglue`` (mutual nearest neighbours need no model).
        height, width: the extractor's input size in pixels; keypoints are normalised by it.
        max_keypoints: K, the number of slots of each image.
        filter_threshold: matches have a probability strictly above it (kornia's ``filter_threshold``).
        trt_compat, weights, weights_sha256, package_version: as :class:`ModelInfo`'s (weights: a checkpoint file,
            ``disk`` for kornia's download, or ``random:SEED``).
        contract_version: version of the matcher contract.
    """

    method: MatcherMethod
    height: int
    width: int
    max_keypoints: int
    filter_threshold: float
    trt_compat: TrtCompat
    weights: str
    weights_sha256: str
    package_version: str
    contract_version: int = MATCHER_CONTRACT_VERSION

    def tensor_specs(self) -> tuple[TensorSpec, ...]:
        """The inputs in :data:`MATCHER_INPUT_NAMES` order, then the outputs, as this matcher must have them."""
        k = self.max_keypoints
        per_image = (("keypoints", (1, k, 2), "float32"), ("descriptors", (1, k, DESCRIPTOR_DIM), "float32"),
                     ("num_keypoints", (1,), "int32"))
        inputs = tuple(
            TensorSpec(f"{name}{image}", shape, dtype, True) for image in (0, 1) for name, shape, dtype in per_image
        )
        outputs = (TensorSpec("matches0", (1, k), "int32", False), TensorSpec("scores0", (1, k), "float32", False))
        return inputs + outputs

    def validate(self) -> None:
        """Raise :class:`ContractError` if the settings cannot describe a valid matcher."""
        problems = []
        if self.method is not MatcherMethod.LIGHTGLUE:
            problems.append(f"method={self.method} must be {MatcherMethod.LIGHTGLUE} (the only exported matcher)")
        for name, value in (("height", self.height), ("width", self.width), ("max_keypoints", self.max_keypoints)):
            if value < 1:
                problems.append(f"{name}={value} must be at least 1")
        if not 0.0 <= self.filter_threshold < 1.0:
            problems.append(f"filter_threshold={self.filter_threshold} must be in [0, 1): it bounds a probability")
        if problems:
            raise ContractError("invalid matcher settings: " + "; ".join(problems))

    def to_metadata(self) -> dict[str, str]:
        """Flat string key/values for ONNX ``metadata_props`` (and engine sidecars)."""
        return to_metadata(self, MATCHER_METADATA_PREFIX)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> MatcherInfo:
        """Inverse of :meth:`to_metadata`; raises :class:`ContractError` naming what is missing or malformed."""
        return from_metadata(
            cls, metadata, MATCHER_METADATA_PREFIX, MATCHER_CONTRACT_VERSION, "matcher", "export-matcher"
        )


def info_from_metadata(metadata: Mapping[str, str]) -> ModelInfo | MatcherInfo:
    """The :class:`MatcherInfo` of a matcher's metadata, else the :class:`ModelInfo` of an extractor's (an engine's
    sidecar holds either)."""
    if any(key.startswith(MATCHER_METADATA_PREFIX) for key in metadata):
        return MatcherInfo.from_metadata(metadata)
    return ModelInfo.from_metadata(metadata)


def read_onnx_matcher_info(path: str) -> MatcherInfo:
    """Read :class:`MatcherInfo` from an exported matcher's ONNX ``metadata_props`` (weights are not loaded)."""
    return MatcherInfo.from_metadata(read_onnx_metadata(path, command="export-matcher"))
