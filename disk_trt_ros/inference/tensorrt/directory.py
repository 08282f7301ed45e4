# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The engine's directory: made when missing, trusted only when no one else can write in it, and the lock that
serialises builds in it.

Whoever can write in the engine's directory can make the node load their engine, with a sidecar rewritten to vouch
for it; so the directory must be writable by its owner alone (this user or root), unless it is sticky, and the
files read from it must be this user's or root's (:mod:`disk_trt_ros.files`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from pathlib import Path
from typing import Iterator

from disk_trt_ros.errors import EngineCacheError
from disk_trt_ros.files import file_problem, untrusted_directory_problem
from disk_trt_ros.inference.tensorrt.progress import Progress


def lock_path(engine_path: str | os.PathLike[str]) -> Path:
    """The lock file of an engine: ``ENGINE.lock`` beside it."""
    return Path(f"{engine_path}.lock")


def require_trusted_directory(engine_path: Path, create: bool = False) -> None:
    """Raise :class:`EngineCacheError` when another user could plant or replace files in the engine's directory
    (:func:`~disk_trt_ros.files.untrusted_directory_problem`): an engine with a sidecar rewritten to vouch for it
    would be loaded as this model's. With ``create``, a missing directory is made first (mode 0755); without it, a
    missing directory holds nothing to distrust."""
    directory = engine_path.parent
    if create:
        try:
            directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as error:
            raise EngineCacheError(_unwritable(directory, error.strerror)) from error
    elif not directory.is_dir():
        return
    problem = untrusted_directory_problem(directory)
    if problem:
        raise EngineCacheError(
            f"refusing the engine directory: {problem}, so another user could plant an engine there that this "
            f"process would load; make it writable by you alone (chmod go-w '{directory}', and chown it if it is not "
            "yours) or pass --engine (the node's 'engine' parameter) in a directory of your own (docs/tensorrt.md)"
        )


@contextlib.contextmanager
def engine_lock(engine_path: Path, progress: Progress) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``engine_path.lock`` (created beside the engine); wait if another process
    holds it. The kernel releases it when the process ends, however it ends.

    The lock file is opened without following a symbolic link, and must be a regular file of this user's or
    root's. The directory must accept new files (the engine is written there): that is checked here, before a build
    that can take minutes, also where the lock file is left from an earlier build."""
    path = lock_path(engine_path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        tempfile.TemporaryFile(dir=path.parent).close()
        descriptor = os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENXIO):  # a symbolic link; a FIFO or socket
            raise EngineCacheError(f"the lock file {path} is not a regular file (a symbolic link, a FIFO or a "
                                   "socket was put there); remove it") from error
        raise EngineCacheError(_unwritable(path.parent, error.strerror)) from error
    try:
        problem = file_problem(os.fstat(descriptor), owned=True)
        if problem:
            raise EngineCacheError(f"the lock file {path} {problem}; remove it")
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"another process is building {engine_path}; waiting for it")
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _unwritable(directory: Path, reason: str | None) -> str:
    return (
        f"cannot write in {directory} ({reason}): the engine's directory must be writable; "
        "pass --engine (or the node's 'engine' parameter) in a writable directory"
    )
