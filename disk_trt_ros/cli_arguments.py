# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Checked argument types for the commands of ``python -m disk_trt_ros`` (argparse ``type=`` functions).

A value that cannot work is refused while the arguments are parsed, before any work starts, with one line that
names the argument and what it takes (``... COMMAND: error: argument --threads: must be an integer from 1 to 1024,
got '1e9'``, exit status 2): numbers must be finite and in their range, and an output path must not be a directory
(or a directory not a file), nor a FIFO or a device, and must be creatable in a directory this process can write.

Standard library only (``build-engine`` runs beside TensorRT on a Jetson).
"""

from __future__ import annotations

import argparse
import math
import stat
import tempfile
from pathlib import Path
from typing import Callable


def integer(low: int, high: int) -> Callable[[str], int]:
    """An integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {text!r}")
        return value

    return parse


def number(low: float = -math.inf, high: float = math.inf, above_low: bool = False) -> Callable[[str], float]:
    """A finite number from ``low`` to ``high`` (greater than ``low`` with ``above_low``)."""
    lower = f"above {low:g}" if above_low else f"at least {low:g}"
    bounds = " and ".join(
        part for part, bounded in ((lower, low > -math.inf), (f"at most {high:g}", high < math.inf)) if bounded
    )
    meaning = "a finite number" + (f" {bounds}" if bounds else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        within = (value > low if above_low else value >= low) and value <= high
        if not (math.isfinite(value) and within):
            raise argparse.ArgumentTypeError(f"must be {meaning}, got {text!r}")
        return value

    return parse


def output_file(text: str) -> Path:
    """A file to write: not a directory, a FIFO or a device, and creatable where it is."""
    path = Path(text)
    kind = _existing_kind(path)
    if kind == "a directory":
        raise argparse.ArgumentTypeError(f"{text} is a directory; give the name of the file to write")
    if kind not in (None, "a regular file"):
        raise argparse.ArgumentTypeError(f"{text} is {kind}, not a regular file; give the name of the file to write")
    _require_writable_directory_above(path)
    return path


def output_directory(text: str) -> Path:
    """A directory to write into: an existing one that this process can write, or one it can create."""
    path = Path(text)
    kind = _existing_kind(path)
    if kind == "a directory":
        _require_writable(path, path)
    elif kind is not None:
        raise argparse.ArgumentTypeError(f"{text} is {kind}, not a directory; give a directory to write into")
    else:
        _require_writable_directory_above(path)
    return path


def output_path(text: str) -> Path:
    """A file or a directory to write (a bag: a rosbag2 directory or a ROS 1 file), replacing what is there: not a
    FIFO or a device, and creatable where it is."""
    path = Path(text)
    kind = _existing_kind(path)
    if kind not in (None, "a regular file", "a directory"):
        raise argparse.ArgumentTypeError(f"{text} is {kind}; give a path to write to")
    _require_writable_directory_above(path)
    return path


_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _existing_kind(path: Path) -> str | None:
    """What is at ``path`` (links followed), or None when nothing is."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot look at {path} ({error.strerror})") from error
    return next((kind for is_kind, kind in _KINDS if is_kind(mode)), "not a regular file")


def _require_writable_directory_above(path: Path) -> None:
    """The nearest existing directory above ``path`` (where it, or the directories leading to it, will be
    created) must be a directory this process can write in."""
    above = path.absolute().parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create {path}: {above} is not a directory")
    _require_writable(above, path)


def _require_writable(directory: Path, path: Path) -> None:
    try:
        tempfile.TemporaryFile(dir=directory).close()  # what writing will do; access() misses read-only mounts
    except OSError as error:
        raise argparse.ArgumentTypeError(
            f"cannot write {path}: {directory} does not accept new files ({error.strerror}); choose a writable "
            "directory"
        ) from error
