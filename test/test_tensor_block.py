# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""An engine's tensors side by side in one pinned and one device allocation (``TensorBlock``), against the
cuda-python double: layout, filling the pinned arrays, one upload of every input, one download, casts and sizes."""

from __future__ import annotations

import numpy as np
import pytest

from disk_trt_ros.contract import TensorSpec
from disk_trt_ros.inference.tensorrt.cuda_bindings import open_cuda_memory
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory
from disk_trt_ros.inference.tensorrt.tensor_block import ALIGNMENT, TensorBlock
from support import trt_double

FRAME = TensorSpec("image", (1, 480, 640, 3), "uint8", True)
COUNT = TensorSpec("num_keypoints", (1,), "int32", False)
DESCRIPTORS = TensorSpec("descriptors", (1, 300, 128), "float32", False)


@pytest.fixture
def memory(fake_gpu: trt_double.FakeGpu) -> CudaMemory:
    cuda = open_cuda_memory()
    yield cuda
    cuda.close()


def test_each_tensor_is_an_aligned_view_of_one_allocation(fake_gpu: trt_double.FakeGpu, memory: CudaMemory) -> None:
    block = TensorBlock.allocate(memory, [COUNT, DESCRIPTORS])
    assert len(fake_gpu.device) == 1 and len(fake_gpu.pinned) == 1
    assert block.device["num_keypoints"] == block.device_address
    assert block.device["descriptors"] == block.device_address + ALIGNMENT  # 4 bytes, then the next boundary
    assert block.host_bytes.nbytes == ALIGNMENT + 300 * 128 * 4
    for spec in (COUNT, DESCRIPTORS):
        view = block.host[spec.name]
        assert view.shape == spec.shape and view.dtype == np.dtype(spec.dtype)
        assert np.shares_memory(view, block.host_bytes)


def test_every_input_crosses_in_one_upload(
    monkeypatch: pytest.MonkeyPatch, memory: CudaMemory
) -> None:
    copies: list[int] = []
    copy_to_device = memory.copy_to_device
    monkeypatch.setattr(memory, "copy_to_device", lambda address, host: (copies.append(host.nbytes),
                                                                         copy_to_device(address, host)))
    inputs = TensorBlock.allocate(memory, [FRAME, COUNT])
    frame = np.random.default_rng(0).integers(0, 256, FRAME.shape[1:], dtype=np.uint8)
    inputs.fill({"image": frame, "num_keypoints": np.array([7], np.int32)})
    assert copies == [], "filling the pinned arrays queues no copy"
    inputs.upload(memory)
    assert copies == [inputs.host_bytes.nbytes]
    outputs = TensorBlock.allocate(memory, [FRAME, COUNT])  # the same tensors read back, to see what arrived
    memory.copy_to_host(outputs.host_bytes, inputs.device_address)
    memory.synchronize()
    np.testing.assert_array_equal(outputs.host["image"][0], frame)
    assert outputs.host["num_keypoints"][0] == 7


def test_filling_casts_to_the_binding_dtype_and_checks_the_size(memory: CudaMemory) -> None:
    block = TensorBlock.allocate(memory, [TensorSpec("image", (1, 4, 4, 1), "float32", True)])
    block.fill({"image": np.arange(16, dtype=np.uint8).reshape(4, 4, 1)})
    np.testing.assert_array_equal(block.host["image"].reshape(-1), np.arange(16, dtype=np.float32))
    with pytest.raises(ValueError, match="tensor 'image' holds 16 values, the array 15"):
        block.fill({"image": np.zeros(15, np.uint8)})
