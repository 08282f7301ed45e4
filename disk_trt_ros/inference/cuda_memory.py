"""Device memory, pinned host buffers and one stream, through pycuda or cuda-python, whichever is installed.

The TensorRT backend needs little from CUDA: allocate device buffers once, copy a frame in and the results out
asynchronously on one stream, and wait for the stream. :class:`CudaMemory` is that much and no more, with two
implementations: :class:`PyCudaMemory` (pycuda, the design card's choice; it ships with no wheels and is built
from source where the CUDA toolkit is installed) and :class:`CudaPythonMemory` (NVIDIA's cuda-python, wheels on
PyPI; the ``cuda.bindings.runtime`` layout of 12.x/13.x and the older ``cuda.cudart`` one).

Every CUDA call's status is checked: a failure raises :class:`CudaError` naming the call and CUDA's own message.
Allocations live until :meth:`CudaMemory.close`; pinned arrays must not be used after it.
"""

from __future__ import annotations

import abc
import contextlib
import ctypes
import dataclasses
import importlib
from types import ModuleType
from typing import Any, Iterator

import numpy as np

from disk_trt_ros.errors import CudaError, CudaUnavailableError

IMPLEMENTATIONS = ("pycuda", "cuda-python")
INSTALL_HINT = (
    "install cuda-python (`pip install cuda-python`, matching your CUDA major version) or pycuda "
    "(`pip install pycuda`, builds from source against the CUDA toolkit; on a Jetson it comes with JetPack's "
    "CUDA toolkit installed)"
)


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """The GPU an engine runs on: TensorRT engines are specific to its name and compute capability."""

    index: int
    name: str
    compute_capability: tuple[int, int]

    @property
    def compute_capability_text(self) -> str:
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"


class CudaMemory(abc.ABC):
    """Device buffers, pinned host arrays and one stream on one GPU.

    Copies are asynchronous on :attr:`stream_handle`; call :meth:`synchronize` before reading a host array that a
    copy writes. Device buffers are plain addresses (``int``), as TensorRT takes them.
    """

    implementation: str

    def __init__(self) -> None:
        self._device_sizes: dict[int, int] = {}

    @abc.abstractmethod
    def device_info(self) -> DeviceInfo:
        """Name and compute capability of the GPU this object allocates on."""

    @property
    @abc.abstractmethod
    def stream_handle(self) -> int:
        """The stream's ``cudaStream_t`` as an integer (what TensorRT's ``execute_async_*`` take)."""

    @abc.abstractmethod
    def _allocate_device(self, nbytes: int) -> int: ...

    @abc.abstractmethod
    def pinned_array(self, shape: tuple[int, ...], dtype: np.dtype | str) -> np.ndarray:
        """A C-contiguous array in page-locked host memory (fast, truly asynchronous copies)."""

    @abc.abstractmethod
    def _copy_to_device(self, address: int, host: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _copy_to_host(self, host: np.ndarray, address: int) -> None: ...

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Wait until everything queued on the stream has finished."""

    @abc.abstractmethod
    def close(self) -> None:
        """Free every buffer and the stream; safe to call twice."""

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Make this object's GPU current in the calling thread for the duration (needed before CUDA calls from a
        thread other than the one that created the object)."""
        yield

    def device_buffer(self, nbytes: int) -> int:
        """Allocate ``nbytes`` of device memory; returns its address. Freed by :meth:`close`."""
        if nbytes <= 0:
            raise ValueError(f"device buffer size must be positive, got {nbytes}")
        address = self._allocate_device(nbytes)
        self._device_sizes[address] = nbytes
        return address

    def copy_to_device(self, address: int, host: np.ndarray) -> None:
        """Queue a copy of ``host`` (C-contiguous) to the device buffer at ``address``."""
        self._check_copy(address, host)
        self._copy_to_device(address, host)

    def copy_to_host(self, host: np.ndarray, address: int) -> None:
        """Queue a copy of the device buffer at ``address`` into ``host`` (C-contiguous, writable)."""
        self._check_copy(address, host)
        if not host.flags.writeable:
            raise ValueError("the host array of a device-to-host copy must be writable")
        self._copy_to_host(host, address)

    def _check_copy(self, address: int, host: np.ndarray) -> None:
        if address not in self._device_sizes:
            raise ValueError(f"0x{address:x} is not a device buffer allocated by this {type(self).__name__}")
        if not host.flags.c_contiguous:
            raise ValueError("host arrays must be C-contiguous for a CUDA copy")
        if host.nbytes != self._device_sizes[address]:
            raise ValueError(
                f"host array has {host.nbytes} bytes, the device buffer {self._device_sizes[address]}: sizes must match"
            )

    def __enter__(self) -> "CudaMemory":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class CudaPythonMemory(CudaMemory):
    """:class:`CudaMemory` over cuda-python's runtime API (``cudart``), which uses the device's primary context, as
    TensorRT does."""

    implementation = "cuda-python"

    def __init__(self, runtime: ModuleType, device: int = 0) -> None:
        super().__init__()
        self._runtime = runtime
        self._device = device
        self._pinned: list[int] = []
        self._stream: Any = None
        count, problem = cuda_python_device_count(runtime)
        if not 0 <= device < count:
            raise CudaUnavailableError(f"CUDA device {device} does not exist ({problem or f'{count} visible'})")
        self._call("cudaSetDevice", device)
        (self._stream,) = self._call("cudaStreamCreate")

    def _call(self, name: str, *args: Any) -> tuple[Any, ...]:
        return check_cuda_python(self._runtime, name, getattr(self._runtime, name)(*args))

    def device_info(self) -> DeviceInfo:
        (properties,) = self._call("cudaGetDeviceProperties", self._device)
        name = properties.name
        if isinstance(name, bytes):
            name = name.split(b"\0", 1)[0].decode(errors="replace")
        return DeviceInfo(self._device, str(name), (int(properties.major), int(properties.minor)))

    @property
    def stream_handle(self) -> int:
        return int(self._stream)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        self._call("cudaSetDevice", self._device)
        yield

    def _allocate_device(self, nbytes: int) -> int:
        (address,) = self._call("cudaMalloc", nbytes)
        return int(address)

    def pinned_array(self, shape: tuple[int, ...], dtype: np.dtype | str) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes <= 0:
            raise ValueError(f"pinned array shape {shape} holds no elements")
        (address,) = self._call("cudaMallocHost", nbytes)
        address = int(address)
        self._pinned.append(address)
        raw = (ctypes.c_uint8 * nbytes).from_address(address)
        return np.frombuffer(raw, dtype=dtype).reshape(shape)

    def _copy_to_device(self, address: int, host: np.ndarray) -> None:
        kind = self._runtime.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call("cudaMemcpyAsync", address, host.ctypes.data, host.nbytes, kind, self._stream)

    def _copy_to_host(self, host: np.ndarray, address: int) -> None:
        kind = self._runtime.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call("cudaMemcpyAsync", host.ctypes.data, address, host.nbytes, kind, self._stream)

    def synchronize(self) -> None:
        self._call("cudaStreamSynchronize", self._stream)

    def close(self) -> None:
        if self._stream is None:
            return
        self._call("cudaStreamSynchronize", self._stream)
        for address in self._device_sizes:
            self._call("cudaFree", address)
        for address in self._pinned:
            self._call("cudaFreeHost", address)
        self._call("cudaStreamDestroy", self._stream)
        self._device_sizes.clear()
        self._pinned.clear()
        self._stream = None


class PyCudaMemory(CudaMemory):
    """:class:`CudaMemory` over pycuda's driver API, in the device's primary context (shared with TensorRT)."""

    implementation = "pycuda"

    def __init__(self, driver: ModuleType, device: int = 0) -> None:
        super().__init__()
        self._driver = driver
        self._allocations: list[Any] = []
        self._host_allocations: list[np.ndarray] = []
        with self._errors("cuInit"):
            driver.init()
            count = driver.Device.count()
        if not 0 <= device < count:
            raise CudaUnavailableError(f"CUDA device {device} does not exist ({count} visible)")
        with self._errors("cuDevicePrimaryCtxRetain"):
            self._device = driver.Device(device)
            self._context = self._device.retain_primary_context()
        self._index = device
        with self.active(), self._errors("cuStreamCreate"):
            self._stream = driver.Stream()

    @contextlib.contextmanager
    def _errors(self, call: str) -> Iterator[None]:
        try:
            yield
        except self._driver.Error as error:
            raise CudaError(f"{call} failed: {error}") from error

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        with self._errors("cuCtxPushCurrent"):
            self._context.push()
        try:
            yield
        finally:
            with self._errors("cuCtxPopCurrent"):
                self._driver.Context.pop()

    def device_info(self) -> DeviceInfo:
        with self._errors("cuDeviceGetName"):
            name = self._device.name()
            major, minor = self._device.compute_capability()
        return DeviceInfo(self._index, name, (int(major), int(minor)))

    @property
    def stream_handle(self) -> int:
        return int(self._stream.handle)

    def _allocate_device(self, nbytes: int) -> int:
        with self.active(), self._errors("cuMemAlloc"):
            allocation = self._driver.mem_alloc(nbytes)
        self._allocations.append(allocation)
        return int(allocation)

    def pinned_array(self, shape: tuple[int, ...], dtype: np.dtype | str) -> np.ndarray:
        with self.active(), self._errors("cuMemHostAlloc"):
            array = self._driver.pagelocked_empty(shape, np.dtype(dtype))
        self._host_allocations.append(array)
        return array

    def _copy_to_device(self, address: int, host: np.ndarray) -> None:
        with self.active(), self._errors("cuMemcpyHtoDAsync"):
            self._driver.memcpy_htod_async(address, host, self._stream)

    def _copy_to_host(self, host: np.ndarray, address: int) -> None:
        with self.active(), self._errors("cuMemcpyDtoHAsync"):
            self._driver.memcpy_dtoh_async(host, address, self._stream)

    def synchronize(self) -> None:
        with self.active(), self._errors("cuStreamSynchronize"):
            self._stream.synchronize()

    def close(self) -> None:
        if self._stream is None:
            return
        with self.active():
            with self._errors("cuStreamSynchronize"):
                self._stream.synchronize()
            with self._errors("cuMemFree"):
                for allocation in self._allocations:
                    allocation.free()
            with self._errors("cuMemFreeHost"):
                for array in self._host_allocations:
                    array.base.free()
        self._allocations.clear()
        self._host_allocations.clear()
        self._device_sizes.clear()
        self._stream = None
        self._context.detach()


def check_cuda_python(runtime: ModuleType, call: str, result: Any) -> tuple[Any, ...]:
    """Return the values after the status of a cuda-python result tuple; raise :class:`CudaError` on failure."""
    status, *values = result if isinstance(result, tuple) else (result,)
    if status != runtime.cudaError_t.cudaSuccess:
        _, name = runtime.cudaGetErrorName(status)
        _, description = runtime.cudaGetErrorString(status)
        raise CudaError(f"{call} failed: {_text(name)} ({_text(description)})")
    return tuple(values)


def cuda_python_device_count(runtime: ModuleType) -> tuple[int, str | None]:
    """Visible devices, and CUDA's error when it reports none (no GPU, no driver) instead of a count."""
    status, *values = runtime.cudaGetDeviceCount()
    if status != runtime.cudaError_t.cudaSuccess:
        return 0, f"cudaGetDeviceCount: {_text(runtime.cudaGetErrorName(status)[1])}"
    return int(values[0]), None


def import_cuda_python() -> ModuleType:
    """cuda-python's runtime module: ``cuda.bindings.runtime`` (12.x/13.x) or ``cuda.cudart`` (older)."""
    try:
        return importlib.import_module("cuda.bindings.runtime")
    except ImportError:
        return importlib.import_module("cuda.cudart")


def import_pycuda() -> ModuleType:
    return importlib.import_module("pycuda.driver")


def _import(implementation: str) -> ModuleType:
    return import_pycuda() if implementation == "pycuda" else import_cuda_python()


def installed_implementations() -> list[str]:
    """The implementations that import here, in order of preference."""
    installed = []
    for implementation in IMPLEMENTATIONS:
        try:
            _import(implementation)
        except ImportError:
            continue
        installed.append(implementation)
    return installed


def gpu_count() -> tuple[int, str]:
    """Number of visible CUDA devices and how that was found out (or why it is 0)."""
    implementations = installed_implementations()
    if not implementations:
        return 0, f"neither pycuda nor cuda-python is installed ({INSTALL_HINT})"
    implementation = implementations[0]
    module = _import(implementation)
    if implementation == "pycuda":
        try:
            module.init()
            count = module.Device.count()
        except module.Error as error:
            return 0, f"pycuda found no usable CUDA driver ({error})"
    else:
        count, problem = cuda_python_device_count(module)
        if problem:
            return 0, f"cuda-python found no usable CUDA device ({problem})"
    return count, f"{implementation} sees {count} CUDA device(s)"


def open_cuda_memory(device: int = 0, implementation: str | None = None) -> CudaMemory:
    """A :class:`CudaMemory` on ``device`` with ``implementation`` (default: pycuda if installed, else cuda-python).

    Raises:
        CudaUnavailableError: neither implementation is installed (the message says what to install), the chosen
            one is not, or the device does not exist.
    """
    if implementation is not None and implementation not in IMPLEMENTATIONS:
        raise ValueError(f"unknown CUDA implementation {implementation!r}; choose one of {', '.join(IMPLEMENTATIONS)}")
    candidates = [implementation] if implementation else installed_implementations()
    if not candidates:
        raise CudaUnavailableError(f"the TensorRT backend needs a CUDA Python binding: {INSTALL_HINT}")
    chosen = candidates[0]
    try:
        module = _import(chosen)
    except ImportError as error:
        raise CudaUnavailableError(f"{chosen} is not installed ({error}); {INSTALL_HINT}") from error
    if chosen == "pycuda":
        return PyCudaMemory(module, device)
    return CudaPythonMemory(module, device)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
