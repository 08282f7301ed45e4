"""The TensorRT engine as a cached artefact of the ONNX model: build it, describe it, reuse it while it still fits.

``python -m disk_trt_ros build-engine --onnx M --engine E [--fp16|--fp32] [--workspace-mib N] [--timing-cache F]
[--if-needed]`` writes ``E`` and its sidecar ``E.json``, which records what the engine depends on (the ONNX file's
sha256, the TensorRT version, the GPU's name and compute capability, the precision and builder settings) and the
model's metadata (:meth:`~disk_trt_ros.contract.ModelInfo.to_metadata`: an engine file carries none).
``--if-needed`` rebuilds only when one of those differs, or the engine is missing, unreadable, does not match the
sidecar's sha256 or does not deserialize.

Files are written to a temporary name and renamed (:mod:`disk_trt_ros.atomic`), so a reader sees the old engine or
the whole new one. Builds of one engine are serialised by an exclusive ``flock`` on ``E.lock``: a second launch
waits, then finds the engine up to date. :func:`compile_engine` is the only call into TensorRT's builder.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import datetime
import fcntl
import hashlib
import importlib
import json
import os
import platform
import signal
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

from disk_trt_ros import __version__
from disk_trt_ros.atomic import atomic_write_bytes
from disk_trt_ros.contract import ModelInfo, Precision, read_onnx_model_info
from disk_trt_ros.errors import EngineCacheError, OptionsError, TensorRTUnavailableError
from disk_trt_ros.inference.cuda_memory import DeviceInfo, open_cuda_memory

DEFAULT_WORKSPACE_MIB = 1024
SIDECAR_VERSION = 1
HEARTBEAT_SECONDS = 30.0


def tensorrt_install_hint() -> str:
    if Path("/etc/nv_tegra_release").exists() or platform.machine() == "aarch64":
        return (
            "on a Jetson, TensorRT and its Python bindings come with JetPack (`sudo apt install nvidia-jetpack`, "
            "or `python3-libnvinfer` for the bindings); use the system Python or a venv made with "
            "--system-site-packages"
        )
    return (
        "on x86, `pip install tensorrt` (NVIDIA's wheels; they download from pypi.nvidia.com) or install NVIDIA's "
        "TensorRT packages (`sudo apt install tensorrt python3-libnvinfer` from NVIDIA's CUDA repository)"
    )


def import_tensorrt() -> ModuleType:
    """The ``tensorrt`` module, or :class:`TensorRTUnavailableError` saying what to install."""
    try:
        return importlib.import_module("tensorrt")
    except ImportError as error:
        raise TensorRTUnavailableError(f"TensorRT is not installed ({error}); {tensorrt_install_hint()}") from error


def tensorrt_major(trt: ModuleType) -> int:
    """Major version from ``trt.__version__`` (``"8.2.1.8"`` -> 8)."""
    try:
        return int(str(trt.__version__).split(".")[0])
    except ValueError as error:
        raise TensorRTUnavailableError(f"cannot read TensorRT's version from {trt.__version__!r}") from error


@dataclasses.dataclass(frozen=True)
class BuildSettings:
    """How to build: precision, builder workspace limit, optional timing cache file.

    ``workspace_mib=None`` builds with :data:`DEFAULT_WORKSPACE_MIB` and accepts a cached engine built with any
    workspace limit (the limit bounds the builder's scratch memory; it does not change what the engine computes).
    A precision given as a string is converted to :class:`~disk_trt_ros.contract.Precision`.
    """

    precision: Precision = Precision.FP16
    workspace_mib: int | None = None
    timing_cache: Path | None = None

    def __post_init__(self) -> None:
        if self.precision not in Precision.values():
            raise OptionsError(f"precision {self.precision!r}: choose one of {', '.join(Precision.values())}")
        object.__setattr__(self, "precision", Precision(self.precision))
        if self.workspace_mib is not None and self.workspace_mib <= 0:
            raise OptionsError(f"workspace must be a positive number of MiB, got {self.workspace_mib}")

    @property
    def effective_workspace_mib(self) -> int:
        return DEFAULT_WORKSPACE_MIB if self.workspace_mib is None else self.workspace_mib

    @property
    def builder_flags(self) -> list[str]:
        """The reduced-precision ``BuilderFlag``s the build enables: FP16 and TF32 for fp16; none for fp32 (TF32,
        on by default from Ampere on, is cleared so that fp32 means fp32)."""
        return ["FP16", "TF32"] if self.precision is Precision.FP16 else []


@dataclasses.dataclass(frozen=True)
class EngineRecord:
    """The sidecar: what an engine was built from and with, and the model's metadata."""

    engine_sha256: str
    onnx_sha256: str
    onnx_path: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    builder_flags: list[str]
    workspace_mib: int
    model_metadata: dict[str, str]
    package_version: str
    built_at: str
    build_seconds: float
    sidecar_version: int = SIDECAR_VERSION

    DEPENDENCIES = (
        "sidecar_version",
        "onnx_sha256",
        "tensorrt_version",
        "gpu_name",
        "compute_capability",
        "precision",
        "builder_flags",
        "workspace_mib",
        "model_metadata",
    )

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo.from_metadata(self.model_metadata)

    def dependencies(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.DEPENDENCIES}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "EngineRecord":
        """Parse a sidecar; raises :class:`ValueError` naming what is wrong."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("sidecar_version") != SIDECAR_VERSION:
            raise ValueError(
                f"sidecar version {data.get('sidecar_version')!r}, this disk_trt_ros writes {SIDECAR_VERSION}"
            )
        fields = {field.name: field for field in dataclasses.fields(cls)}
        missing = sorted(set(fields) - set(data))
        if missing:
            raise ValueError(f"missing keys: {', '.join(missing)}")
        expected_types = {
            "builder_flags": list,
            "model_metadata": dict,
            "workspace_mib": int,
            "build_seconds": (int, float),
        }
        for name in fields:
            expected = expected_types.get(name, int if name == "sidecar_version" else str)
            if not isinstance(data[name], expected) or isinstance(data[name], bool):
                raise ValueError(f"{name} has the wrong type ({type(data[name]).__name__})")
        if not all(isinstance(flag, str) for flag in data["builder_flags"]):
            raise ValueError("builder_flags must be a list of names")
        if not all(isinstance(value, str) for value in data["model_metadata"].values()):
            raise ValueError("model_metadata values must be strings")
        if data["precision"] not in Precision.values():
            raise ValueError(f"precision {data['precision']!r} is not one of {', '.join(Precision.values())}")
        record = cls(**{name: data[name] for name in fields})
        ModelInfo.from_metadata(record.model_metadata)  # raises ContractError (a ValueError) naming what is wrong
        return record


def sidecar_path(engine_path: str | os.PathLike[str]) -> Path:
    return Path(f"{engine_path}.json")


def lock_path(engine_path: str | os.PathLike[str]) -> Path:
    return Path(f"{engine_path}.lock")


def default_engine_path(onnx_path: str | os.PathLike[str], precision: Precision | str) -> Path:
    """Where an engine for ``onnx_path`` goes when none is named: beside it, ``model.fp16.engine``."""
    return Path(onnx_path).with_suffix(f".{Precision(precision).value}.engine")


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_sidecar(engine_path: str | os.PathLike[str]) -> EngineRecord:
    """The sidecar of ``engine_path``; :class:`EngineCacheError` if it is missing or unreadable."""
    path = sidecar_path(engine_path)
    try:
        return EngineRecord.from_json(path.read_text())
    except FileNotFoundError as error:
        raise EngineCacheError(
            f"engine {engine_path} has no sidecar {path}: build engines with 'python -m disk_trt_ros build-engine'"
        ) from error
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise EngineCacheError(
            f"engine sidecar {path} is unreadable ({error}); rebuild the engine with "
            "'python -m disk_trt_ros build-engine'"
        ) from error


class Progress:
    """Build progress as ``[  12.3 s] message`` lines, elapsed time counted from construction."""

    def __init__(self, emit: Callable[[str], None] | None = None) -> None:
        self._emit = emit or (lambda line: print(line, flush=True))
        self._start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def __call__(self, message: str) -> None:
        self._emit(f"[{self.elapsed:7.1f} s] {message}")

    @contextlib.contextmanager
    def heartbeat(self, what: str, interval: float = HEARTBEAT_SECONDS) -> Iterator[None]:
        """Report ``still <what>`` every ``interval`` seconds while the body runs (the builder is silent for
        minutes on a Jetson)."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(interval):
                self(f"still {what}")

        thread = threading.Thread(target=beat, name="build-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()


def compile_engine(onnx_path: Path, settings: BuildSettings, progress: Progress) -> bytes:
    """Parse ``onnx_path`` with TensorRT's ONNX parser and build a serialized engine: the one call into the builder.

    Works with TensorRT 8.2 to 10.x: explicit-batch network flag before 10 (the only mode from 10 on), workspace
    limit through ``set_memory_pool_limit`` (8.4+) or ``max_workspace_size`` (8.2/8.3), and TensorRT's progress
    monitor where it exists (10.x). Loads and saves ``settings.timing_cache`` when given.
    """
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network_flags = 0 if tensorrt_major(trt) >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(network_flags)
    parser = trt.OnnxParser(network, logger)
    progress(f"parsing {onnx_path} with TensorRT {trt.__version__}'s ONNX parser")
    if not parser.parse(onnx_path.read_bytes(), str(onnx_path)):
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
    for name in ("FP16", "TF32"):
        if name in settings.builder_flags:
            config.set_flag(getattr(trt.BuilderFlag, name))
        else:
            config.clear_flag(getattr(trt.BuilderFlag, name))
    config.set_timing_cache(_load_timing_cache(config, settings.timing_cache, progress), False)
    monitor = _progress_monitor(trt, progress) if hasattr(trt, "IProgressMonitor") else None
    if monitor is not None:
        config.progress_monitor = monitor
    progress(
        f"building the {settings.precision} engine (workspace {settings.effective_workspace_mib} MiB); "
        "this takes minutes, on a Jetson up to a quarter of an hour"
    )
    with progress.heartbeat("building the engine"), _signals_end_process():
        serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineCacheError(f"TensorRT could not build an engine from {onnx_path}; its messages above say why")
    if settings.timing_cache is not None:
        _save_timing_cache(config.get_timing_cache(), settings.timing_cache, progress)
    return bytes(serialized)


def _parser_error_text(error: Any) -> str:
    return f"node {error.node()}: {error.desc()}"


def _load_timing_cache(config: Any, path: Path | None, progress: Progress) -> Any:
    data = b""
    if path is not None and path.is_file():
        try:
            data = path.read_bytes()
        except OSError as error:
            progress(f"warning: cannot read timing cache {path} ({error.strerror}); starting an empty one")
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


_SIGACTION_BYTES = 512  # room for the C library's struct sigaction (152 bytes with glibc on x86_64 and aarch64)


@contextlib.contextmanager
def _signals_end_process() -> Iterator[None]:
    """Let SIGINT and SIGTERM end the process at once while TensorRT builds.

    Python handles signals only between bytecodes, so with its handlers a Ctrl-C would wait for the builder
    (minutes). Nothing is written during the build and the kernel releases the lock, so ending at once leaves no
    partial file. Only the main thread can change handlers; elsewhere this does nothing.

    Afterwards each signal gets back exactly the action it had, also one installed outside Python, which
    ``signal.getsignal`` cannot see (rclpy installs its SIGINT and SIGTERM handlers in C): the C library's
    ``sigaction`` saves and restores it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    actions = {number: ctypes.create_string_buffer(_SIGACTION_BYTES) for number in previous}
    saved = {number for number, action in actions.items() if libc.sigaction(number, None, action) == 0}
    for number in previous:
        signal.signal(number, signal.SIG_DFL)
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)  # Python's record of its handler
            if number in saved:
                libc.sigaction(number, actions[number], None)  # the action itself, as it was


def deserialize_engine(trt: ModuleType, data: bytes, logger: Any) -> tuple[Any, Any]:
    """``(runtime, engine)``; ``engine`` is None when TensorRT cannot deserialize ``data``. Keep ``runtime`` alive
    as long as the engine."""
    runtime = trt.Runtime(logger)
    try:
        engine = runtime.deserialize_cuda_engine(data)
    except RuntimeError:  # some versions raise instead of returning None
        engine = None
    return runtime, engine


def engine_deserializes(data: bytes) -> bool:
    trt = import_tensorrt()
    _, engine = deserialize_engine(trt, data, trt.Logger(trt.Logger.ERROR))
    return engine is not None


@contextlib.contextmanager
def engine_lock(engine_path: Path, progress: Progress) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``engine_path.lock`` (created beside the engine); wait if another process
    holds it. The kernel releases it when the process ends, however it ends.

    The directory must accept new files (the engine is written there): that is checked here, before a build that
    can take minutes, also where the lock file is left from an earlier build."""
    path = lock_path(engine_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path.parent).close()
        handle = open(path, "a")
    except OSError as error:
        raise EngineCacheError(
            f"cannot write in {path.parent} ({error.strerror}): the engine's directory must be writable; "
            "pass --engine (or the node's 'engine' parameter) in a writable directory"
        ) from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"another process is building {engine_path}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def wanted_dependencies(
    onnx_sha256: str, info: ModelInfo, tensorrt_version: str, device: DeviceInfo, settings: BuildSettings
) -> dict[str, Any]:
    """What an engine built now with ``settings`` would record under :attr:`EngineRecord.DEPENDENCIES`, less
    ``workspace_mib`` when ``settings`` leaves it open (any cached value is then accepted)."""
    wanted = {
        "sidecar_version": SIDECAR_VERSION,
        "onnx_sha256": onnx_sha256,
        "tensorrt_version": tensorrt_version,
        "gpu_name": device.name,
        "compute_capability": device.compute_capability_text,
        "precision": settings.precision.value,
        "builder_flags": settings.builder_flags,
        "workspace_mib": settings.workspace_mib,
        "model_metadata": info.to_metadata(),
    }
    if settings.workspace_mib is None:
        del wanted["workspace_mib"]
    return wanted


def stale_reason(
    engine_path: Path, wanted: dict[str, Any], deserializes: Callable[[bytes], bool]
) -> tuple[EngineRecord | None, str | None]:
    """``(record, None)`` when the engine at ``engine_path`` can be reused, else ``(None, why it cannot)``."""
    if not engine_path.exists():
        return None, "no engine file yet"
    try:
        record = read_sidecar(engine_path)
    except EngineCacheError as error:
        return None, str(error)
    recorded = record.dependencies()
    changed = [
        f"{name} differs from the model's"
        if isinstance(wanted[name], dict)
        else f"{name} {recorded[name]!r} -> {wanted[name]!r}"
        for name in wanted
        if recorded[name] != wanted[name]
    ]
    if changed:
        return None, "changed: " + "; ".join(changed)
    try:
        data = engine_path.read_bytes()
    except OSError as error:
        return None, f"engine file unreadable ({error.strerror})"
    if hashlib.sha256(data).hexdigest() != record.engine_sha256:
        return None, "engine file does not match the sha256 in its sidecar (truncated or replaced)"
    if not deserializes(data):
        return None, f"TensorRT {wanted['tensorrt_version']} cannot deserialize the engine"
    return record, None


def ensure_engine(
    onnx_path: str | os.PathLike[str],
    engine_path: str | os.PathLike[str],
    settings: BuildSettings,
    *,
    if_needed: bool = True,
    progress: Progress | None = None,
    device: int = 0,
) -> EngineRecord:
    """Build the engine for ``onnx_path`` at ``engine_path`` (always, or only if needed) and return its sidecar.

    Raises:
        EngineCacheError: missing ONNX file, parser or builder failure, unwritable directory.
        ContractError: the ONNX file was not exported by disk_trt_ros.
        CudaError: a CUDA call failed.
        TensorRTUnavailableError, CudaUnavailableError: what to install.
    """
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    progress = progress or Progress()
    if not onnx_path.is_file():
        raise EngineCacheError(
            f"ONNX model {onnx_path} not found; export one with 'python -m disk_trt_ros export --output {onnx_path}'"
        )
    info = read_onnx_model_info(str(onnx_path))
    trt = import_tensorrt()
    with open_cuda_memory(device) as cuda, cuda.active():
        wanted = wanted_dependencies(file_sha256(onnx_path), info, str(trt.__version__), cuda.device_info(), settings)
        if if_needed:
            record, reason = stale_reason(engine_path, wanted, engine_deserializes)
            if record is not None:
                progress(f"engine {engine_path} is up to date")
                return record
            progress(f"building {engine_path}: {reason}")
        with engine_lock(engine_path, progress):
            if if_needed:  # another process may have built it while this one waited for the lock
                record, _ = stale_reason(engine_path, wanted, engine_deserializes)
                if record is not None:
                    progress(f"engine {engine_path} was built meanwhile and is up to date")
                    return record
            _remove_partial_files(engine_path)
            return _build(onnx_path, engine_path, settings, info, wanted, progress)


def _remove_partial_files(engine_path: Path) -> None:
    """Temporary files of a writer that was killed (only the lock holder writes, so none is in use)."""
    for partial in engine_path.parent.glob(f".{engine_path.name}.*.partial"):
        partial.unlink(missing_ok=True)


def _build(
    onnx_path: Path,
    engine_path: Path,
    settings: BuildSettings,
    info: ModelInfo,
    wanted: dict[str, Any],
    progress: Progress,
) -> EngineRecord:
    started = time.monotonic()
    data = compile_engine(onnx_path, settings, progress)
    record = EngineRecord(
        engine_sha256=hashlib.sha256(data).hexdigest(),
        onnx_path=str(onnx_path.resolve()),
        package_version=__version__,
        built_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(time.monotonic() - started, 1),
        **{**wanted, "workspace_mib": settings.effective_workspace_mib},
    )
    try:
        atomic_write_bytes(engine_path, data)
        atomic_write_bytes(sidecar_path(engine_path), record.to_json().encode())
    except OSError as error:
        raise EngineCacheError(f"cannot write the engine {engine_path} ({error.strerror})") from error
    progress(f"wrote {engine_path} ({len(data) / 1e6:.1f} MB) and {sidecar_path(engine_path).name}")
    return record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", required=True, type=Path, help="exported model (python -m disk_trt_ros export)")
    parser.add_argument("--engine", required=True, type=Path, help="engine file to write; its sidecar is ENGINE.json")
    precision = parser.add_mutually_exclusive_group()
    for choice, meaning in ((Precision.FP16, "fp16 (default)"), (Precision.FP32, "fp32 only")):
        precision.add_argument(f"--{choice}", dest="precision", action="store_const", const=choice, help=meaning)
    parser.set_defaults(precision=Precision.FP16)
    parser.add_argument(
        "--workspace-mib",
        type=int,
        help=f"builder workspace limit (default {DEFAULT_WORKSPACE_MIB}; when not given, --if-needed accepts an engine "
        "built with any limit)",
    )
    parser.add_argument("--timing-cache", type=Path, help="TensorRT timing cache to load and update (speeds rebuilds)")
    parser.add_argument(
        "--if-needed", action="store_true", help="reuse the engine when its sidecar matches and it deserializes"
    )
    parser.add_argument("--device", type=int, default=0, help="CUDA device index (default %(default)s)")


def main(args: argparse.Namespace) -> int:
    settings = BuildSettings(args.precision, args.workspace_mib, args.timing_cache)
    ensure_engine(args.onnx, args.engine, settings, if_needed=args.if_needed, device=args.device)
    return 0
