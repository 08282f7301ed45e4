"""Real TensorRT: build an engine from an exported model, deserialize it, run it, compare with ONNX Runtime.

Runs wherever ``import tensorrt`` works and a CUDA GPU is visible through cuda-python or pycuda (a Jetson with
JetPack, an x86 GPU machine with TensorRT 8.2 to 10.x); skipped elsewhere, with the reason. docs/tensorrt.md says
how to run it. Nothing here has run on real TensorRT yet: TensorRT was not available where this was written.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from disk_trt_ros.contract import TrtCompat
from disk_trt_ros.inference.bench import bench_images
from disk_trt_ros.photos import shared_photo_directory
from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.cuda_bindings import gpu_count
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import read_sidecar
from support.reference import assert_matches_reference


def _skip_reason() -> str | None:
    try:
        importlib.import_module("tensorrt")
    except ImportError as error:
        return f"tensorrt does not import here ({error}); docs/tensorrt.md says how to run these tests"
    count, how = gpu_count()
    if count == 0:
        return f"tensorrt is installed but no GPU is usable: {how}"
    return None


pytestmark = [pytest.mark.tensorrt, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]

REPO_ROOT = Path(__file__).resolve().parents[1]


def tensorrt_major() -> int:
    import tensorrt

    return int(tensorrt.__version__.split(".")[0])


def compatibilities() -> list[str]:
    """8.2-compatible models everywhere; uint8-input models where the parser takes uint8 (8.5 on)."""
    import tensorrt

    major, minor = (int(part) for part in tensorrt.__version__.split(".")[:2])
    return ["8.2", "10"] if (major, minor) >= (8, 5) else ["8.2"]


@pytest.fixture(scope="module")
def built(export_model, tmp_path_factory: pytest.TempPathFactory):
    """fp32 engines of a 128x160, K=64 random-weight model, one per compatibility the installed TensorRT takes."""
    directory = tmp_path_factory.mktemp("engines")
    engines = {}
    for compat in compatibilities():
        exported = export_model(trt_compat=TrtCompat(compat))
        engine = directory / f"disk_{compat}.engine"
        ensure_engine(exported.path, engine, BuildSettings("fp32"), progress=Progress())
        engines[compat] = (exported, engine)
    return engines


def test_fp32_engine_matches_onnxruntime_on_photos(built) -> None:
    for exported, engine in built.values():
        backend = TensorRTBackend(engine)
        reference = OnnxRuntimeBackend(str(exported.path))
        try:
            assert backend.info == exported.info
            for image in bench_images(exported.info, shared_photo_directory())[0]:  # ../shared's photos, else scikit-image's
                ours = backend.run(image)
                assert ours.count > 0
                assert np.allclose(np.linalg.norm(ours.descriptors, axis=1), 1.0, atol=1e-3)
                assert_matches_reference(ours, reference.run(image), exported.info, tolerance=1e-3)
        finally:
            backend.close()


def test_fp16_engine_mostly_agrees(export_model, tmp_path: Path) -> None:
    """fp16 changes scores in the third decimal, so a few keypoints near ties may differ; most must not."""
    from disk_trt_ros.inference.comparison import agreement

    exported = export_model()
    engine = tmp_path / "disk.fp16.engine"
    record = ensure_engine(exported.path, engine, BuildSettings("fp16"), progress=Progress())
    assert record.builder_flags == ["FP16", "TF32"]
    backend = TensorRTBackend(engine)
    reference = OnnxRuntimeBackend(str(exported.path))
    try:
        for index, image in enumerate(bench_images(exported.info, shared_photo_directory())[0]):
            ours, expected = backend.run(image), reference.run(image)
            result = agreement(
                ours.keypoints,
                ours.scores,
                ours.descriptors,
                expected.keypoints,
                expected.scores,
                expected.descriptors,
                0.5,
            )
            print(f"fp16 vs fp32, photo {index}: overlap {result.overlap:.3f}, cosine {result.descriptor_cosine_min}")
            assert result.overlap >= 0.8, result
    finally:
        backend.close()


def test_if_needed_reuses_and_the_command_line_works(built, tmp_path: Path) -> None:
    exported, engine = built["8.2"]
    before = read_sidecar(engine)
    again = ensure_engine(exported.path, engine, BuildSettings("fp32"), progress=Progress())
    assert again == before, "an up-to-date engine is reused"
    command = [sys.executable, "-m", "disk_trt_ros", "build-engine", "--onnx", str(exported.path), "--fp32"]
    finished = subprocess.run(
        [*command, "--engine", str(engine), "--if-needed"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0 and "is up to date" in finished.stdout, finished.stdout + finished.stderr
    fresh = tmp_path / "fresh.engine"
    finished = subprocess.run(
        [*command, "--engine", str(fresh), "--workspace-mib", "256", "--timing-cache", str(tmp_path / "timing.cache")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert read_sidecar(fresh).workspace_mib == 256 and (tmp_path / "timing.cache").stat().st_size > 0


def test_engine_tensors_follow_the_contract(built) -> None:
    """Bind-by-name and the shape/dtype check succeed on a real engine (construction runs them)."""
    for exported, engine in built.values():
        backend = TensorRTBackend(engine)
        tensors = {tensor.name: tensor for tensor in backend._io.tensors()}
        assert tensors["image"].shape == exported.info.input_shape
        assert str(tensors["image"].dtype) == exported.info.input_dtype
        assert tensors["num_keypoints"].dtype == np.dtype("int32")
        backend.close()
