# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Which CUDA Python binding the TensorRT backend uses: pycuda if installed, else cuda-python; GPU discovery.

:func:`open_cuda_memory` is how the rest of the package gets a :class:`~.cuda_memory.CudaMemory`.
"""

from __future__ import annotations

from types import ModuleType

from disk_trt_ros.errors import CudaUnavailableError, OptionsError
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory
from disk_trt_ros.inference.tensorrt.cuda_python import CudaPythonMemory, cuda_python_device_count, import_cuda_python
from disk_trt_ros.inference.tensorrt.pycuda_memory import PyCudaMemory, import_pycuda

IMPLEMENTATIONS = ("pycuda", "cuda-python")
INSTALL_HINT = (
    "install cuda-python (`pip install cuda-python`, matching your CUDA major version) or pycuda "
    "(`pip install pycuda`, builds from source against the CUDA toolkit; on a Jetson it comes with JetPack's "
    "CUDA toolkit installed)"
)



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
        choices = ", ".join(IMPLEMENTATIONS)
        raise OptionsError(f"unknown CUDA implementation {implementation!r}; choose one of {choices}")
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
