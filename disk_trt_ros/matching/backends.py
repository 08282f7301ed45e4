"""Matchers behind one interface: the numpy mutual nearest neighbours, and an exported LightGlue on ONNX Runtime.

Neither imports torch; the torch matchers are in :mod:`disk_trt_ros.matching.torch_backends`.
"""

from __future__ import annotations

import abc

import numpy as np

from disk_trt_ros.contract import ContractError
from disk_trt_ros.matching.contract import (
    INPUT_NAMES,
    OUTPUT_NAMES,
    KeypointSlots,
    Matches,
    MatcherInfo,
    read_onnx_matcher_info,
)
from disk_trt_ros.matching.mnn import MnnSettings, mutual_nearest_neighbours

ONNX_TYPES = {"tensor(float)": "float32", "tensor(int32)": "int32"}


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


class OnnxRuntimeLightGlue(Matcher):
    """An exported LightGlue (``python -m disk_trt_ros export-matcher``) run by ONNX Runtime.

    Args:
        model_path: the ONNX file.
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
        providers: execution providers; default CUDA when available, then CPU.
    """

    name = "lightglue-onnxruntime"

    def __init__(self, model_path: str, threads: int | None = None, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        self.info: MatcherInfo = read_onnx_matcher_info(model_path)
        super().__init__(self.info.max_keypoints)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        available = ort.get_available_providers()
        chosen = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.session = ort.InferenceSession(model_path, sess_options=options, providers=chosen)
        self.providers = self.session.get_providers()
        self._check_signature()

    def _check_signature(self) -> None:
        shapes = {**self.info.input_shapes(), **self.info.output_shapes()}
        dtypes = {**self.info.input_dtypes(), **self.info.output_dtypes()}
        expected = {name: (shape, dtypes[name]) for name, shape in shapes.items()}
        tensors = list(self.session.get_inputs()) + list(self.session.get_outputs())
        actual = {t.name: (tuple(t.shape), ONNX_TYPES.get(t.type, t.type)) for t in tensors}
        for name, (shape, dtype) in expected.items():
            if name not in actual:
                raise ContractError(f"matcher model has no tensor '{name}'; it has {sorted(actual)}")
            if actual[name] != (shape, dtype):
                raise ContractError(f"tensor '{name}' is {actual[name][1]} {actual[name][0]}, expected {dtype} {shape}")

    def _match(self, image0: KeypointSlots, image1: KeypointSlots) -> Matches:
        arrays = (image0.keypoints, image0.descriptors, image0.num_keypoints) + (
            image1.keypoints, image1.descriptors, image1.num_keypoints,
        )
        matches0, scores0 = self.session.run(list(OUTPUT_NAMES), dict(zip(INPUT_NAMES, arrays)))
        return Matches(np.asarray(matches0), np.asarray(scores0))

    def describe(self) -> str:
        info = self.info
        return (
            f"{super().describe()}, {info.width}x{info.height} frame, threshold {info.filter_threshold}, "
            f"weights={info.weights}, providers {','.join(self.providers)}"
        )
