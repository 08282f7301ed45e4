# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The TensorRT backend's data flow against the TensorRT and cuda-python doubles (``trt_double``).

The doubles implement the documented API of TensorRT 8.2-8.6 (binding indices) or 10.x (named tensors), chosen by
version, over numpy "device" memory; the engine they build runs the ONNX model with onnxruntime when the stream is
synchronized. So binding by name, the contract checks, the copies, the synchronisation and the slicing into
Features are exercised for real; TensorRT's own numerics are not (test_tensorrt_real.py does that where TensorRT
is installed).
"""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import json
import threading
from pathlib import Path

import numpy as np

from disk_trt_ros.contract import InputFormat, TensorSpec, TrtCompat
from disk_trt_ros.errors import ContractError, CudaError, EngineCacheError
from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
from disk_trt_ros.inference.tensorrt.builder import BuildSettings
from disk_trt_ros.inference.tensorrt.cache import ensure_engine
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory
from disk_trt_ros.inference.tensorrt.engine import check_engine_tensors
from disk_trt_ros.inference.tensorrt.engine_io import BindingIndexIO, NamedTensorIO, engine_io
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.record import sidecar_path
from support import trt_double
from support.images import load_photo
from support.paths import shared_photo_paths

VERSIONS = ["8.2.1.8", "8.6.1.6", "10.0.1.6"]


def build_engine(tmp_path: Path, info_overrides: dict | None = None) -> Path:
    model, engine = tmp_path / "model.onnx", tmp_path / "model.engine"
    trt_double.make_contract_onnx(model, trt_double.tiny_model_info(**(info_overrides or {})))
    ensure_engine(model, engine, BuildSettings("fp32"), progress=Progress(lambda line: None))
    return engine


def image_with_count(count: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    image = np.random.default_rng(seed).integers(0, 256, (32, 32, channels), dtype=np.uint8)
    image[0, 0, 0] = count  # the tiny model's num_keypoints is min(first pixel, K)
    return image


def expected_features(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return trt_double.expected_outputs(image, trt_double.tiny_model_info())


@pytest.mark.parametrize("version", VERSIONS)
def test_runs_the_engine_with_each_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str) -> None:
    trt_double.install(monkeypatch, version)
    backend = TensorRTBackend(build_engine(tmp_path))
    try:
        assert isinstance(backend.engine._io, NamedTensorIO if version.startswith("10") else BindingIndexIO)
        # the model's float32 image is bound as uint8 where TensorRT has uint8 I/O (8.5 on)
        assert backend.input_dtype == ("float32" if version.startswith("8.2") else "uint8")
        assert backend.engine.inputs.host["image"].dtype == np.dtype(backend.input_dtype)
        for count, seed in ((5, 0), (8, 1), (0, 2), (200, 3)):
            image = image_with_count(count, seed)
            features = backend.run(image)
            keypoints, scores, descriptors = expected_features(image)
            assert features.count == min(count, 8)
            np.testing.assert_array_equal(features.keypoints, keypoints)
            np.testing.assert_array_equal(features.scores, scores)
            np.testing.assert_array_equal(features.descriptors, descriptors)
    finally:
        backend.close()


def test_engine_milliseconds_times_the_enqueue_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gpu = trt_double.install(monkeypatch, "8.6.1.6")
    backend = TensorRTBackend(build_engine(tmp_path))
    try:
        milliseconds = backend.engine_milliseconds(image_with_count(3))
        assert milliseconds > 0.0 and not any(gpu.streams.values()), "the engine ran before the second event"
        assert backend.run(image_with_count(3)).count == 3
    finally:
        backend.close()


def test_timed_run_gives_the_same_features_and_each_step(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trt_double.install(monkeypatch, "10.0.1")
    backend = TensorRTBackend(build_engine(tmp_path))
    try:
        image = image_with_count(6)
        features, milliseconds = backend.timed_run(image)
        expected = backend.run(image)
        np.testing.assert_array_equal(features.descriptors, expected.descriptors)
        assert list(milliseconds) == ["upload", "engine", "download", "results"]
        assert all(value >= 0.0 for value in milliseconds.values())
    finally:
        backend.close()


def test_api_is_chosen_by_version_even_where_both_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """8.5 and 8.6 have the named-tensor calls too; before 10 the backend keeps the binding-index API."""
    trt = trt_double.make_tensorrt(trt_double.FakeGpu(), "8.6.1.6")
    assert hasattr(trt, "TensorIOMode")
    assert isinstance(engine_io(trt, object(), object()), BindingIndexIO)
    assert isinstance(
        engine_io(trt_double.make_tensorrt(trt_double.FakeGpu(), "10.5.0"), object(), object()), NamedTensorIO
    )


def test_results_are_copies_and_nothing_is_allocated_per_frame(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gpu = trt_double.install(monkeypatch, "10.0.1")
    backend = TensorRTBackend(build_engine(tmp_path))
    allocations = (dict(gpu.device), dict(gpu.pinned))
    first_image = image_with_count(6, 0)
    first = backend.run(first_image)
    for seed in range(1, 6):
        backend.run(image_with_count(7, seed))
    np.testing.assert_array_equal(first.keypoints, expected_features(first_image)[0])  # not a view of a reused buffer
    assert (gpu.device, gpu.pinned) == allocations
    assert gpu.pageable_copies == 0, "every copy goes through pinned host buffers"
    backend.close()
    assert not gpu.device and not gpu.pinned and not gpu.streams, "close frees every buffer and the stream"


def count_copies(monkeypatch: pytest.MonkeyPatch, cuda: CudaMemory) -> dict[str, list[int]]:
    """The bytes of every copy ``cuda`` queues from now on, by direction."""
    copies: dict[str, list[int]] = {"up": [], "down": []}
    copy_to_device, copy_to_host = cuda.copy_to_device, cuda.copy_to_host
    monkeypatch.setattr(cuda, "copy_to_device", lambda address, host: (copies["up"].append(host.nbytes),
                                                                       copy_to_device(address, host)))
    monkeypatch.setattr(cuda, "copy_to_host", lambda host, address: (copies["down"].append(host.nbytes),
                                                                     copy_to_host(host, address)))
    return copies


def test_a_frame_is_one_launch_of_a_recorded_graph(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gpu = trt_double.install(monkeypatch, "8.6.1.6")
    backend = TensorRTBackend(build_engine(tmp_path))
    engine = backend.engine
    assert engine.graph_problem == "" and gpu.graph_launches == 0
    assert backend.describe().endswith(", CUDA graph"), "the node logs and reports the backend's description"
    copies = count_copies(monkeypatch, engine.cuda)
    try:
        for count, seed in ((5, 0), (7, 1), (0, 2)):
            image = image_with_count(count, seed)
            features = backend.run(image)
            for got, expected in zip((features.keypoints, features.scores, features.descriptors),
                                     expected_features(image)):
                np.testing.assert_array_equal(got, expected)
        assert gpu.graph_launches == 3 and copies == {"up": [], "down": []}, "the graph holds the copies"
    finally:
        backend.close()


def test_without_a_graph_a_frame_is_one_upload_and_one_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gpu = trt_double.install(monkeypatch, "8.6.1.6")
    gpu.fail_next["cudaStreamBeginCapture"] = trt_double.cudaError_t.cudaErrorStreamCaptureUnsupported
    backend = TensorRTBackend(build_engine(tmp_path))
    engine = backend.engine
    assert engine.graph_problem.startswith("CUDA could not record the frame as a graph")
    assert "cudaStreamBeginCapture" in engine.graph_problem
    assert f"no CUDA graph: {engine.graph_problem}" in backend.describe()
    copies = count_copies(monkeypatch, engine.cuda)
    try:
        image = image_with_count(5)
        np.testing.assert_array_equal(backend.run(image).descriptors, expected_features(image)[2])
        assert copies == {"up": [engine.inputs.host_bytes.nbytes], "down": [engine.outputs.host_bytes.nbytes]}
        assert gpu.graph_launches == 0
    finally:
        backend.close()


def test_a_recording_that_synchronises_is_refused_and_leaves_the_stream_usable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gpu = trt_double.install(monkeypatch, "8.6.1.6")
    backend = TensorRTBackend(build_engine(tmp_path))
    cuda = backend.engine.cuda
    try:
        with pytest.raises(CudaError, match="cudaStreamSynchronize"):
            cuda.capture(cuda.synchronize)
        assert not gpu.recording, "the capture ended"
        image = image_with_count(3)
        np.testing.assert_array_equal(backend.run(image).keypoints, expected_features(image)[0])
    finally:
        backend.close()


def test_uint8_engine_for_tensorrt_10(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trt_double.install(monkeypatch, "10.0.1")
    engine = build_engine(tmp_path, {"input_dtype": "uint8", "trt_compat": TrtCompat.TRT_10})
    backend = TensorRTBackend(engine)
    image = image_with_count(3, 4)
    np.testing.assert_array_equal(backend.run(image).keypoints, expected_features(image)[0])
    backend.close()


def test_mono_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trt_double.install(monkeypatch, "8.2.1.8")
    engine = build_engine(tmp_path, {"input_format": InputFormat.MONO})
    backend = TensorRTBackend(engine)
    image = image_with_count(4, 5, channels=1)
    np.testing.assert_array_equal(backend.run(image).descriptors, expected_features(image)[2])
    with pytest.raises(ContractError, match=r"uint8 with shape \(32, 32, 1\)"):
        backend.run(image_with_count(4, 5, channels=3))
    backend.close()


def test_runs_from_another_thread(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trt_double.install(monkeypatch, "10.0.1")
    backend = TensorRTBackend(build_engine(tmp_path))
    image = image_with_count(5)
    results = []
    worker = threading.Thread(target=lambda: results.append(backend.run(image)))
    worker.start()
    worker.join()
    np.testing.assert_array_equal(results[0].scores, expected_features(image)[1])
    backend.close()


def test_sidecar_that_disagrees_with_the_engine_names_the_tensor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gpu = trt_double.install(monkeypatch, "10.0.1")
    engine = build_engine(tmp_path)
    sidecar = json.loads(sidecar_path(engine).read_text())
    sidecar["model_metadata"] = trt_double.tiny_model_info(max_keypoints=4).to_metadata()
    sidecar_path(engine).write_text(json.dumps(sidecar))
    with pytest.raises(ContractError, match=r"tensor 'keypoints' has shape \(1, 8, 2\), the contract says \(1, 4, 2\)"):
        TensorRTBackend(engine)
    assert not gpu.device and not gpu.pinned and not gpu.streams, "a failed construction frees what it took"


@pytest.mark.parametrize(
    "tensors, message",
    [
        ([], "tensor 'image' is missing"),
        ([TensorSpec("extra", (1,), "float32", is_input=False)], "tensor 'extra' is not in the contract"),
        ([TensorSpec("image", (1, 32, 32, 3), "uint8", is_input=True)], "tensor 'image' has dtype uint8"),
        ([TensorSpec("scores", (1, 8), "float32", is_input=True)], "tensor 'scores' should be an output"),
        ([TensorSpec("num_keypoints", (1,), "int64", is_input=False)], "tensor 'num_keypoints' has dtype int64"),
    ],
)
def test_contract_check_names_each_problem(tensors: list[TensorSpec], message: str) -> None:
    info = trt_double.tiny_model_info()
    valid = {spec.name: spec for spec in info.tensor_specs()}
    check_engine_tensors(list(valid.values()), info, info.input_dtype)
    if tensors:
        valid.update({tensor.name: tensor for tensor in tensors})
    else:
        del valid["image"]
    with pytest.raises(ContractError, match=message):
        check_engine_tensors(list(valid.values()), info, info.input_dtype)


def test_engine_from_another_tensorrt_or_replaced_or_without_sidecar(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    trt_double.install(monkeypatch, "10.0.1")
    engine = build_engine(tmp_path)
    trt_double.install(monkeypatch, "10.3.0")
    with pytest.raises(EngineCacheError, match="built with TensorRT 10.0.1, this is 10.3.0; rebuild"):
        TensorRTBackend(engine)
    trt_double.install(monkeypatch, "10.0.1")
    engine.write_bytes(engine.read_bytes()[:-1])
    with pytest.raises(EngineCacheError, match="does not match the sha256"):
        TensorRTBackend(engine)
    sidecar_path(engine).unlink()
    with pytest.raises(EngineCacheError, match="has no sidecar"):
        TensorRTBackend(engine)


@pytest.mark.parametrize("graph, failing_call", [(True, "cudaGraphLaunch"), (False, "cudaMemcpyAsync")])
def test_cuda_failure_names_the_call(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, graph: bool, failing_call: str
) -> None:
    gpu = trt_double.install(monkeypatch, "10.0.1")
    if not graph:
        gpu.fail_next["cudaStreamBeginCapture"] = trt_double.cudaError_t.cudaErrorStreamCaptureUnsupported
    backend = TensorRTBackend(build_engine(tmp_path))
    gpu.fail_next[failing_call] = trt_double.cudaError_t.cudaErrorInvalidValue
    with pytest.raises(CudaError, match=f"{failing_call} failed: cudaErrorInvalidValue"):
        backend.run(image_with_count(3))
    np.testing.assert_array_equal(backend.run(image_with_count(3)).scores, expected_features(image_with_count(3))[1])
    backend.close()


@pytest.mark.parametrize("version", ["8.2.1.8", "10.0.1"])
def test_exported_disk_model_matches_onnxruntime(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, export_model, version: str
) -> None:
    """The real exported graph (128x160, K=64) through the double: the data flow with the contract's real shapes."""
    exported = export_model()
    trt_double.install(monkeypatch, version)
    engine = tmp_path / "disk.engine"
    ensure_engine(exported.path, engine, BuildSettings("fp32"), progress=Progress(lambda line: None))
    backend = TensorRTBackend(engine)
    reference = OnnxRuntimeBackend(str(exported.path))
    assert backend.info == reference.info == exported.info
    for path in shared_photo_paths():
        image = load_photo(path, exported.info.height, exported.info.width)
        ours, expected = backend.run(image), reference.run(image)
        assert ours.count == expected.count > 0
        np.testing.assert_array_equal(ours.keypoints, expected.keypoints)
        np.testing.assert_array_equal(ours.scores, expected.scores)
        np.testing.assert_array_equal(ours.descriptors, expected.descriptors)
    backend.close()


def test_layers_name_the_plugin_layers_of_a_tensorrt_8_engine(
    monkeypatch: pytest.MonkeyPatch, export_model, tmp_path: Path
) -> None:
    """TensorRT 8.2-8.5 import InstanceNormalization as plugins; the inspector's view says so (the double's)."""
    trt_double.install(monkeypatch, "8.5.3.1")
    engine = tmp_path / "disk.engine"
    ensure_engine(export_model().path, engine, BuildSettings("fp32"), progress=Progress(lambda line: None))
    backend = TensorRTBackend(engine)
    try:
        layers = backend.layers()
        plugins = [layer["name"] for layer in layers if layer["type"] == "PluginV2"]
        # kornia's 8 instance norms, the last one as one per part of its input (export/unet.py)
        assert len(plugins) == 9 and all("InstanceNormalization" in name for name in plugins), plugins
    finally:
        backend.close()
