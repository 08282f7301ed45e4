# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The interfaces every extractor backend and every matcher implement, the options they are created with, and what
they take and return."""

from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from disk_trt_ros.contract import (
    DESCRIPTOR_DIM,
    DESCRIPTOR_NORM_TOLERANCE,
    ENGINE_SUFFIXES,
    BackendName,
    ModelInfo,
    Precision,
)
from disk_trt_ros.errors import ContractError, InvalidOutputError, OptionsError
from disk_trt_ros.matcher_contract import MATCHER_INPUT_NAMES, NO_MATCH, MatcherInfo


@dataclasses.dataclass(frozen=True)
class Features:
    """Valid keypoints of one image, in the model's input frame (see :mod:`disk_trt_ros.contract`).

    Attributes:
        keypoints: float32 ``[N, 2]`` (x, y) pixel positions.
        scores: float32 ``[N]``, descending.
        descriptors: float32 ``[N, 128]``, rows L2-normalised.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    descriptors: np.ndarray

    @property
    def count(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def from_outputs(
        cls,
        keypoints: np.ndarray,
        scores: np.ndarray,
        descriptors: np.ndarray,
        num_keypoints: np.ndarray,
        info: ModelInfo,
    ) -> Features:
        """Copy the first ``num_keypoints`` slots out of the contract's fixed-size outputs (batch of one) of a model
        described by ``info``, once :func:`output_violations` finds nothing wrong with them: every backend's
        :meth:`Backend.run` returns through here.

        Raises:
            InvalidOutputError: naming what breaks the contract; the frame has no usable features.
        """
        capacity = scores.shape[-1]
        count = int(num_keypoints.reshape(-1)[0])
        if not 0 <= count <= capacity:
            raise InvalidOutputError(f"the model's outputs break the contract: num_keypoints={count} is outside "
                                     f"0..{capacity}")
        features = cls(
            keypoints=np.array(keypoints.reshape(-1, 2)[:count], dtype=np.float32),
            scores=np.array(scores.reshape(-1)[:count], dtype=np.float32),
            descriptors=np.array(descriptors.reshape(capacity, -1)[:count], dtype=np.float32),
        )
        problems = output_violations(features, info)
        if problems:
            raise InvalidOutputError("the model's outputs break the contract: " + "; ".join(problems))
        return features


def output_violations(features: Features, info: ModelInfo) -> list[str]:
    """What breaks the contract (:mod:`disk_trt_ros.contract`) in one frame's valid output slots: one sentence per
    problem, empty when nothing does.

    Checked: every value finite; keypoints inside the model's frame (``0 <= x <= W - 1``, ``0 <= y <= H - 1``);
    scores not rising from one slot to the next; descriptor rows of L2 norm 1 within
    :data:`~disk_trt_ros.contract.DESCRIPTOR_NORM_TOLERANCE`. One pass over the descriptors: their rows' squared
    norms also reveal any value that is not finite (``scripts/bench_output_check.py`` times it).
    """
    problems = []
    for name, values in (("keypoints", features.keypoints), ("scores", features.scores)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            problems.append(f"{bad} {name} values are not finite")
    squared_norms = np.einsum("ij,ij->i", features.descriptors, features.descriptors)
    if not np.isfinite(squared_norms).all():
        bad = int(np.count_nonzero(~np.isfinite(features.descriptors)))
        if bad:  # else finite values whose squares overflow: not of unit length, below
            problems.append(f"{bad} descriptors values are not finite")
    if problems:
        return problems
    limits = np.array([info.width - 1, info.height - 1], dtype=np.float32)
    inside = (features.keypoints >= 0) & (features.keypoints <= limits)
    if not inside.all():  # the per-row reduction costs several times the check: only when a keypoint is outside
        outside = np.flatnonzero(~inside.all(axis=1))
        x, y = features.keypoints[outside[0]]
        problems.append(f"{outside.size} keypoints lie outside the {info.width}x{info.height} model frame, the first "
                        f"at ({x:g}, {y:g}) in slot {outside[0]}")
    rises = np.flatnonzero(np.diff(features.scores) > 0)
    if rises.size:
        slot = rises[0]
        problems.append(f"scores rise at {rises.size} slots, the first from {features.scores[slot]:g} to "
                        f"{features.scores[slot + 1]:g} at slot {slot + 1} (they must descend)")
    low, high = (1 - DESCRIPTOR_NORM_TOLERANCE) ** 2, (1 + DESCRIPTOR_NORM_TOLERANCE) ** 2
    off = np.flatnonzero(~((squared_norms >= low) & (squared_norms <= high)))
    if off.size:
        norm = np.sqrt(squared_norms[off[0]])
        problems.append(f"{off.size} descriptor rows are not of unit length, the first of norm {norm:g} in slot "
                        f"{off[0]} (tolerance {DESCRIPTOR_NORM_TOLERANCE:g})")
    return problems


MAX_THREADS = 1024  # the most CPU threads a backend is given (the node's parameter, the commands' --threads)


@dataclasses.dataclass(frozen=True)
class BackendOptions:
    """How to create a backend; each backend uses what applies to it and says so when it ignores a setting.

    Attributes:
        precision: TensorRT's and PyTorch's (on CUDA) arithmetic; ONNX Runtime runs the model as exported.
        threads: CPU threads of ONNX Runtime, or PyTorch's process-wide thread count for ``torch`` (None: the
            library's default).
        engine_path: where TensorRT's engine for the model lives (None: beside the model,
            ``MODEL.<precision>.engine``); it is built or rebuilt there when needed.
        compile_unet: PyTorch on CUDA only: compile the U-Net with ``torch.compile`` (slow start, fastest run).
    """

    precision: Precision = Precision.FP32
    threads: int | None = None
    engine_path: Path | None = None
    compile_unet: bool = False


def require_onnx_model(model_path: Path, backend: BackendName) -> None:
    """Raise :class:`OptionsError` when ``model_path`` is a TensorRT engine, which only TensorRT can run."""
    if model_path.suffix in ENGINE_SUFFIXES:
        raise OptionsError(f"{model_path} is a TensorRT engine; the {backend} backend needs the exported ONNX model")


class Backend(abc.ABC):
    """Runs an exported DISK model on one image at a time.

    Buffers are allocated once at construction; :meth:`run` allocates only the returned :class:`Features`.
    Backends are created by name through :func:`disk_trt_ros.inference.registry.create_backend`, which calls
    :meth:`create`.
    """

    name: BackendName

    def __init__(self, info: ModelInfo, precision: Precision | str) -> None:
        self.info = info
        self.precision = Precision(precision)

    @classmethod
    def create(cls, model_path: Path, options: BackendOptions, report: Callable[[str], None]) -> Backend:
        """The backend for the exported model at ``model_path`` with ``options``; ``report`` takes what the user
        should know (a setting ignored, engine build progress). Every backend in the registry implements it; a
        backend made otherwise (a wrapper, a test double) need not."""
        raise NotImplementedError(f"{cls.__name__} is not created by name")

    @property
    def compute_device(self) -> str:
        """Where this backend computes, as a PyTorch device name (``bench`` times kornia there too)."""
        return "cpu"

    def check_image(self, image: np.ndarray) -> None:
        """Raise :class:`ContractError` unless ``image`` is uint8 ``[H, W, C]`` of the model's size and format."""
        expected = self.info.input_shape[1:]
        if image.dtype != np.uint8 or image.shape != expected:
            raise ContractError(
                f"image must be uint8 with shape {expected} ({self.info.input_format.value}), "
                f"got {image.dtype} {image.shape}"
            )

    @abc.abstractmethod
    def run(self, image: np.ndarray) -> Features:
        """Detect and describe keypoints in a uint8 ``[H, W, C]`` image in the model's input format and size."""

    def engine_milliseconds(self, image: np.ndarray) -> float | None:
        """GPU time of the model alone on ``image``, without copies and host work, where the backend can measure it
        (TensorRT, with CUDA events); None elsewhere."""
        return None

    def close(self) -> None:  # noqa: B027 (not abstract: most hold nothing to release)
        """Release device resources (no-op where there are none)."""

    def describe(self) -> str:
        info = self.info
        return (
            f"{self.name} ({self.precision}), {info.width}x{info.height} {info.input_format.value}, "
            f"K={info.max_keypoints}, weights={info.weights}"
        )


# --- matchers --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KeypointSlots:
    """One image's extractor outputs as a matcher takes them (batch of one; :mod:`disk_trt_ros.matcher_contract`).

    Attributes:
        keypoints: float32 ``[1, K, 2]`` (x, y) pixels in the matcher's keypoint frame.
        descriptors: float32 ``[1, K, 128]``.
        num_keypoints: int32 ``[1]``, the number of valid slots; the others are never matched.
    """

    keypoints: np.ndarray
    descriptors: np.ndarray
    num_keypoints: np.ndarray

    @property
    def count(self) -> int:
        return int(self.num_keypoints.reshape(-1)[0])

    @classmethod
    def from_valid(cls, keypoints: np.ndarray, descriptors: np.ndarray, slots: int) -> KeypointSlots:
        """The ``N`` valid keypoints ``[N, 2]`` and descriptors ``[N, D]`` in the first of ``slots`` zeroed slots."""
        count = len(keypoints)
        padded_keypoints = np.zeros((1, slots, 2), dtype=np.float32)
        padded_descriptors = np.zeros((1, slots, descriptors.shape[1]), dtype=np.float32)
        padded_keypoints[0, :count] = keypoints
        padded_descriptors[0, :count] = descriptors
        return cls(padded_keypoints, padded_descriptors, np.array([count], dtype=np.int32))

    def check(self, max_keypoints: int | None, image: int) -> None:
        """Raise :class:`ContractError` naming ``image`` (0 or 1) unless the slots follow the contract for
        ``K = max_keypoints`` (None: any K)."""
        slots = max_keypoints
        if slots is None:  # a matcher for any K takes each image's own
            slots = self.keypoints.shape[1] if self.keypoints.ndim == 3 else -1
        expected = (
            ("keypoints", self.keypoints, (1, slots, 2), "float32"),
            ("descriptors", self.descriptors, (1, slots, DESCRIPTOR_DIM), "float32"),
            ("num_keypoints", self.num_keypoints, (1,), "int32"),
        )
        for name, array, shape, dtype in expected:
            if tuple(array.shape) != shape or array.dtype != dtype:
                raise ContractError(
                    f"{name}{image} is {array.dtype} {tuple(array.shape)}, the matcher takes {dtype} {shape}: "
                    f"give it the outputs of an extractor with K={slots} and {DESCRIPTOR_DIM}-d descriptors"
                )
        if not 0 <= self.count <= slots:
            raise ContractError(f"num_keypoints{image}={self.count} is outside 0..{slots}")


def matcher_inputs(image0: KeypointSlots, image1: KeypointSlots) -> dict[str, np.ndarray]:
    """The two images' slots under the matcher contract's input names (an exported matcher's feeds)."""
    arrays = (image0.keypoints, image0.descriptors, image0.num_keypoints) + (
        image1.keypoints, image1.descriptors, image1.num_keypoints,
    )
    return dict(zip(MATCHER_INPUT_NAMES, arrays))


@dataclasses.dataclass(frozen=True)
class Matches:
    """A matcher's outputs (:mod:`disk_trt_ros.matcher_contract`).

    Attributes:
        matches0: int32 ``[1, K0]``, the slot of image 1 matched to each slot of image 0, or -1.
        scores0: float32 ``[1, K0]``, higher is better, 0 where unmatched.
    """

    matches0: np.ndarray
    scores0: np.ndarray

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.matches0 != NO_MATCH))

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The matches as int32 ``[N, 2]`` (slot in image 0, slot in image 1) rows, in slot order, and their
        float32 ``[N]`` scores."""
        slots0 = np.flatnonzero(self.matches0.reshape(-1) != NO_MATCH)
        slots1 = self.matches0.reshape(-1)[slots0]
        return np.stack([slots0, slots1], axis=1).astype(np.int32), self.scores0.reshape(-1)[slots0]


@dataclasses.dataclass(frozen=True)
class MnnSettings:
    """Optional filters of mutual nearest neighbour matching (None: off; the rule: :mod:`disk_trt_ros.inference.mnn`).

    Attributes:
        ratio_threshold: keep a match when nearest / second-nearest distance ``<= ratio_threshold`` both ways,
            in (0, 1]. The DISK paper matches with a ratio test; kornia's ``match_smnn`` defaults to 0.95.
        max_distance: keep a match when its descriptor distance ``<= max_distance``, in [0, 2].
    """

    ratio_threshold: float | None = None
    max_distance: float | None = None

    def __post_init__(self) -> None:
        if self.ratio_threshold is not None and not 0.0 < self.ratio_threshold <= 1.0:
            raise OptionsError(f"ratio_threshold={self.ratio_threshold} must be in (0, 1], or None for no ratio test")
        if self.max_distance is not None and not 0.0 <= self.max_distance <= 2.0:
            raise OptionsError(
                f"max_distance={self.max_distance} must be in [0, 2] (unit descriptors), or None for no threshold"
            )


@dataclasses.dataclass(frozen=True)
class MatcherOptions:
    """How to create a matcher; each uses what applies to it and says so when it ignores a setting.

    Attributes:
        model: LightGlue's exported ONNX model (or, for TensorRT, its engine); mutual nearest neighbours take none.
        backend: precision, threads and engine path, as for an extractor backend.
        mnn: the filters of mutual nearest neighbours.
    """

    model: Path | None = None
    backend: BackendOptions = BackendOptions()
    mnn: MnnSettings = MnnSettings()


def require_matcher_model(options: MatcherOptions, matcher: str) -> Path:
    """``options.model``; :class:`OptionsError` when LightGlue (``matcher``) is given none."""
    if options.model is None:
        raise OptionsError(
            f"{matcher} needs an exported matcher: make one with 'python -m disk_trt_ros export-matcher "
            "--extractor DISK.onnx --output lightglue.onnx' and pass it as the matcher's model"
        )
    return options.model


class Matcher(abc.ABC):
    """Matches the keypoint slots of two images (the extractor's outputs, ``K`` slots each).

    Matchers are created by name through :func:`disk_trt_ros.inference.registry.create_matcher`, which calls
    :meth:`create`; ``name`` is their key in :data:`~disk_trt_ros.inference.registry.MATCHERS`.

    Args:
        info: what the exported matcher promises (LightGlue: K, and the keypoint frame that it normalises positions
            by); None for a matcher without a model, which takes any K and ignores positions.
    """

    name: str

    def __init__(self, info: MatcherInfo | None) -> None:
        self.info = info

    @classmethod
    def create(cls, options: MatcherOptions, report: Callable[[str], None]) -> Matcher:
        """The matcher for ``options``; ``report`` takes what the user should know (a setting ignored, an engine
        build's progress)."""
        raise NotImplementedError(f"{cls.__name__} is not created by name")

    @property
    def max_keypoints(self) -> int | None:
        """K, the slots of each image that :meth:`match` takes; None: any K."""
        return None if self.info is None else self.info.max_keypoints

    @property
    def frame(self) -> tuple[int, int] | None:
        """``(width, height)`` of the keypoint frame the matcher was made for; None where positions are not used."""
        return None if self.info is None else (self.info.width, self.info.height)

    @property
    def compute_device(self) -> str:
        """Where this matcher computes, as a PyTorch device name."""
        return "cpu"

    def match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        """Match image 0's slots to image 1's; :class:`ContractError` names an input that breaks the contract."""
        image0.check(self.max_keypoints, 0)
        image1.check(self.max_keypoints, 1)
        return self._match(image0, image1)

    @abc.abstractmethod
    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        """Match inputs already checked against the contract."""

    def close(self) -> None:  # noqa: B027 (not abstract: most hold nothing to release)
        """Release device resources (no-op where there are none)."""

    def describe(self) -> str:
        info = self.info
        if info is None:
            return f"{self.name}, any K"
        return (
            f"{self.name}, K={info.max_keypoints}, {info.width}x{info.height} frame, threshold "
            f"{info.filter_threshold}, weights={info.weights}"
        )
