# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The CUDA memory layer: on a real GPU with whichever of cuda-python and pycuda is installed, and (everywhere)
its cuda-python implementation against the cuda-python double, for return-code checking and bookkeeping."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from disk_trt_ros.errors import CudaError, CudaUnavailableError
from disk_trt_ros.inference.tensorrt.cuda_bindings import gpu_count, installed_implementations, open_cuda_memory
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory, DeviceInfo
from disk_trt_ros.inference.tensorrt.cuda_python import CudaPythonMemory
from support import trt_double


def real_implementations() -> list[str]:
    """Implementations that import here and see a GPU (checked without touching the doubles)."""
    usable = []
    for implementation in installed_implementations():
        try:
            open_cuda_memory(implementation=implementation).close()
        except (CudaUnavailableError, CudaError):
            continue
        usable.append(implementation)
    return usable


REAL = real_implementations()
needs_gpu = pytest.mark.skipif(
    not REAL,
    reason="needs cuda-python or pycuda and a CUDA GPU; this machine has "
    + (", ".join(installed_implementations()) or "neither binding")
    + " and no usable GPU",
)


@pytest.fixture(params=REAL or ["none"])
def memory(request: pytest.FixtureRequest) -> CudaMemory:
    if request.param == "none":
        pytest.skip("no CUDA binding with a GPU here")
    with open_cuda_memory(implementation=request.param) as opened:
        yield opened


# --- real GPU ---------------------------------------------------------------------------------------------------


@needs_gpu
def test_device_info(memory: CudaMemory) -> None:
    info = memory.device_info()
    assert info.name and info.compute_capability[0] >= 5, info
    assert memory.stream_handle != 0


@needs_gpu
@pytest.mark.parametrize("dtype, shape", [("float32", (1, 480, 640, 3)), ("uint8", (1, 480, 640, 3)), ("int32", (1,))])
def test_round_trip_through_the_device(memory: CudaMemory, dtype: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(7)
    source = memory.pinned_array(shape, dtype)
    source[...] = rng.integers(0, 255, shape).astype(dtype)
    target = memory.pinned_array(shape, dtype)
    target.fill(0)
    address = memory.device_buffer(source.nbytes)
    memory.copy_to_device(address, source)
    memory.copy_to_host(target, address)
    memory.synchronize()
    np.testing.assert_array_equal(target, source)
    assert target.flags.c_contiguous and target.dtype == np.dtype(dtype) and target.shape == shape


@needs_gpu
def test_many_frames_reuse_the_same_buffers(memory: CudaMemory) -> None:
    host_in, host_out = memory.pinned_array((256, 256), "float32"), memory.pinned_array((256, 256), "float32")
    address = memory.device_buffer(host_in.nbytes)
    for frame in range(50):
        host_in[...] = frame
        memory.copy_to_device(address, host_in)
        memory.copy_to_host(host_out, address)
        memory.synchronize()
        assert host_out[0, 0] == frame and host_out[-1, -1] == frame


@needs_gpu
def test_a_recorded_graph_replays_its_copies_on_the_current_contents(memory: CudaMemory) -> None:
    host_in, host_out = memory.pinned_array((256, 256), "float32"), memory.pinned_array((256, 256), "float32")
    address = memory.device_buffer(host_in.nbytes)
    host_in[...], host_out[...] = 1, 0

    def round_trip() -> None:
        memory.copy_to_device(address, host_in)
        memory.copy_to_host(host_out, address)

    launch = memory.capture(round_trip)
    if launch is None:
        pytest.skip(f"the {memory.implementation} binding records no CUDA graphs")
    memory.synchronize()
    assert host_out[0, 0] == 0, "recording runs nothing"
    for frame in range(2, 6):
        host_in[...] = frame
        launch()
        memory.synchronize()
        assert host_out[0, 0] == frame and host_out[-1, -1] == frame


@needs_gpu
def test_a_recording_that_synchronises_is_refused_and_the_stream_still_works(memory: CudaMemory) -> None:
    if memory.implementation != "cuda-python":
        pytest.skip(f"the {memory.implementation} binding records no CUDA graphs")
    with pytest.raises(CudaError):
        memory.capture(memory.synchronize)
    source, target = memory.pinned_array((64,), "float32"), memory.pinned_array((64,), "float32")
    source[...] = 3
    address = memory.device_buffer(source.nbytes)
    memory.copy_to_device(address, source)
    memory.copy_to_host(target, address)
    memory.synchronize()
    assert target[0] == 3


@needs_gpu
def test_works_from_another_thread(memory: CudaMemory) -> None:
    source, target = memory.pinned_array((1024,), "float32"), memory.pinned_array((1024,), "float32")
    source[...] = np.arange(1024)
    address = memory.device_buffer(source.nbytes)
    errors: list[BaseException] = []

    def copy() -> None:
        try:
            with memory.active():
                memory.copy_to_device(address, source)
                memory.copy_to_host(target, address)
                memory.synchronize()
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=copy)
    worker.start()
    worker.join()
    assert not errors, errors
    np.testing.assert_array_equal(target, source)


@needs_gpu
def test_a_failing_cuda_call_raises_cuda_error(memory: CudaMemory) -> None:
    with pytest.raises(CudaError, match="failed"):
        memory.device_buffer(1 << 52)  # 4 PiB: no GPU has that much


@needs_gpu
def test_sizes_and_addresses_are_checked(memory: CudaMemory) -> None:
    address = memory.device_buffer(64)
    with pytest.raises(ValueError, match="overruns the device buffer of 64 bytes"):
        memory.copy_to_device(address, memory.pinned_array((32,), "float32"))
    with pytest.raises(ValueError, match="overruns"):
        memory.copy_to_device(address + 4, memory.pinned_array((16,), "float32"))
    with pytest.raises(ValueError, match="not inside a device buffer"):
        memory.copy_to_device(address + 64, memory.pinned_array((1,), "float32"))
    memory.copy_to_device(address + 4, memory.pinned_array((15,), "float32"))
    memory.synchronize()


@needs_gpu
def test_elapsed_ms_times_the_queued_work(memory: CudaMemory) -> None:
    small, large = memory.pinned_array((1024,), "uint8"), memory.pinned_array((64 << 20,), "uint8")
    small_address, large_address = memory.device_buffer(small.nbytes), memory.device_buffer(large.nbytes)
    quick = memory.elapsed_ms(lambda: memory.copy_to_device(small_address, small))
    slow = memory.elapsed_ms(lambda: memory.copy_to_device(large_address, large))
    assert 0.0 <= quick < slow, (quick, slow)  # 64 MiB over PCIe takes milliseconds, 1 KiB microseconds


@needs_gpu
def test_gpu_count_sees_the_gpu() -> None:
    count, how = gpu_count()
    assert count >= 1, how


# --- the cuda-python implementation against the double (runs everywhere) ----------------------------------------


def test_double_round_trip_and_bookkeeping(fake_gpu: trt_double.FakeGpu) -> None:
    memory = open_cuda_memory()
    assert isinstance(memory, CudaPythonMemory), "pycuda is hidden, so cuda-python is chosen"
    assert memory.device_info() == DeviceInfo(0, "Fake GPU", (8, 7))
    source = memory.pinned_array((4, 5), "float32")
    source[...] = np.arange(20).reshape(4, 5)
    target = memory.pinned_array((4, 5), "float32")
    address = memory.device_buffer(source.nbytes)
    memory.copy_to_device(address, source)
    memory.copy_to_host(target, address)
    assert not np.array_equal(target, source), "nothing arrives before the stream is synchronized"
    memory.synchronize()
    np.testing.assert_array_equal(target, source)
    memory.close()
    memory.close()
    assert not fake_gpu.device and not fake_gpu.pinned and not fake_gpu.streams


def test_double_elapsed_ms_waits_for_the_work_between_the_events(fake_gpu: trt_double.FakeGpu) -> None:
    memory = open_cuda_memory()
    ran: list[str] = []
    stream = memory.stream_handle

    def work() -> None:
        fake_gpu.enqueue(stream, lambda: (time.sleep(0.02), ran.append("work")))

    milliseconds = memory.elapsed_ms(work)
    assert ran == ["work"] and 15.0 < milliseconds < 2000.0
    memory.close()


@pytest.mark.parametrize(
    "call, action",
    [
        ("cudaMalloc", lambda memory: memory.device_buffer(16)),
        ("cudaMallocHost", lambda memory: memory.pinned_array((4,), "float32")),
        ("cudaStreamSynchronize", lambda memory: memory.synchronize()),
    ],
)
def test_double_every_return_code_is_checked(fake_gpu: trt_double.FakeGpu, call: str, action) -> None:
    memory = open_cuda_memory()
    fake_gpu.fail_next[call] = trt_double.cudaError_t.cudaErrorMemoryAllocation
    with pytest.raises(CudaError, match=f"{call} failed: cudaErrorMemoryAllocation"):
        action(memory)
    memory.close()


def test_double_no_device_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    trt_double.install(monkeypatch, gpu=trt_double.FakeGpu(device_count=0))
    with pytest.raises(CudaUnavailableError, match="device 0 does not exist .cudaGetDeviceCount: cudaErrorNoDevice"):
        open_cuda_memory()
    assert gpu_count()[0] == 0


def test_double_no_driver_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """cuda-python 11.x raises RuntimeError where libcuda.so.1 is missing, instead of returning an error code."""
    gpu = trt_double.install(monkeypatch)
    runtime = sys.modules["cuda.bindings.runtime"]

    def no_driver() -> tuple[object, ...]:
        raise RuntimeError("Failed to dlopen libcuda.so.1")

    monkeypatch.setattr(runtime, "cudaGetDeviceCount", no_driver)
    with pytest.raises(CudaUnavailableError, match="Failed to dlopen libcuda.so.1"):
        open_cuda_memory()
    assert gpu_count()[0] == 0 and gpu.device_count == 1


def test_neither_binding_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pycuda", "pycuda.driver", "cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, name, None)
    assert installed_implementations() == []
    with pytest.raises(CudaUnavailableError, match="pip install cuda-python.*pycuda"):
        open_cuda_memory()
    count, how = gpu_count()
    assert count == 0 and "neither pycuda nor cuda-python" in how
    with pytest.raises(ValueError, match="unknown CUDA implementation"):
        open_cuda_memory(implementation="opencl")
