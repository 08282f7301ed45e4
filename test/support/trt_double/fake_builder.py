# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The builder half of the ``tensorrt`` double: ONNX parser, builder config (workspace, flags, timing cache) and
builder. A "serialized engine" is the ONNX model behind a header naming the TensorRT version, the GPU, the builder
flags set, the layers constrained to float32 or float16 and those whose outputs were set to float32 (``trt.builds``
and ``TRT_DOUBLE_BUILD_LOG`` get the same header)."""

from __future__ import annotations

import json
import os
import time
from types import ModuleType

from support.trt_double.fake_network import Network
from support.trt_double.gpu import FakeGpu
from support.trt_double.tensorrt_types import (
    ENGINE_MAGIC,
    PLUGIN_CREATORS,
    TIMING_CACHE_MAGIC,
    BuilderFlag,
    DataType,
    MemoryPoolType,
    NetworkDefinitionCreationFlag,
    version_tuple,
)


def plugin_layers(onnx_bytes: bytes) -> list[str]:
    """The plugin creators an engine of this ONNX model needs (TensorRT 8.2-8.5 import these operators as plugins)."""
    import onnx

    operators = {node.op_type for node in onnx.load_from_string(onnx_bytes).graph.node}
    return sorted(PLUGIN_CREATORS[name] for name in operators & set(PLUGIN_CREATORS))


def add_builder(trt: ModuleType, gpu: FakeGpu, version: str) -> None:
    """Give ``trt`` the builder API of TensorRT ``version``: ``Builder``, ``OnnxParser`` and what they make."""
    major_minor = version_tuple(version)
    Logger = trt.Logger  # noqa: N806 - TensorRT's name

    class HostMemory(bytes):
        """``IHostMemory``: exposes the buffer protocol."""

    class TimingCache:
        def __init__(self, entries: list[str]) -> None:
            self.entries = entries

        def serialize(self) -> HostMemory:
            return HostMemory(TIMING_CACHE_MAGIC + json.dumps(self.entries).encode())

    class ParserError:
        def __init__(self, node: int, desc: str) -> None:
            self._node, self._desc = node, desc

        def node(self) -> int:
            return self._node

        def desc(self) -> str:
            return self._desc

        def code(self) -> int:
            return 1

    class OnnxParser:
        """Accepts what onnx can load, except uint8 inputs before 8.5 and ``Mod`` nodes before 10."""

        def __init__(self, network: Network, logger: Logger) -> None:
            self._network, self._errors = network, []

        @property
        def num_errors(self) -> int:
            return len(self._errors)

        def get_error(self, index: int) -> ParserError:
            return self._errors[index]

        def parse(self, model: bytes, path: str | None = None) -> bool:
            import onnx

            self._errors = []
            if major_minor < (10, 0) and not self._network.flags & (
                1 << int(NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
            ):
                self._errors.append(ParserError(-1, "the ONNX parser only supports networks with an explicit batch"))
                return False
            try:
                graph = onnx.load_from_string(bytes(model)).graph
            except Exception as error:
                self._errors.append(ParserError(-1, f"failed to parse ONNX model: {error}"))
                return False
            for tensor in graph.input:
                if tensor.type.tensor_type.elem_type == onnx.TensorProto.UINT8 and major_minor < (8, 5):
                    self._errors.append(ParserError(-1, f"input '{tensor.name}' has unsupported type UINT8"))
            for index, node in enumerate(graph.node):
                if node.op_type == "Mod" and major_minor < (10, 0):
                    self._errors.append(ParserError(index, f"no importer registered for op: {node.op_type}"))
            for name in self._network.populate(bytes(model)):
                self._errors.append(ParserError(-1, f"tensor '{name}' has a type TensorRT does not support"))
            return not self._errors

    class BuilderConfig:
        def __init__(self) -> None:
            self.flags: set[BuilderFlag] = {BuilderFlag.TF32}  # TensorRT's default
            self.pool_limits: dict[MemoryPoolType, int] = {}
            self.timing_cache: TimingCache | None = None
            self.tactic_sources: int | None = None  # None: TensorRT's default
            if major_minor >= (10, 0):
                self.progress_monitor = None

        def set_tactic_sources(self, tactic_sources: int) -> bool:
            self.tactic_sources = tactic_sources
            return True

        def set_flag(self, flag: BuilderFlag) -> None:
            self.flags.add(flag)

        def clear_flag(self, flag: BuilderFlag) -> None:
            self.flags.discard(flag)

        def get_flag(self, flag: BuilderFlag) -> bool:
            return flag in self.flags

        def create_timing_cache(self, serialized_timing_cache: bytes) -> TimingCache | None:
            data = bytes(serialized_timing_cache)
            if not data:
                return TimingCache([])
            if not data.startswith(TIMING_CACHE_MAGIC):
                return None
            return TimingCache(json.loads(data[len(TIMING_CACHE_MAGIC) :]))

        def set_timing_cache(self, cache: TimingCache, ignore_mismatch: bool) -> bool:
            self.timing_cache = cache
            return True

        def get_timing_cache(self) -> TimingCache | None:
            return self.timing_cache

    if major_minor < (10, 0):

        def _get_workspace(config: BuilderConfig) -> int:
            return config.pool_limits.get(MemoryPoolType.WORKSPACE, 0)

        def _set_workspace(config: BuilderConfig, size: int) -> None:
            config.pool_limits[MemoryPoolType.WORKSPACE] = size

        BuilderConfig.max_workspace_size = property(_get_workspace, _set_workspace)
    if major_minor >= (8, 4):

        def set_memory_pool_limit(config: BuilderConfig, pool: MemoryPoolType, pool_size: int) -> None:
            config.pool_limits[pool] = pool_size

        BuilderConfig.set_memory_pool_limit = set_memory_pool_limit

    class Builder:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger
            self.platform_has_fast_fp16 = True

        def create_network(self, flags: int = 0) -> Network:
            return Network(flags)

        def create_builder_config(self) -> BuilderConfig:
            return BuilderConfig()

        def build_serialized_network(self, network: Network, config: BuilderConfig) -> HostMemory | None:
            if network.onnx is None:
                self.logger.log(Logger.ERROR, "network has no layers")
                return None
            obeyed = {flag.name for flag in config.flags} & {"OBEY_PRECISION_CONSTRAINTS", "STRICT_TYPES"}
            for name in network.unbuildable_layers() if obeyed else ():
                self.logger.log(Logger.ERROR, f"Could not find any implementation for node {name}.")
                return None
            monitor = getattr(config, "progress_monitor", None)
            if monitor is not None:
                monitor.phase_start("Building engine", None, 2)
            time.sleep(float(os.environ.get("TRT_DOUBLE_BUILD_SECONDS", "0")))
            if monitor is not None:
                monitor.step_complete("Building engine", 0)
                monitor.step_complete("Building engine", 1)
                monitor.phase_finish("Building engine")
            header = {
                "tensorrt_version": version,
                "gpu_name": gpu.name,
                "flags": sorted(flag.name for flag in config.flags),
                "workspace": config.pool_limits.get(MemoryPoolType.WORKSPACE),
                "tactic_sources": config.tactic_sources,
                "plugins": plugin_layers(network.onnx) if major_minor < (8, 6) else [],
                "fp32_layers": network.layers_computing_in(DataType.FLOAT),
                "fp16_layers": network.layers_computing_in(DataType.HALF),
                "fp32_outputs": network.layers_with_float32_outputs(),
            }
            input_types = {tensor.name: tensor.dtype.name for tensor in network.inputs}
            trt.builds.append(header)
            if config.timing_cache is not None:
                config.timing_cache.entries.append(f"build {len(trt.builds)}")
            log = os.environ.get("TRT_DOUBLE_BUILD_LOG")
            if log:
                with open(log, "a") as stream:
                    stream.write(json.dumps(header) + "\n")
            encoded = json.dumps({**header, "input_types": input_types}).encode()
            return HostMemory(ENGINE_MAGIC + len(encoded).to_bytes(4, "little") + encoded + network.onnx)

    trt.Builder = Builder
    trt.OnnxParser = OnnxParser
