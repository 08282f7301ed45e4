"""Matchers behind one interface, and the numpy mutual nearest neighbours.

No torch here; the torch matchers are in :mod:`disk_trt_ros.matching.torch_backends`.
"""

from __future__ import annotations

import abc

from disk_trt_ros.matching.contract import KeypointSlots, Matches
from disk_trt_ros.matching.mnn import MnnSettings, mutual_nearest_neighbours

class Matcher(abc.ABC):
    """Matches the keypoint slots of two images (the extractor's outputs, ``K`` slots each).

    Args:
        max_keypoints: K, the slots of each image that :meth:`match` takes.
    """

    name: str = "matcher"

    def __init__(self, max_keypoints: int) -> None:
        self.max_keypoints = max_keypoints

    def match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        """Match image 0's slots to image 1's; :class:`ContractError` names an input that breaks the contract."""
        image0.check(self.max_keypoints, 0)
        image1.check(self.max_keypoints, 1)
        return self._match(image0, image1)

    @abc.abstractmethod
    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        """Match inputs already checked against the contract."""

    def close(self) -> None:
        """Release device resources (no-op where there are none)."""

    def describe(self) -> str:
        return f"{self.name}, K={self.max_keypoints}"


class NumpyMnnMatcher(Matcher):
    """Mutual nearest neighbours in numpy (:mod:`disk_trt_ros.matching.mnn`), on the CPU."""

    name = "mnn-numpy"

    def __init__(self, max_keypoints: int, settings: MnnSettings = MnnSettings()) -> None:
        super().__init__(max_keypoints)
        settings.validate()
        self.settings = settings

    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        return mutual_nearest_neighbours(
            image0.descriptors, image0.num_keypoints, image1.descriptors, image1.num_keypoints, self.settings
        )

    def describe(self) -> str:
        return f"{super().describe()}, {self.settings}"

