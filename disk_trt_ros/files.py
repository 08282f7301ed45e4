# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Reading the files users and disks hand the package (models, checkpoints, engines, sidecars), and the engine cache
directory's trust.

A path that should name a file may name a FIFO (opening it for reading waits for a writer: forever), a device
(``/dev/zero`` reads without end) or a directory. :func:`read_regular_file` opens with ``O_NONBLOCK`` (opening a
FIFO does not wait), checks the open descriptor with ``fstat`` (what is read is what was checked: nothing can be
swapped in between), refuses anything but a regular file no larger than the limit for its kind, and never reads
past that limit.

A directory that other users can write lets them plant or replace files in it (an engine with a sidecar rewritten
to vouch for it). :func:`untrusted_directory_problem` says why a directory cannot be trusted with files that are
loaded without further checks.

Standard library only: the runtime side (TensorRT on a Jetson) reads its engines through this module.
"""

from __future__ import annotations

import errno
import os
import stat

from disk_trt_ros.errors import FileRefusedError

# ONNX models (protobuf's own limit is 2 GiB), checkpoints, engines and timing caches: a file larger than this is
# not one of them (DISK's are a few MB, its engines tens of MB).
MAX_MODEL_BYTES = 2 << 30

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def trusted_owner(uid: int) -> bool:
    """Whether files owned by ``uid`` may be trusted: this process's effective user's, or root's."""
    return uid in (os.geteuid(), 0)


def read_regular_file(path: str | os.PathLike[str], max_bytes: int, what: str, owned: bool = False) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.

    Args:
        path: the file (symbolic links are followed).
        max_bytes: the largest file accepted.
        what: what the file is, for messages (``"ONNX model"``, ``"engine sidecar"``...).
        owned: also refuse a file not owned by this user or root (files of the engine cache).

    Raises:
        FileNotFoundError: no such file.
        FileRefusedError: not a regular file, larger than ``max_bytes``, (with ``owned``) another user's, or
            changing size while it is read.
        OSError: the file cannot be opened or read (permissions, I/O errors).
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ENXIO:  # a socket, or a device without its hardware
            raise FileRefusedError(f"{what} {path} is not a regular file ({error.strerror})") from error
        raise
    try:
        status = os.fstat(descriptor)
        problem = file_problem(status, max_bytes, owned)
        if problem:
            raise FileRefusedError(f"{what} {path} {problem}")
        stream = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with stream:
        data = stream.read(status.st_size + 1)  # one byte more than it holds: a file growing meanwhile shows
    if len(data) != status.st_size:
        raise FileRefusedError(f"{what} {path} changed size while it was read (it had {status.st_size} bytes); "
                               "use it once it is completely written")
    return data


def file_problem(status: os.stat_result, max_bytes: int | None = None, owned: bool = False) -> str | None:
    """Why a file with ``status`` is not used (to follow its path in a message), or None when it may be: not a
    regular file, larger than ``max_bytes`` (None: any size), or, with ``owned``, another user's."""
    for is_kind, kind in _FILE_KINDS:
        if is_kind(status.st_mode):
            return f"is {kind}, not a regular file"
    if not stat.S_ISREG(status.st_mode):
        return "is not a regular file"
    if max_bytes is not None and status.st_size > max_bytes:
        return f"is {_size_text(status.st_size)}, more than the {_size_text(max_bytes)} such a file may be"
    if owned and not trusted_owner(status.st_uid):
        return f"is owned by user {status.st_uid}, not by this user ({os.geteuid()}) or root"
    return None


def untrusted_directory_problem(directory: str | os.PathLike[str]) -> str | None:
    """Why files in ``directory`` could be planted or replaced by another user, or None when they cannot.

    A directory is trusted when it is owned by this user or root and neither its group nor others may write in it,
    unless its sticky bit is set (then others may add files but not replace this user's; files of other users in
    it are refused where they are read, see :func:`read_regular_file`'s ``owned``).
    """
    status = os.stat(directory)
    if not stat.S_ISDIR(status.st_mode):
        return f"{directory} is not a directory"
    if not trusted_owner(status.st_uid):
        return f"{directory} is owned by user {status.st_uid}, not by this user ({os.geteuid()}) or root"
    writable = status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable and not status.st_mode & stat.S_ISVTX:
        others = " and ".join(name for bit, name in ((stat.S_IWGRP, "its group"), (stat.S_IWOTH, "all users"))
                              if status.st_mode & bit)
        return f"{directory} is writable by {others} (mode {stat.S_IMODE(status.st_mode):o}, no sticky bit)"
    return None


def _size_text(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):.1f} {unit}"
    return f"{size} bytes"
