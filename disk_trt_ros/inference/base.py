"""The interface every backend implements, and the features it returns."""

from __future__ import annotations

import abc
import dataclasses

import numpy as np

from disk_trt_ros.contract import BackendName, ModelInfo, Precision
from disk_trt_ros.errors import ContractError


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
        cls, keypoints: np.ndarray, scores: np.ndarray, descriptors: np.ndarray, num_keypoints: np.ndarray
    ) -> "Features":
        """Copy the first ``num_keypoints`` slots out of the contract's fixed-size outputs (batch of one)."""
        count = int(num_keypoints.reshape(-1)[0])
        if not 0 <= count <= scores.shape[-1]:
            raise ContractError(f"num_keypoints={count} is outside 0..{scores.shape[-1]}")
        return cls(
            keypoints=np.array(keypoints.reshape(-1, 2)[:count], dtype=np.float32),
            scores=np.array(scores.reshape(-1)[:count], dtype=np.float32),
            descriptors=np.array(descriptors.reshape(scores.shape[-1], -1)[:count], dtype=np.float32),
        )


class Backend(abc.ABC):
    """Runs an exported DISK model on one image at a time.

    Buffers are allocated once at construction; :meth:`run` allocates only the returned :class:`Features`.
    """

    name: BackendName

    def __init__(self, info: ModelInfo, precision: Precision | str) -> None:
        self.info = info
        self.precision = Precision(precision)

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

    def close(self) -> None:
        """Release device resources (no-op where there are none)."""

    def describe(self) -> str:
        info = self.info
        return (
            f"{self.name} ({self.precision}), {info.width}x{info.height} {info.input_format.value}, "
            f"K={info.max_keypoints}, weights={info.weights}"
        )
