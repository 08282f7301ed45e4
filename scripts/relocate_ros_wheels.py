#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Point the CMake files of the ROS 2 wheels in a virtualenv at this machine's Python and numpy headers.

The wheels' exported CMake targets name the include directories of the machine that built them
(``/opt/python/cp3XX-cp3XX/...``), and CMake's generate step rejects directories that do not exist. This rewrites
them, in ``PREFIX/share/*/cmake/*.cmake``, to the headers of the Python that runs this script and to
``numpy.get_include()``; files that no longer name the build machine are left alone, so running it again changes
nothing. Run it with the virtualenv's Python: ``VENV/bin/python scripts/relocate_ros_wheels.py``.
"""

from __future__ import annotations

import pathlib
import re
import sys
import sysconfig

import numpy

BUILD_MACHINE = re.compile(
    r"/opt/python/cp3\d+-cp3\d+/(?:include/python3\.\d+|lib/python3\.\d+/site-packages/numpy/_?core/include)"
)


def relocate(prefix: pathlib.Path) -> list[pathlib.Path]:
    """Rewrite the build machine's include directories under ``prefix``; returns the files changed."""
    python_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()

    def local_directory(match: re.Match[str]) -> str:
        return numpy_include if "numpy" in match.group(0) else python_include

    changed = []
    for path in sorted(prefix.joinpath("share").glob("*/cmake/*.cmake")):
        text = path.read_text()
        fixed = BUILD_MACHINE.sub(local_directory, text)
        if fixed != text:
            path.write_text(fixed)
            changed.append(path)
    return changed


def main() -> int:
    prefix = pathlib.Path(sys.prefix)
    for path in relocate(prefix):
        print(f"relocate_ros_wheels: include directories of {path.relative_to(prefix)} now point here")
    return 0


if __name__ == "__main__":
    sys.exit(main())
