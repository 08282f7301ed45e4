"""The interface every backend implements, the options it is created with, and the features it returns."""

from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from disk_trt_ros.contract import (
    DESCRIPTOR_NORM_TOLERANCE,
    ENGINE_SUFFIXES,
    BackendName,
    ModelInfo,
    Precision,
)
from disk_trt_ros.errors import ContractError, InvalidOutputError, OptionsError


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
    ) -> "Features":
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
    outside = np.flatnonzero(np.any((features.keypoints < 0) | (features.keypoints > limits), axis=1))
    if outside.size:
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
    def create(cls, model_path: Path, options: BackendOptions, report: Callable[[str], None]) -> "Backend":
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

    def close(self) -> None:
        """Release device resources (no-op where there are none)."""

    def describe(self) -> str:
        info = self.info
        return (
            f"{self.name} ({self.precision}), {info.width}x{info.height} {info.input_format.value}, "
            f"K={info.max_keypoints}, weights={info.weights}"
        )
