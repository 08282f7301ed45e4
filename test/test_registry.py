# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Backend selection (``auto`` and explicit names) and construction through the registry."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")

import logging
import sys
from pathlib import Path

import numpy as np

from disk_trt_ros.errors import LibraryMissingError
from disk_trt_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
from disk_trt_ros.inference.registry import BACKENDS, MATCHERS, create_backend, load_class, resolve_backend_name
from disk_trt_ros.inference.tensorrt.backend import TensorRTBackend
from disk_trt_ros.inference.torch_backend import TorchBackend
from support import trt_double


def hide(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_auto_without_tensorrt_picks_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "tensorrt")
    name, reason = resolve_backend_name("auto")
    assert name == "onnxruntime"
    assert "tensorrt does not import" in reason


def test_auto_with_tensorrt_and_a_gpu_picks_tensorrt(monkeypatch: pytest.MonkeyPatch) -> None:
    trt_double.install(monkeypatch)
    assert resolve_backend_name("auto") == ("tensorrt", "TensorRT imports and cuda-python sees 1 CUDA device(s)")


def test_auto_with_tensorrt_but_no_gpu_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    trt_double.install(monkeypatch, gpu=trt_double.FakeGpu(device_count=0))
    name, reason = resolve_backend_name("auto")
    assert name == "onnxruntime" and "TensorRT imports but no GPU is usable" in reason, reason


def test_auto_with_tensorrt_but_no_cuda_binding_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    trt_double.install(monkeypatch)
    hide(monkeypatch, "cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart")
    name, reason = resolve_backend_name("auto")
    assert name == "onnxruntime" and "neither pycuda nor cuda-python is installed" in reason, reason


def test_auto_without_onnxruntime_picks_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "tensorrt", "onnxruntime")
    name, reason = resolve_backend_name("auto")
    assert name == "torch" and "onnxruntime is not installed" in reason


def test_auto_with_nothing_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "tensorrt", "onnxruntime", "torch")
    with pytest.raises(RuntimeError, match="no inference backend is installed.*install onnxruntime or torch"):
        resolve_backend_name("auto")


@pytest.mark.parametrize("library, reference", [
    ("onnxruntime", BACKENDS["onnxruntime"]),
    ("torch", BACKENDS["torch"]),
    ("onnxruntime", MATCHERS["lightglue-onnxruntime"]),
    ("torch", MATCHERS["mnn-torch"]),
])
def test_a_backend_whose_library_is_missing_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, library: str, reference: str
) -> None:
    hide(monkeypatch, library)
    monkeypatch.delitem(sys.modules, reference.partition(":")[0], raising=False)
    with pytest.raises(LibraryMissingError, match=f"needs {library}, which is not installed here: pip install"):
        load_class(reference)


def test_explicit_and_invalid_names(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "tensorrt")
    for name in ("tensorrt", "onnxruntime", "torch"):
        assert resolve_backend_name(name) == (name, "requested")
    with pytest.raises(ValueError, match="'trt': choose one of auto, tensorrt, onnxruntime, torch"):
        resolve_backend_name("trt")


def test_create_auto_logs_the_choice(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, export_model
) -> None:
    hide(monkeypatch, "tensorrt")
    exported = export_model()
    with caplog.at_level(logging.INFO, logger="disk_trt_ros.inference.registry"):
        backend = create_backend("auto", exported.path)
    assert isinstance(backend, OnnxRuntimeBackend) and backend.info == exported.info
    assert "backend auto -> onnxruntime: tensorrt does not import" in caplog.text


def test_create_onnxruntime_and_torch(export_model, caplog: pytest.LogCaptureFixture) -> None:
    exported = export_model()
    onnxruntime = create_backend("onnxruntime", exported.path, threads=1)
    torch_backend = create_backend("torch", exported.path)
    assert isinstance(onnxruntime, OnnxRuntimeBackend) and isinstance(torch_backend, TorchBackend)
    assert onnxruntime.info == torch_backend.info == exported.info
    with caplog.at_level(logging.INFO, logger="disk_trt_ros.inference.registry"):
        create_backend("onnxruntime", exported.path, precision="fp16")
    assert "precision fp16 is ignored" in caplog.text


def test_create_refuses_bad_arguments(tmp_path: Path, export_model) -> None:
    with pytest.raises(ValueError, match="precision 'int8'"):
        create_backend("onnxruntime", export_model().path, precision="int8")
    with pytest.raises(ValueError, match="is a TensorRT engine; the onnxruntime backend needs the exported ONNX"):
        create_backend("onnxruntime", tmp_path / "model.engine")


def test_create_tensorrt_builds_once_then_reuses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    trt_double.install(monkeypatch)
    model = tmp_path / "model.onnx"
    trt_double.make_contract_onnx(model, trt_double.tiny_model_info())
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    image[0, 0, 0] = 3
    first = create_backend("tensorrt", model, precision="fp16")
    assert isinstance(first, TensorRTBackend) and first.precision == "fp16"
    assert (tmp_path / "model.fp16.engine").is_file(), "the engine goes beside the model by default"
    assert first.run(image).count == 3
    first.close()
    second = create_backend("auto", model, precision="fp16")
    third = create_backend("tensorrt", tmp_path / "model.fp16.engine")
    assert isinstance(second, TensorRTBackend) and isinstance(third, TensorRTBackend)
    assert len(sys.modules["tensorrt"].builds) == 1, "the cached engine was reused"
    custom = create_backend("tensorrt", model, precision="fp32", engine_path=tmp_path / "cache" / "disk.engine")
    assert custom.precision == "fp32" and (tmp_path / "cache" / "disk.engine").is_file()
    for backend in (second, third, custom):
        backend.close()


def test_messages_go_to_the_callers_report(export_model):
    """The node passes its ROS logger: what the registry has to say must reach it, not an unconfigured logger."""
    heard: list[str] = []
    backend = create_backend("onnxruntime", export_model().path, precision="fp16", report=heard.append)
    assert backend.precision == "fp32"
    assert any("precision fp16 is ignored" in message for message in heard)
