# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Building a serialized engine from an exported ONNX model with TensorRT's builder (TensorRT 8.2 to 10.x).

:func:`compile_engine` is the only call into the builder: parse, configure (workspace, precision, the model's
precision policy, timing cache), build, with progress lines throughout and TensorRT's warnings kept.

An fp16 build enables FP16 and keeps the layers the model's :class:`~disk_trt_ros.contract.PrecisionPolicy` names in
float32: strict, or TF32 where the policy allows it (TF32 is off in every other build). Where TensorRT takes uint8
network inputs (8.5 on), a float32 image input is bound as uint8: the model's first operation casts it to float anyway,
and a frame then crosses to the GPU as a quarter of the bytes with no conversion on the CPU.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from disk_trt_ros.atomic import atomic_write_bytes
from disk_trt_ros.contract import Precision, PrecisionPolicy
from disk_trt_ros.errors import EngineCacheError, OptionsError
from disk_trt_ros.files import MAX_MODEL_BYTES, read_regular_file
from disk_trt_ros.inference.tensorrt.network_setup import apply_precision_policy, bind_image_as_uint8
from disk_trt_ros.inference.tensorrt.progress import Progress
from disk_trt_ros.inference.tensorrt.runtime import import_tensorrt, recording_logger, register_plugins, tensorrt_major
from disk_trt_ros.inference.tensorrt.signals import signals_end_process

DEFAULT_WORKSPACE_MIB = 1024


@dataclasses.dataclass(frozen=True)
class BuildSettings:
    """How to build: precision, builder workspace limit, optional timing cache file.

    ``workspace_mib=None`` builds with :data:`DEFAULT_WORKSPACE_MIB` and accepts a cached engine built with any
    workspace limit (the limit bounds the builder's scratch memory; it does not change what the engine computes).
    A precision given as a string is converted to :class:`~disk_trt_ros.contract.Precision`. ``tactic_sources``
    names the ``trt.TacticSource`` members to enable (empty: TensorRT's default), for a machine that lacks one of
    the libraries behind them (cuBLAS, say).
    """

    precision: Precision = Precision.FP16
    workspace_mib: int | None = None
    timing_cache: Path | None = None
    tactic_sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.precision not in Precision.values():
            raise OptionsError(f"precision {self.precision!r}: choose one of {', '.join(Precision.values())}")
        object.__setattr__(self, "precision", Precision(self.precision))
        if self.workspace_mib is not None and self.workspace_mib <= 0:
            raise OptionsError(f"workspace must be a positive number of MiB, got {self.workspace_mib}")

    @property
    def effective_workspace_mib(self) -> int:
        return DEFAULT_WORKSPACE_MIB if self.workspace_mib is None else self.workspace_mib

    def builder_flags(self, policy: PrecisionPolicy = PrecisionPolicy()) -> list[str]:
        """The reduced-precision ``BuilderFlag``s the build enables for a model with ``policy``: FP16 for fp16, and
        TF32 as well where the policy lets its float32 layers use it; none for fp32. TF32 (on by default from Ampere
        on) is cleared in every other case: it changes keypoints where fp32 is asked for."""
        if self.precision is not Precision.FP16:
            return []
        return ["FP16", "TF32"] if policy.tf32 else ["FP16"]


@dataclasses.dataclass(frozen=True)
class CompiledEngine:
    """A serialized engine and what its build said.

    Attributes:
        data: the serialized engine.
        input_dtype: numpy dtype name of the engine's ``image`` binding (``uint8`` where TensorRT takes it).
        fp32_layers: how many layers the precision policy kept in float32 (0 for fp32 builds).
        warnings: TensorRT's warnings and errors during parsing and building.
    """

    data: bytes
    input_dtype: str
    fp32_layers: int
    warnings: list[str]


def compile_engine(
    onnx_path: Path, settings: BuildSettings, progress: Progress, policy: PrecisionPolicy = PrecisionPolicy()
) -> CompiledEngine:
    """Parse ``onnx_path`` with TensorRT's ONNX parser and build a serialized engine: the one call into the builder.

    Works with TensorRT 8.2 to 10.x: explicit-batch network flag before 10 (the only mode from 10 on), workspace
    limit through ``set_memory_pool_limit`` (8.4+) or ``max_workspace_size`` (8.2/8.3), precision constraints through
    ``OBEY_PRECISION_CONSTRAINTS`` (8.4+) or ``STRICT_TYPES``, and TensorRT's progress monitor where it exists (10.x).
    Loads and saves ``settings.timing_cache`` when given.
    """
    trt = import_tensorrt()
    logger = recording_logger(trt, emit=lambda line: progress(f"TensorRT {line}"))
    register_plugins(trt, logger)
    builder = trt.Builder(logger)
    network_flags = 0 if tensorrt_major(trt) >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(network_flags)
    parser = trt.OnnxParser(network, logger)
    progress(f"parsing {onnx_path} with TensorRT {trt.__version__}'s ONNX parser")
    if not parser.parse(read_regular_file(onnx_path, MAX_MODEL_BYTES, "ONNX model"), str(onnx_path)):
        errors = "\n  ".join(_parser_error_text(parser.get_error(index)) for index in range(parser.num_errors))
        raise EngineCacheError(
            f"TensorRT {trt.__version__}'s ONNX parser rejected {onnx_path}:\n  {errors}\n"
            f"check the model with 'python -m disk_trt_ros check {onnx_path} --trt "
            f"{'8.2' if tensorrt_major(trt) < 10 else '10'}'; models exported with --trt-compat 8.2 build on every "
            "TensorRT from 8.2 on"
        )
    config = builder.create_builder_config()
    workspace_bytes = settings.effective_workspace_mib << 20
    if hasattr(config, "set_memory_pool_limit"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    else:
        config.max_workspace_size = workspace_bytes
    if settings.precision is Precision.FP16 and not getattr(builder, "platform_has_fast_fp16", True):
        progress("warning: this GPU has no fast fp16 path; building fp16 anyway")
    flags = settings.builder_flags(policy)
    for name in ("FP16", "TF32"):
        if name in flags:
            config.set_flag(getattr(trt.BuilderFlag, name))
        else:
            config.clear_flag(getattr(trt.BuilderFlag, name))
    fp32_layers = apply_precision_policy(trt, network, config, policy) if settings.precision is Precision.FP16 else 0
    if fp32_layers:
        progress(f"keeping {fp32_layers} layers in {'TF32' if policy.tf32 else 'float32'} (the model's precision "
                 "policy)")
    input_dtype = bind_image_as_uint8(trt, network)
    if hasattr(trt, "ProfilingVerbosity"):  # layer names, types and precisions for the engine inspector
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if settings.tactic_sources:
        config.set_tactic_sources(_tactic_source_mask(trt, settings.tactic_sources))
    config.set_timing_cache(_load_timing_cache(config, settings.timing_cache, progress), False)
    monitor = _progress_monitor(trt, progress) if hasattr(trt, "IProgressMonitor") else None
    if monitor is not None:
        config.progress_monitor = monitor
    with signals_end_process():  # announced inside: once the line is out, Ctrl-C ends the build at once
        progress(
            f"building the {settings.precision} engine (workspace {settings.effective_workspace_mib} MiB); "
            "this takes minutes, on a Jetson up to a quarter of an hour"
        )
        with progress.heartbeat("building the engine"):
            serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineCacheError(f"TensorRT could not build an engine from {onnx_path}; its messages above say why")
    if settings.timing_cache is not None:
        _save_timing_cache(config.get_timing_cache(), settings.timing_cache, progress)
    return CompiledEngine(bytes(serialized), input_dtype, fp32_layers, list(logger.messages))


def _tactic_source_mask(trt: ModuleType, names: tuple[str, ...]) -> int:
    known = [name for name in dir(trt.TacticSource) if name.isupper()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise EngineCacheError(
            f"unknown tactic source(s) {', '.join(unknown)}; TensorRT {trt.__version__} has {', '.join(known)}"
        )
    return sum(1 << int(getattr(trt.TacticSource, name)) for name in names)


def _parser_error_text(error: Any) -> str:
    return f"node {error.node()}: {error.desc()}"


def _load_timing_cache(config: Any, path: Path | None, progress: Progress) -> Any:
    data = b""
    if path is not None:
        try:
            data = read_regular_file(path, MAX_MODEL_BYTES, "timing cache")
        except FileNotFoundError:
            pass
        except OSError as error:  # FileRefusedError too: a FIFO, a device, a directory
            progress(f"warning: cannot read timing cache {path} ({error}); starting an empty one")
    try:
        cache = config.create_timing_cache(data) if data else None
    except (RuntimeError, TypeError, ValueError):  # versions differ in how they refuse a foreign cache
        cache = None
    if data and cache is None:
        progress(f"warning: timing cache {path} is not usable by this TensorRT; starting an empty one")
    return cache if cache is not None else config.create_timing_cache(b"")


def _save_timing_cache(cache: Any, path: Path, progress: Progress) -> None:
    try:
        atomic_write_bytes(path, bytes(cache.serialize()))
    except OSError as error:
        progress(f"warning: cannot write timing cache {path} ({error.strerror}); the engine is not affected")
        return
    progress(f"saved timing cache {path}")


def _progress_monitor(trt: ModuleType, progress: Progress) -> Any:
    """A ``trt.IProgressMonitor`` (TensorRT 10) reporting the start and end of the builder's outer phases."""

    class BuildPhases(trt.IProgressMonitor):  # type: ignore[name-defined, misc]
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._depth: dict[str, int] = {}
            self._started: dict[str, float] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            depth = 0 if parent_phase is None else self._depth.get(parent_phase, 0) + 1
            self._depth[phase_name] = depth
            self._started[phase_name] = time.monotonic()
            if depth <= 1:
                progress(f"{'  ' * depth}{phase_name} ({num_steps} steps)")

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True

        def phase_finish(self, phase_name: str) -> None:
            depth = self._depth.pop(phase_name, 0)
            started = self._started.pop(phase_name, time.monotonic())
            if depth <= 1:
                progress(f"{'  ' * depth}{phase_name} done in {time.monotonic() - started:.1f} s")

    return BuildPhases()
