# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Matchers by name (inference/registry.py's MATCHERS): which one a method on a backend resolves to, and LightGlue on
TensorRT through the same engine cache as the extractor, against the TensorRT and cuda-python doubles (their engines
run the ONNX graph with onnxruntime: the data flow is tested here, TensorRT's numerics on the GPU machine)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("kornia", reason="kornia is not installed (pip install kornia)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import dataclasses
import sys
from pathlib import Path

import numpy as np

from disk_trt_ros import __version__
from disk_trt_ros.contract import MatcherMethod, Precision, TrtCompat
from disk_trt_ros.errors import ContractError, OptionsError
from disk_trt_ros.export.lightglue_weights import random_lightglue
from disk_trt_ros.export.onnx_export import export_matcher_onnx
from disk_trt_ros.inference.base import BackendOptions, KeypointSlots, MatcherOptions, MnnSettings
from disk_trt_ros.inference.mnn import NumpyMnnMatcher
from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeLightGlue
from disk_trt_ros.inference.registry import MATCHERS, create_matcher, load_class, resolve_matcher
from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
from disk_trt_ros.inference.tensorrt.matcher import TensorRTLightGlue
from disk_trt_ros.inference.torch_matchers import TorchMnnMatcher
from disk_trt_ros.matcher_contract import MatcherInfo
from support import trt_double
from support.matching import FRAME_HEIGHT, FRAME_WIDTH, PHOTO_PAIRS, photo_slots, shuffled

SLOTS = 32  # a small K keeps the export and the double's engine quick


def first_slots(slots: KeypointSlots, count: int) -> KeypointSlots:
    """The first ``SLOTS`` slots, ``count`` of them valid."""
    keypoints, descriptors = slots.keypoints[:, :SLOTS].copy(), slots.descriptors[:, :SLOTS].copy()
    keypoints[:, count:] = 0.0
    descriptors[:, count:] = 0.0
    return KeypointSlots(keypoints, descriptors, np.array([count], dtype=np.int32))


@pytest.fixture(scope="module")
def matcher_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LightGlue (random weights, threshold 0: every mutual best pair is a match) for K=32 at 240x320."""
    lightglue, sha256 = random_lightglue(0)
    info = MatcherInfo(MatcherMethod.LIGHTGLUE, FRAME_HEIGHT, FRAME_WIDTH, SLOTS, 0.0, TrtCompat.TRT_8_2, "random:0",
                       sha256, __version__)
    path = tmp_path_factory.mktemp("matcher") / "lightglue.onnx"
    export_matcher_onnx(lightglue, info, path)
    return path


def test_every_registered_matcher_names_itself() -> None:
    for name, reference in MATCHERS.items():
        assert load_class(reference).name == name


def test_lightglue_resolves_as_the_extractor_backends_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    name, reason = resolve_matcher("lightglue", "auto")
    assert name == "lightglue-onnxruntime" and "tensorrt does not import" in reason
    assert resolve_matcher("lightglue", "torch") == ("lightglue-torch", "requested")
    trt_double.install(monkeypatch)
    assert resolve_matcher("lightglue", "auto")[0] == "lightglue-tensorrt"


def test_mutual_nearest_neighbours_run_in_torch_on_a_gpu_else_in_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    assert resolve_matcher("mnn", "torch") == ("mnn-torch", "requested")
    assert resolve_matcher("mnn", "onnxruntime")[0] == "mnn-numpy"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_matcher("mnn", "auto") == ("mnn-numpy", "PyTorch sees no CUDA GPU")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for backend in ("auto", "tensorrt"):
        assert resolve_matcher("mnn", backend) == ("mnn-torch", "PyTorch sees a CUDA GPU")
    monkeypatch.setitem(sys.modules, "torch", None)
    name, reason = resolve_matcher("mnn", "auto")
    assert name == "mnn-numpy" and reason.startswith("PyTorch is not installed")


def test_unknown_names_and_a_missing_model_are_refused() -> None:
    with pytest.raises(OptionsError, match="matcher 'sift': choose one of mnn, lightglue"):
        resolve_matcher("sift", "auto")
    with pytest.raises(OptionsError, match="backend 'cuda': choose one of auto, tensorrt"):
        resolve_matcher("mnn", "cuda")
    with pytest.raises(OptionsError, match="lightglue-onnxruntime needs an exported matcher: make one with"):
        create_matcher("lightglue", "onnxruntime", MatcherOptions())


def test_created_matchers_say_what_they_ignore(matcher_model: Path) -> None:
    said: list[str] = []
    settings = MnnSettings(ratio_threshold=0.9)
    numpy_matcher = create_matcher("mnn", "onnxruntime", MatcherOptions(model=matcher_model, mnn=settings), said.append)
    assert isinstance(numpy_matcher, NumpyMnnMatcher) and numpy_matcher.settings == settings
    assert said[0] == "matcher mnn on onnxruntime -> mnn-numpy: a CPU backend was requested"
    assert said[1] == f"mnn-numpy matches descriptors and needs no model; {matcher_model} is ignored"
    torch_matcher = create_matcher("mnn", "torch", MatcherOptions(mnn=settings), said.append)
    assert isinstance(torch_matcher, TorchMnnMatcher) and torch_matcher.settings == settings
    half = MatcherOptions(model=matcher_model, backend=BackendOptions(precision=Precision.FP16))
    lightglue = create_matcher("lightglue", "onnxruntime", half, said.append)
    assert isinstance(lightglue, OnnxRuntimeLightGlue) and lightglue.frame == (FRAME_WIDTH, FRAME_HEIGHT)
    assert said[-2:] == [
        "matcher lightglue on onnxruntime -> lightglue-onnxruntime: requested",
        f"lightglue-onnxruntime runs {matcher_model} as exported; precision fp16 is ignored",
    ]


@pytest.mark.parametrize("version", ["8.2.1.8", "10.0.1.6"])
def test_lightglue_on_tensorrt_builds_its_engine_in_the_cache_and_matches_as_onnxruntime(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, matcher_model: Path, version: str
) -> None:
    gpu = trt_double.install(monkeypatch, version)
    model = tmp_path / matcher_model.name
    model.write_bytes(matcher_model.read_bytes())
    options = MatcherOptions(model=model, backend=BackendOptions())
    said: list[str] = []
    matcher = create_matcher("lightglue", "tensorrt", options, said.append)
    assert isinstance(matcher, TensorRTLightGlue) and matcher.compute_device == "cuda"
    assert matcher.describe().endswith("TensorRT engine (fp32), CUDA graph"), matcher.describe()
    assert (tmp_path / "lightglue.fp32.engine").is_file() and any("building" in line for line in said), said
    reference = OnnxRuntimeLightGlue(str(model), threads=1)
    image = photo_slots(PHOTO_PAIRS[1][0])
    pairs = [
        (first_slots(image, 30), shuffled(first_slots(image, SLOTS), seed=1)),
        (first_slots(photo_slots(PHOTO_PAIRS[0][0]), 20), first_slots(photo_slots(PHOTO_PAIRS[0][1]), 25)),
        (first_slots(image, 0), first_slots(image, SLOTS)),
    ]
    try:
        for image0, image1 in pairs:
            matches, expected = matcher.match(image0, image1), reference.match(image0, image1)
            np.testing.assert_array_equal(matches.matches0, expected.matches0)
            np.testing.assert_array_equal(matches.scores0, expected.scores0)
        assert matcher.match(*pairs[0]).count > 20  # most slots find their shuffled twin
        assert gpu.graph_launches == len(pairs) + 1, "each pair is one launch of the recorded graph"
        again = create_matcher("lightglue", "tensorrt", options, said.append)
        assert said[-1].endswith(f"engine {tmp_path / 'lightglue.fp32.engine'} is up to date")
        again.close()
    finally:
        matcher.close()
    assert not gpu.device and not gpu.pinned, "close frees every buffer"


def test_an_engine_runs_only_as_what_it_was_built_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, matcher_model: Path, tiny_model: Path
) -> None:
    trt_double.install(monkeypatch, "10.0.1")
    model = tmp_path / matcher_model.name
    model.write_bytes(matcher_model.read_bytes())
    options = BackendOptions()
    create_matcher("lightglue", "tensorrt", MatcherOptions(model=model, backend=options), print).close()
    matcher_engine = model.with_suffix(".fp32.engine")
    with pytest.raises(ContractError, match="was built from a matcher, not from the extractor"):
        TensorRTBackend(matcher_engine)
    extractor_engine = tmp_path / "extractor.engine"
    extractor = TensorRTBackend.create(tiny_model, dataclasses.replace(options, engine_path=extractor_engine), print)
    extractor.close()
    with pytest.raises(ContractError, match="was built from the extractor, not from a matcher"):
        TensorRTLightGlue(extractor_engine)
