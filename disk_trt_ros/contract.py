# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The engine contract and the package's vocabulary, in one place; the matcher's contract builds on it in
:mod:`disk_trt_ros.matcher_contract`.

Every exported model, every backend and matcher, the ROS nodes and the tools rely on these two modules and on nothing
else for these conventions: tensor names, shapes and dtypes; model metadata; the names of input formats, precisions,
backends and matching methods; the nodes' names.

Pixel coordinates: ``(x, y)`` with ``(0, 0)`` the centre of the top-left pixel, ``x`` along the width (columns),
``y`` along the height (rows); keypoints are integer pixel positions stored as float32.

Tensors (batch of one; :meth:`ModelInfo.tensor_specs` gives them for one model):
    ``image``: ``[1, H, W, C]`` 8-bit pixel values 0..255; uint8, or float32 for TensorRT 8.2 (no uint8 bindings).
        ``C`` is 3 for ``rgb``/``bgr`` (channel order as named) and 1 for ``mono``.
    ``keypoints``: float32 ``[1, K, 2]`` (x, y) pixel positions in the input frame.
    ``scores``: float32 ``[1, K]``, descending; equal scores in a fixed order (the exporter's NMS blocks).
    ``descriptors``: float32 ``[1, K, 128]``, rows L2-normalised.
    ``num_keypoints``: int32 ``[1]``; the first ``num_keypoints`` slots are valid, the rest are zero.

This module imports only the standard library and :mod:`disk_trt_ros.onnx_files` (which imports onnx when an ONNX
file is read), so that every layer, the TensorRT runtime on a Jetson included, can use it.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from typing import Iterable, Mapping, Protocol

from disk_trt_ros.errors import ContractError
from disk_trt_ros.metadata import from_metadata, to_metadata
from disk_trt_ros.onnx_files import read_onnx_metadata

INPUT_NAME = "image"
OUTPUT_NAMES: tuple[str, ...] = ("keypoints", "scores", "descriptors", "num_keypoints")
DESCRIPTOR_DIM = 128
# How far a descriptor row's L2 norm may be from 1 (fp16 engines normalise in half precision).
DESCRIPTOR_NORM_TOLERANCE = 1e-2
SIZE_MULTIPLE = 16
# Largest TopK K both parsers accept: TensorRT 8.2 allows K <= 3840, TensorRT 10's parser documents K < 3840.
TRT_TOPK_MAX = 3839
# K of each TopK round in an exported graph: TensorRT 8.5's TopK takes 7x longer at K=3839 than at K=2048 over the
# same input (docs/tensorrt.md), so larger K are taken in rounds of 2048.
TRT_TOPK_ROUND = 2048

METADATA_PREFIX = "disk_trt_ros."
RANDOM_WEIGHTS_PREFIX = "random:"  # weights "random:SEED": seeded random weights, for tests and demos
CONTRACT_VERSION = 1

NODE_NAME = "disk_node"
MATCHER_NODE_NAME = "matcher_node"
# File names that hold a serialized TensorRT engine rather than an ONNX model.
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


class Vocabulary(str, enum.Enum):
    """A closed set of names. ``str()`` and f-strings give the name itself on every Python version (3.11 changed
    what ``format()`` gives for a ``str`` enum)."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """The names, in declaration order (for argparse ``choices`` and parameter descriptors)."""
        return tuple(str(member.value) for member in cls)


class InputFormat(Vocabulary):
    """Pixel layout of the model's ``image`` input."""

    RGB = "rgb"
    BGR = "bgr"
    MONO = "mono"

    @property
    def channels(self) -> int:
        return 1 if self is InputFormat.MONO else 3

    @property
    def rgb_channels(self) -> tuple[int, int, int]:
        """Which channel of a pixel in this format holds red, green and blue: ``(0, 1, 2)`` for rgb, ``(2, 1, 0)``
        for bgr, ``(0, 0, 0)`` for mono (its one channel stands for all three). ``pixels[..., rgb_channels]`` is RGB;
        the reverse, ``pixels[..., rgb_channels[::-1]]``, is BGR."""
        return _RGB_CHANNELS[self]

    @property
    def ros_encoding(self) -> str:
        """The ``sensor_msgs/Image`` encoding of this layout at 8 bits: ``rgb8``, ``bgr8`` or ``mono8``."""
        return f"{self.value}8"


_RGB_CHANNELS = {InputFormat.RGB: (0, 1, 2), InputFormat.BGR: (2, 1, 0), InputFormat.MONO: (0, 0, 0)}


class TrtCompat(Vocabulary):
    """The oldest TensorRT whose ONNX parser must accept the model."""

    TRT_8_2 = "8.2"
    TRT_10 = "10"

    @property
    def input_dtype(self) -> str:
        """numpy dtype name of the ``image`` input: TensorRT 8.2 has no uint8 bindings."""
        return "float32" if self is TrtCompat.TRT_8_2 else "uint8"

    @property
    def max_opset(self) -> int:
        return 13 if self is TrtCompat.TRT_8_2 else 17


class Precision(Vocabulary):
    """Arithmetic precision of inference. ``fp32``: strict float32 (TF32 off). ``fp16``: TensorRT computes what the
    model's :class:`PrecisionPolicy` allows in float16 (for DISK, what its :class:`Fp16Policy` names) and keeps the
    rest in float32; PyTorch runs its U-Net in half precision. ONNX Runtime runs a model as exported."""

    FP16 = "fp16"
    FP32 = "fp32"


class BackendName(Vocabulary):
    """The inference backends, and ``auto`` (the best one installed: see
    :func:`disk_trt_ros.inference.registry.resolve_backend_name`)."""

    AUTO = "auto"
    TENSORRT = "tensorrt"
    ONNXRUNTIME = "onnxruntime"
    TORCH = "torch"


class InstanceNorm(Vocabulary):
    """How an exported U-Net writes its instance normalisations: ``onnx``, as ONNX ``InstanceNormalization`` nodes
    (TensorRT 8.2 to 8.5 import them as a cuDNN-backed plugin, 8.6 on as a native layer); ``decomposed``, as plain
    ``ReduceMean``, ``Sub``, ``Mul``, ``Add``, ``Sqrt`` and ``Div`` nodes, which need no plugin."""

    ONNX = "onnx"
    DECOMPOSED = "decomposed"


class Fp16Policy(Vocabulary):
    """What an fp16 TensorRT engine of the model computes in float16 (fp32 engines and other backends ignore it):
    ``fp32-detector``, nothing (all strict float32, the fp32 engine's arithmetic); ``tf32-detector``, nothing, with
    the float32 layers on TF32 tensor cores; ``fp16-unet``, the whole U-Net but its heat-map head, which stays
    float32 as do pre- and post-processing and the descriptor head, on TF32 tensor cores where TensorRT picks them.
    The exporter's :data:`~disk_trt_ros.export.pipeline.FP16_POLICIES` has the patterns."""

    FP32_DETECTOR = "fp32-detector"
    TF32_DETECTOR = "tf32-detector"
    FP16_UNET = "fp16-unet"


class MatcherMethod(Vocabulary):
    """How the matcher node and ``eval`` match two images' keypoints: mutual nearest neighbours of the descriptors
    (no weights), or LightGlue for DISK (an exported model)."""

    MNN = "mnn"
    LIGHTGLUE = "lightglue"


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor of a model or engine.

    Attributes:
        name: tensor name.
        shape: static shape.
        dtype: numpy dtype name (``uint8``, ``float32``, ``int32``...).
        is_input: whether it is an input.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    is_input: bool


class TensorContract(Protocol):
    """What promises tensors: :class:`ModelInfo`, and the matcher's
    :class:`~disk_trt_ros.matcher_contract.MatcherInfo`."""

    def tensor_specs(self) -> tuple[TensorSpec, ...]: ...


def tensor_specs_of(info: TensorContract, input_dtype: str | None = None) -> tuple[TensorSpec, ...]:
    """``info``'s tensors, the extractor's ``image`` input in ``input_dtype`` when given (a matcher has no image)."""
    return info.tensor_specs(input_dtype) if isinstance(info, ModelInfo) else info.tensor_specs()


def contract_violations(
    found: Iterable[TensorSpec], info: TensorContract, input_dtype: str | None = None
) -> list[str]:
    """What breaks ``info``'s contract in the tensors a model or engine has: one sentence per problem (a missing or
    extra tensor, a wrong direction, shape or dtype); empty when they follow it. ``input_dtype`` overrides the
    extractor's image dtype (a TensorRT engine may bind a float32 image input as uint8; a matcher has no image)."""
    expected = {spec.name: spec for spec in tensor_specs_of(info, input_dtype)}
    tensors = {tensor.name: tensor for tensor in found}
    problems = [f"tensor '{name}' is missing" for name in expected if name not in tensors]
    problems += [f"tensor '{name}' is not in the contract" for name in tensors if name not in expected]
    for name, tensor in tensors.items():
        wanted = expected.get(name)
        if wanted is None:
            continue
        if tensor.is_input != wanted.is_input:
            problems.append(f"tensor '{name}' should be an {'input' if wanted.is_input else 'output'}")
        if tuple(tensor.shape) != wanted.shape:
            problems.append(f"tensor '{name}' has shape {tuple(tensor.shape)}, the contract says {wanted.shape}")
        if tensor.dtype != wanted.dtype:
            problems.append(f"tensor '{name}' has dtype {tensor.dtype}, the contract says {wanted.dtype}")
    return problems


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What a model promises, read back from its metadata: the node and the engine builder need nothing else.

    Attributes:
        height, width: input size in pixels (multiples of 16).
        max_keypoints: K, the number of output slots.
        input_format: channel layout of ``image``.
        input_dtype: numpy dtype name of ``image`` (``uint8`` or ``float32``).
        nms_window: odd side of the non-maxima suppression window.
        score_threshold: kept scores are strictly above it.
        trt_compat: oldest TensorRT the graph was made for.
        weights: what the weights were (``depth``, ``epipolar``, a file name, or ``random``).
        weights_sha256: sha256 of the checkpoint file, or of the state dict for generated weights.
        package_version: disk_trt_ros version that exported the model.
        instance_norm: how the U-Net's instance norms are written (models without the key: ``onnx``).
        fp16_policy: what an fp16 TensorRT engine computes in float16 (models without the key: ``fp32-detector``).
        contract_version: version of this contract.
    """

    height: int
    width: int
    max_keypoints: int
    input_format: InputFormat
    input_dtype: str
    nms_window: int
    score_threshold: float
    trt_compat: TrtCompat
    weights: str
    weights_sha256: str
    package_version: str
    instance_norm: InstanceNorm = InstanceNorm.ONNX
    fp16_policy: Fp16Policy = Fp16Policy.FP32_DETECTOR
    contract_version: int = CONTRACT_VERSION

    @property
    def random_weights(self) -> bool:
        """Whether the weights are seeded random ones (``random:SEED``): keypoints that mean nothing."""
        return self.weights.startswith(RANDOM_WEIGHTS_PREFIX)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, self.height, self.width, self.input_format.channels)

    def output_shapes(self) -> dict[str, tuple[int, ...]]:
        k = self.max_keypoints
        return {"keypoints": (1, k, 2), "scores": (1, k), "descriptors": (1, k, DESCRIPTOR_DIM), "num_keypoints": (1,)}

    @staticmethod
    def output_dtypes() -> dict[str, str]:
        return {"keypoints": "float32", "scores": "float32", "descriptors": "float32", "num_keypoints": "int32"}

    def tensor_specs(self, input_dtype: str | None = None) -> tuple[TensorSpec, ...]:
        """The input, then the outputs in :data:`OUTPUT_NAMES` order, as this model must have them (the input in
        ``input_dtype`` when given)."""
        shapes, dtypes = self.output_shapes(), self.output_dtypes()
        return (TensorSpec(INPUT_NAME, self.input_shape, input_dtype or self.input_dtype, True),) + tuple(
            TensorSpec(name, shapes[name], dtypes[name], False) for name in OUTPUT_NAMES
        )

    def to_metadata(self) -> dict[str, str]:
        """Flat string key/values for ONNX ``metadata_props`` (and engine sidecars)."""
        return to_metadata(self, METADATA_PREFIX)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> ModelInfo:
        """Inverse of :meth:`to_metadata`; raises :class:`ContractError` naming what is missing or malformed. Models
        exported before the instance-norm or fp16-policy choice existed have no key for it: theirs are ``onnx`` and
        ``fp32-detector``."""
        metadata = {
            _INSTANCE_NORM_KEY: json.dumps(InstanceNorm.ONNX.value),
            _FP16_POLICY_KEY: json.dumps(Fp16Policy.FP32_DETECTOR.value),
            **metadata,
        }
        return from_metadata(cls, metadata, METADATA_PREFIX, CONTRACT_VERSION, "engine", "export")

    def validate(self) -> None:
        """Raise :class:`ContractError` if the settings cannot describe a valid model."""
        problems = []
        for name, value in (("height", self.height), ("width", self.width)):
            if value <= 0 or value % SIZE_MULTIPLE:
                problems.append(f"{name}={value} must be a positive multiple of {SIZE_MULTIPLE}")
        if self.max_keypoints < 1:
            problems.append(f"max_keypoints={self.max_keypoints} must be at least 1")
        elif self.max_keypoints > self.height * self.width:
            problems.append(f"max_keypoints={self.max_keypoints} exceeds the {self.height * self.width} pixels")
        if self.nms_window < 3 or self.nms_window % 2 == 0:
            problems.append(f"nms_window={self.nms_window} must be odd and at least 3")
        elif self.nms_window > min(self.height, self.width):
            problems.append(f"nms_window={self.nms_window} is larger than the image")
        if not abs(self.score_threshold) < 65504.0:
            problems.append(f"score_threshold={self.score_threshold} must be finite and inside float16's range")
        if self.input_dtype not in ("uint8", "float32"):
            problems.append(f"input_dtype={self.input_dtype!r} must be 'uint8' or 'float32'")
        if self.trt_compat is TrtCompat.TRT_8_2 and self.input_dtype != "float32":
            problems.append("TensorRT 8.2 models take a float32 image (8.2 has no uint8 bindings)")
        if problems:
            raise ContractError("invalid model settings: " + "; ".join(problems))


_INSTANCE_NORM_KEY = METADATA_PREFIX + "instance_norm"
_FP16_POLICY_KEY = METADATA_PREFIX + "fp16_policy"
PRECISION_POLICY_KEY = METADATA_PREFIX + "precision_policy"


@dataclasses.dataclass(frozen=True)
class PrecisionPolicy:
    """Which layers of a reduced-precision (fp16) engine must keep float32, as the exporter knows and the builder
    applies. Patterns are regular expressions searched in layer names; TensorRT's ONNX parser names each layer after
    the ONNX node it comes from.

    Attributes:
        fp32_layers: layers that compute in float32 (inputs, weights and outputs).
        fp16_layers: layers that compute in float16 even where a float32 neighbour would draw them to float32.
        fp32_outputs: layers whose outputs are float32, whatever precision they compute in.
        tf32: whether the float32 layers may run on TF32 tensor cores (inputs rounded to ten mantissa bits, sums in
            float32), as PyTorch runs float32 convolutions on the GPU by default; False keeps them strict float32.
    """

    fp32_layers: tuple[str, ...] = ()
    fp16_layers: tuple[str, ...] = ()
    fp32_outputs: tuple[str, ...] = ()
    tf32: bool = False

    def to_metadata(self) -> dict[str, str]:
        return {PRECISION_POLICY_KEY: json.dumps(dataclasses.asdict(self))}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> PrecisionPolicy:
        """The policy a model's metadata holds; the empty policy for a model without one (older exports), strict
        float32 for one without ``tf32``."""
        if PRECISION_POLICY_KEY not in metadata:
            return cls()
        try:
            values = json.loads(metadata[PRECISION_POLICY_KEY])
            policy = cls(
                fp32_layers=tuple(values["fp32_layers"]),
                fp16_layers=tuple(values["fp16_layers"]),
                fp32_outputs=tuple(values["fp32_outputs"]),
                tf32=values.get("tf32", False),
            )
        except (AttributeError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise ContractError(f"model metadata '{PRECISION_POLICY_KEY}' is malformed: {error}") from error
        patterns = policy.fp32_layers + policy.fp16_layers + policy.fp32_outputs
        if not all(isinstance(pattern, str) for pattern in patterns):
            raise ContractError(f"model metadata '{PRECISION_POLICY_KEY}' must list patterns as strings")
        if not isinstance(policy.tf32, bool):
            raise ContractError(f"model metadata '{PRECISION_POLICY_KEY}': tf32 must be true or false")
        return policy


def read_onnx_model_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Read :class:`ModelInfo` from an exported ONNX file's ``metadata_props`` (weights are not loaded)."""
    return ModelInfo.from_metadata(read_onnx_metadata(path))
