# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Real TensorRT: build fp32 and fp16 engines of exported models, run each in a fresh process, compare to ONNX Runtime.

Runs wherever ``import tensorrt`` works, a CUDA GPU is visible through cuda-python or pycuda and onnxruntime imports
(the references), under Python 3.9 or later; PyTorch, OpenCV and kornia are not needed. The models and photographs
come from the directory that ``DISK_TRT_ROS_TEST_MODELS`` names (``scripts/export_test_models.py`` writes it: see
support/model_set.py), or are exported here where PyTorch is installed. On the GPU machine, with the TensorRT 8.5
bundle of ../shared/tools/tensorrt-8.5 (onnxruntime's cp39 wheel unpacked into ORT_DIR, see the export script):

    source /root/trt85/env.sh
    PYTHONPATH=$PWD:ORT_DIR:$PYTHONPATH DISK_TRT_ROS_TEST_MODELS=DIR $PY39 -m pytest test/test_tensorrt_real.py -v -s

Each engine is built in this process and deserialized and run in a fresh one (``support.run_backend``), which must
register TensorRT's plugins itself. Per photograph, against ONNX Runtime (the exported graph in float32, which
test_export_parity.py holds to kornia):
    fp32 (TF32 off): the same keypoints but at most 0.1% of K (float ties at the NMS or the cut: the failure lists
        them), scores within 1e-4, descriptor cosine >= 0.9999;
    fp16 (the model's precision policy): at least 98% of ONNX Runtime's keypoints, descriptor cosine >= 0.999.
``-s`` prints the figures of every photograph and TensorRT's build warnings.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from disk_trt_ros.inference.base import Features
from disk_trt_ros.inference.comparison import Agreement, agreement, mutual_nearest_neighbours
from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.cuda_bindings import gpu_count
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import read_sidecar
from support.model_set import MODEL_SET_VARIABLE, ModelWithImages, read_model_set, write_model_set
from support.paths import REPO_ROOT, subprocess_environment
from support.run_backend import load_features, run_backend

PRECISIONS = ("fp32", "fp16")
SAME_PIXEL_PX = 0.5
FP32_DIFFERING_SHARE = 0.001  # of K
FP32_SCORE_DIFFERENCE = 1e-4
FP32_COSINE = 0.9999
FP16_FOUND_SHARE = 0.98
FP16_COSINE = 0.999


def _skip_reason() -> str | None:
    try:
        importlib.import_module("tensorrt")
    except ImportError as error:
        return f"tensorrt does not import here ({error}); docs/tensorrt.md says how to run these tests"
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime (the references) does not import here; scripts/export_test_models.py says how to carry it"
    count, how = gpu_count()
    if count == 0:
        return f"tensorrt is installed but no GPU is usable: {how}"
    return None


pytestmark = [pytest.mark.tensorrt, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]


def tensorrt_has_uint8_inputs() -> bool:
    import tensorrt

    return hasattr(tensorrt, "uint8")  # 8.5 on


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[ModelWithImages]:
    """The model set that ``DISK_TRT_ROS_TEST_MODELS`` names, else one exported now; uint8-input models only where
    TensorRT takes uint8 inputs."""
    named = os.environ.get(MODEL_SET_VARIABLE)
    if named:
        found = read_model_set(Path(named))
    elif importlib.util.find_spec("torch") is None:
        pytest.skip(f"PyTorch is not installed to export the models: set {MODEL_SET_VARIABLE} to a directory "
                    "written by scripts/export_test_models.py")
    else:
        found = read_model_set(write_model_set(tmp_path_factory.mktemp("models")))
    return [model for model in found if model.info.input_dtype != "uint8" or tensorrt_has_uint8_inputs()]


@pytest.fixture(scope="module")
def engines(models: list[ModelWithImages], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """``(model name, precision) -> engine``, built in this process with one timing cache."""
    directory = tmp_path_factory.mktemp("engines")
    built = {}
    for model in models:
        for precision in PRECISIONS:
            engine = directory / f"{model.name}.{precision}.engine"
            settings = BuildSettings(precision, timing_cache=directory / "timing.cache")
            record = ensure_engine(model.onnx, engine, settings, if_needed=False, progress=Progress(print))
            print(f"{engine.name}: {record.build_seconds} s, {engine.stat().st_size / 1e6:.1f} MB, input "
                  f"{record.input_dtype}, {record.fp32_layers} layers kept in float32, flags {record.builder_flags}")
            for warning in record.build_warnings:
                print(f"  {warning}")
            built[(model.name, precision)] = engine
    return built


@pytest.fixture(scope="module")
def features(
    models: list[ModelWithImages], engines: dict[tuple[str, str], Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], tuple[list[Features], list[Features]]]:
    """``(model name, precision) -> (the engine's features from a fresh process, ONNX Runtime's here)``."""
    directory = tmp_path_factory.mktemp("features")
    found = {}
    for model in models:
        images = directory / f"{model.name}.images.npy"
        np.save(images, model.images)
        reference = run_backend("onnxruntime", model.onnx, model.images)
        for precision in PRECISIONS:
            out = directory / f"{model.name}.{precision}.npz"
            engine = engines[(model.name, precision)]
            command = [sys.executable, "-m", "support.run_backend", "--backend", "tensorrt", "--model", str(engine)]
            ran = subprocess.run(
                [*command, "--images", str(images), "--out", str(out)],
                cwd=REPO_ROOT, env=subprocess_environment(), capture_output=True, text=True, timeout=300,
            )
            assert ran.returncode == 0, f"{model.name} {precision} in a fresh process: {ran.stderr}"
            found[(model.name, precision)] = (load_features(out), reference)
    return found


def compare(ours: Features, reference: Features) -> Agreement:
    return agreement(
        ours.keypoints, ours.scores, ours.descriptors,
        reference.keypoints, reference.scores, reference.descriptors, SAME_PIXEL_PX,
    )


def unmatched(ours: Features, reference: Features) -> str:
    """The keypoints found by only one side, with their scores, and the lowest score each side kept."""
    pairs = mutual_nearest_neighbours(ours.keypoints, reference.keypoints, SAME_PIXEL_PX)
    only_ours = sorted(set(range(ours.count)) - set(pairs[:, 0].tolist()))
    only_reference = sorted(set(range(reference.count)) - set(pairs[:, 1].tolist()))
    return (
        f"only the engine: {[(ours.keypoints[i].tolist(), float(ours.scores[i])) for i in only_ours]}; "
        f"only ONNX Runtime: {[(reference.keypoints[i].tolist(), float(reference.scores[i])) for i in only_reference]}"
        "; "
        f"lowest scores kept {ours.scores.min(initial=np.inf):.6g} / {reference.scores.min(initial=np.inf):.6g}"
    )


def test_fp32_engines_match_onnxruntime(models: list[ModelWithImages], features) -> None:
    problems = []
    for model in models:
        allowed = int(FP32_DIFFERING_SHARE * model.info.max_keypoints)
        for index, (ours, reference) in enumerate(zip(*features[(model.name, "fp32")])):
            result = compare(ours, reference)
            differing = max(ours.count, reference.count) - result.matched
            label = f"{model.name} fp32 photo {index}"
            print(f"{label}: {ours.count}/{reference.count} keypoints, {differing} differ (at most {allowed}), "
                  f"score difference {result.score_max_abs_diff}, cosine >= {result.descriptor_cosine_min}")
            if reference.count == 0:
                problems.append(f"{label}: ONNX Runtime finds no keypoint; the photograph tests nothing")
            elif differing > allowed:
                problems.append(f"{label}: {differing} keypoints differ; {unmatched(ours, reference)}")
            elif result.score_max_abs_diff > FP32_SCORE_DIFFERENCE or result.descriptor_cosine_min < FP32_COSINE:
                problems.append(f"{label}: {result}")
    assert problems == []


def test_fp16_engines_find_98_percent_of_the_keypoints(models: list[ModelWithImages], features) -> None:
    problems = []
    for model in models:
        for index, (ours, reference) in enumerate(zip(*features[(model.name, "fp16")])):
            result = compare(ours, reference)
            share = result.matched / reference.count if reference.count else 0.0
            label = f"{model.name} fp16 photo {index}"
            print(f"{label}: found {share:.4f} of ONNX Runtime's {reference.count} keypoints, score difference "
                  f"{result.score_max_abs_diff}, cosine >= {result.descriptor_cosine_min}")
            if share < FP16_FOUND_SHARE or (result.descriptor_cosine_min or 0.0) < FP16_COSINE:
                problems.append(f"{label}: found {share:.4f}, {result}")
    assert problems == []


def test_engines_record_their_build_and_follow_the_contract(models: list[ModelWithImages], engines) -> None:
    """The sidecar says how each engine was built; binding by name and the contract check pass on a real engine."""
    for model in models:
        for precision in PRECISIONS:
            engine = engines[(model.name, precision)]
            record = read_sidecar(engine)
            assert record.builder_flags == (["FP16"] if precision == "fp16" else [])
            assert (record.fp32_layers > 0) == (precision == "fp16"), "the precision policy is applied to fp16 only"
            assert record.input_dtype == ("uint8" if tensorrt_has_uint8_inputs() else "float32")
            backend = TensorRTBackend(engine)  # binds by name and checks the tensors against the contract
            try:
                assert backend.info == model.info and backend.input_dtype == record.input_dtype
                cuda = backend.engine.cuda
                assert backend.engine.graph_problem == "" or cuda.implementation != "cuda-python", (
                    f"with cuda-python a frame is one CUDA graph: {backend.engine.graph_problem}"
                )
            finally:
                backend.close()


def test_if_needed_reuses_and_the_command_line_works(models: list[ModelWithImages], engines, tmp_path: Path) -> None:
    model = min(models, key=lambda candidate: candidate.info.height * candidate.info.width)
    engine = engines[(model.name, "fp32")]
    before = read_sidecar(engine)
    assert ensure_engine(model.onnx, engine, BuildSettings("fp32"), progress=Progress()) == before, "reused"
    command = [sys.executable, "-m", "disk_trt_ros", "build-engine", "--onnx", str(model.onnx), "--fp32"]
    finished = subprocess.run(
        [*command, "--engine", str(engine), "--if-needed"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0 and "is up to date" in finished.stdout, finished.stdout + finished.stderr
    fresh, timing_cache = tmp_path / "fresh.engine", tmp_path / "timing.cache"
    finished = subprocess.run(
        [*command, "--engine", str(fresh), "--workspace-mib", "256", "--timing-cache", str(timing_cache)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert read_sidecar(fresh).workspace_mib == 256 and timing_cache.stat().st_size > 0
