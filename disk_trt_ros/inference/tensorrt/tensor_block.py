# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""An engine's inputs (or outputs) side by side in one pinned host allocation and one device allocation.

Laid out so, all inputs cross to the device in one copy and all outputs to the host in one. Each tensor starts at a
multiple of :data:`ALIGNMENT` bytes, as TensorRT's bindings need.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

import numpy as np

from disk_trt_ros.contract import TensorSpec
from disk_trt_ros.inference.tensorrt.cuda_memory import CudaMemory

ALIGNMENT = 256


@dataclasses.dataclass(frozen=True)
class TensorBlock:
    """Tensors by name: ``host`` views into one pinned byte array, ``device`` addresses into one device buffer.

    Attributes:
        host: each tensor's pinned array, in its spec's shape and dtype (a view into ``host_bytes``).
        device: each tensor's device address (inside the buffer at ``device_address``).
        host_bytes: the whole pinned allocation, ``uint8 [nbytes]``.
        device_address: the device buffer's address; it has ``host_bytes.nbytes`` bytes.
    """

    host: dict[str, np.ndarray]
    device: dict[str, int]
    host_bytes: np.ndarray
    device_address: int

    @classmethod
    def allocate(cls, cuda: CudaMemory, specs: Iterable[TensorSpec]) -> TensorBlock:
        """Allocate both sides for ``specs`` (freed by ``cuda.close()``)."""
        offsets: dict[str, int] = {}
        end = 0
        specs = list(specs)
        for spec in specs:
            offsets[spec.name] = end
            end += -(-_nbytes(spec) // ALIGNMENT) * ALIGNMENT
        host_bytes = cuda.pinned_array((end,), np.uint8)
        device_address = cuda.device_buffer(end)
        host = {}
        for spec in specs:
            start = offsets[spec.name]
            host[spec.name] = host_bytes[start:start + _nbytes(spec)].view(spec.dtype).reshape(spec.shape)
        device = {spec.name: device_address + offsets[spec.name] for spec in specs}
        return cls(host, device, host_bytes, device_address)

    def fill(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Copy each array (its tensor's shape, or one that reshapes to it; any dtype numpy casts safely to the
        tensor's) into its pinned array."""
        for name, array in arrays.items():
            host = self.host[name]
            source = np.asarray(array)
            if source.size != host.size:
                raise ValueError(f"tensor '{name}' holds {host.size} values, the array {source.size}")
            np.copyto(host, source.reshape(host.shape))

    def upload(self, cuda: CudaMemory) -> None:
        """Queue one copy of the whole pinned block to the device."""
        cuda.copy_to_device(self.device_address, self.host_bytes)

    def download(self, cuda: CudaMemory) -> None:
        """Queue one copy of every tensor to its pinned array (read them after ``cuda.synchronize()``)."""
        cuda.copy_to_host(self.host_bytes, self.device_address)


def _nbytes(spec: TensorSpec) -> int:
    return int(np.prod(spec.shape, dtype=np.int64)) * np.dtype(spec.dtype).itemsize
