"""The matcher contract: what a matcher takes and returns, and the metadata of an exported matcher, in one place.

(It sits beside the matchers until it joins :mod:`disk_trt_ros.contract`.)

Inputs, for each image ``s`` of the pair (0 and 1): the extractor's outputs (:mod:`disk_trt_ros.contract`), batch
of one, the same ``K`` for both images:
    ``keypoints{s}``: float32 ``[1, K, 2]`` (x, y) pixel positions in the extractor's ``height x width`` frame.
    ``descriptors{s}``: float32 ``[1, K, 128]``, rows L2-normalised.
    ``num_keypoints{s}``: int32 ``[1]``; slots from ``num_keypoints`` on are invalid: never matched, whatever they
    hold.

Outputs:
    ``matches0``: int32 ``[1, K]``: for slot ``i`` of image 0, the slot of image 1 it matches, or -1 (no match, and
    always -1 for an invalid slot). Matches are mutual: a slot of image 1 appears at most once.
    ``scores0``: float32 ``[1, K]``: the confidence of each match, higher is better, 0 where ``matches0`` is -1.
    LightGlue: the match probability, above the model's ``filter_threshold``. Mutual nearest neighbours: the
    cosine similarity of the two descriptors.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Mapping

import numpy as np

from disk_trt_ros.contract import DESCRIPTOR_DIM, ContractError, TrtCompat

INPUT_NAMES: tuple[str, ...] = (
    "keypoints0", "descriptors0", "num_keypoints0", "keypoints1", "descriptors1", "num_keypoints1",
)
OUTPUT_NAMES: tuple[str, ...] = ("matches0", "scores0")
NO_MATCH = -1

MATCHER_METADATA_PREFIX = "disk_trt_ros.matcher."
MATCHER_CONTRACT_VERSION = 1
LIGHTGLUE = "lightglue"


@dataclasses.dataclass(frozen=True)
class KeypointSlots:
    """One image's extractor outputs as a matcher takes them (numpy, batch of one; see the module docstring).

    Attributes:
        keypoints: float32 ``[1, K, 2]`` (x, y) pixels.
        descriptors: float32 ``[1, K, 128]``.
        num_keypoints: int32 ``[1]``, the number of valid slots.
    """

    keypoints: np.ndarray
    descriptors: np.ndarray
    num_keypoints: np.ndarray

    @property
    def count(self) -> int:
        return int(self.num_keypoints.reshape(-1)[0])

    def check(self, max_keypoints: int, image: int) -> None:
        """Raise :class:`ContractError` naming ``image`` (0 or 1) unless the slots follow the contract for ``K``."""
        expected = (
            ("keypoints", self.keypoints, (1, max_keypoints, 2), "float32"),
            ("descriptors", self.descriptors, (1, max_keypoints, DESCRIPTOR_DIM), "float32"),
            ("num_keypoints", self.num_keypoints, (1,), "int32"),
        )
        for name, array, shape, dtype in expected:
            if tuple(array.shape) != shape or array.dtype != dtype:
                raise ContractError(
                    f"{name}{image} is {array.dtype} {tuple(array.shape)}, the matcher takes {dtype} {shape}: "
                    f"give it the outputs of an extractor with K={max_keypoints} and {DESCRIPTOR_DIM}-d descriptors"
                )
        if not 0 <= self.count <= max_keypoints:
            raise ContractError(f"num_keypoints{image}={self.count} is outside 0..{max_keypoints}")


@dataclasses.dataclass(frozen=True)
class Matches:
    """A matcher's outputs (see the module docstring).

    Attributes:
        matches0: int32 ``[1, K]``, the slot of image 1 matched to each slot of image 0, or -1.
        scores0: float32 ``[1, K]``, higher is better, 0 where unmatched.
    """

    matches0: np.ndarray
    scores0: np.ndarray

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.matches0 >= 0))

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The matches as int32 ``[N, 2]`` (slot in image 0, slot in image 1) rows, in slot order, and their
        float32 ``[N]`` scores."""
        slots0 = np.flatnonzero(self.matches0.reshape(-1) >= 0)
        slots1 = self.matches0.reshape(-1)[slots0]
        return np.stack([slots0, slots1], axis=1).astype(np.int32), self.scores0.reshape(-1)[slots0]


@dataclasses.dataclass(frozen=True)
class MatcherInfo:
    """What an exported matcher promises, read back from its ONNX ``metadata_props``.

    Attributes:
        method: the matcher (``lightglue``).
        height, width: the extractor's input size in pixels; keypoints are normalised by it.
        max_keypoints: K, the number of slots of each image.
        filter_threshold: matches have a probability strictly above it (kornia's ``filter_threshold``).
        trt_compat: oldest TensorRT the graph was made for (it sets the opset).
        weights: what the weights were (a checkpoint file name, ``disk`` for kornia's download, or ``random:SEED``).
        weights_sha256: sha256 of the checkpoint file, or of the state dict for downloaded and generated weights.
        package_version: disk_trt_ros version that exported the model.
        contract_version: version of this contract.
    """

    method: str
    height: int
    width: int
    max_keypoints: int
    filter_threshold: float
    trt_compat: TrtCompat
    weights: str
    weights_sha256: str
    package_version: str
    contract_version: int = MATCHER_CONTRACT_VERSION

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        k = self.max_keypoints
        per_image = {"keypoints": (1, k, 2), "descriptors": (1, k, DESCRIPTOR_DIM), "num_keypoints": (1,)}
        return {f"{name}{image}": shape for image in (0, 1) for name, shape in per_image.items()}

    @staticmethod
    def input_dtypes() -> dict[str, str]:
        per_image = {"keypoints": "float32", "descriptors": "float32", "num_keypoints": "int32"}
        return {f"{name}{image}": dtype for image in (0, 1) for name, dtype in per_image.items()}

    def output_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"matches0": (1, self.max_keypoints), "scores0": (1, self.max_keypoints)}

    @staticmethod
    def output_dtypes() -> dict[str, str]:
        return {"matches0": "int32", "scores0": "float32"}

    def validate(self) -> None:
        """Raise :class:`ContractError` if the settings cannot describe a valid matcher."""
        problems = []
        if self.method != LIGHTGLUE:
            problems.append(f"method={self.method!r} must be {LIGHTGLUE!r}")
        for name, value in (("height", self.height), ("width", self.width), ("max_keypoints", self.max_keypoints)):
            if value < 1:
                problems.append(f"{name}={value} must be at least 1")
        if not 0.0 <= self.filter_threshold < 1.0:
            problems.append(f"filter_threshold={self.filter_threshold} must be in [0, 1): it bounds a probability")
        if problems:
            raise ContractError("invalid matcher settings: " + "; ".join(problems))

    def to_metadata(self) -> dict[str, str]:
        """Flat string key/values for ONNX ``metadata_props``: JSON values under :data:`MATCHER_METADATA_PREFIX`."""
        values = dataclasses.asdict(self)
        values["trt_compat"] = self.trt_compat.value
        return {MATCHER_METADATA_PREFIX + key: json.dumps(value) for key, value in values.items()}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> "MatcherInfo":
        """Inverse of :meth:`to_metadata`; :class:`ContractError` names what is missing or malformed."""
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            key = MATCHER_METADATA_PREFIX + field.name
            if key not in metadata:
                raise ContractError(
                    f"model metadata lacks '{key}': it is not a matcher exported by disk_trt_ros (an extractor, or "
                    "an older version); export it with 'python -m disk_trt_ros export-matcher'"
                )
            try:
                value = json.loads(metadata[key])
            except json.JSONDecodeError as error:
                raise ContractError(f"model metadata '{key}' is not valid JSON: {metadata[key]!r}") from error
            expected = {"int": (int,), "float": (int, float)}.get(str(field.type), (str,))
            if isinstance(value, bool) or not isinstance(value, expected):
                raise ContractError(f"model metadata '{key}' is {metadata[key]!r}, not of type {field.type}")
            values[field.name] = value
        if values["contract_version"] != MATCHER_CONTRACT_VERSION:
            raise ContractError(
                f"matcher was exported for matcher contract version {values['contract_version']}, this disk_trt_ros "
                f"reads version {MATCHER_CONTRACT_VERSION}; export it again with this version"
            )
        try:
            values["trt_compat"] = TrtCompat(values["trt_compat"])
        except ValueError as error:
            raise ContractError(f"model metadata holds an invalid value: {error}") from error
        values["filter_threshold"] = float(values["filter_threshold"])  # type: ignore[arg-type]
        info = cls(**values)  # type: ignore[arg-type]
        info.validate()
        return info


def read_onnx_matcher_info(path: str) -> MatcherInfo:
    """Read :class:`MatcherInfo` from an exported matcher's ONNX ``metadata_props`` (weights are not loaded)."""
    import onnx

    try:
        model = onnx.load(path, load_external_data=False)
    except FileNotFoundError as error:
        raise ContractError(f"{path}: no such file; export one with 'python -m disk_trt_ros export-matcher'") from error
    except Exception as error:  # onnx raises DecodeError and others for a file that is not a model
        raise ContractError(f"{path} is not a readable ONNX model: {error}") from error
    return MatcherInfo.from_metadata({prop.key: prop.value for prop in model.metadata_props})
