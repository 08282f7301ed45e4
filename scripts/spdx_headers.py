#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""SPDX licence headers: check that every source file has one, or add the missing ones.

A source file is a tracked file (``git ls-files``) that holds code or build configuration and takes comments:
Python (``*.py`` and scripts whose first line runs Python), shell, CMake, the Makefile, YAML, XML, TOML and INI
files. ROS interface definitions (``msg/*.msg``) carry none: their leading comments are the message's description
(``ros2 interface show``); package.xml's licence covers them. Its header is

    # SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
    # SPDX-License-Identifier: Apache-2.0

in the file's comment syntax, within its first lines (after a ``#!`` line, an encoding line or XML declarations).

    python scripts/spdx_headers.py --check          list the files without one; exit status 1 if any
    python scripts/spdx_headers.py --count          say how many files lack one; exit status 0
    python scripts/spdx_headers.py --add [FILE...]  add it to FILEs (default: every source file without one)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LICENSE = "Apache-2.0"
COPYRIGHT = "2026 disk_trt_ros contributors"
HEADER_LINES = (f"SPDX-FileCopyrightText: {COPYRIGHT}", f"SPDX-License-Identifier: {LICENSE}")
HASH_COMMENTED = {".py", ".sh", ".cmake", ".yaml", ".yml", ".toml", ".ini", ".cfg"}
HASH_COMMENTED_NAMES = {"CMakeLists.txt", "Makefile", "run"}  # run: .ci/run
SEARCHED_LINES = 10  # a header further down than this does not count


def is_source(path: Path) -> bool:
    """Whether ``path`` (relative to the checkout) is a source file that must carry a header."""
    if path.suffix in HASH_COMMENTED or path.suffix == ".xml" or path.name in HASH_COMMENTED_NAMES:
        return True
    if path.suffix:
        return False
    first_line = (REPO_ROOT / path).read_bytes().split(b"\n", 1)[0]
    return first_line.startswith(b"#!")


def source_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    paths = [Path(name) for name in listed.decode().split("\0") if name]
    return [path for path in paths if (REPO_ROOT / path).is_file() and is_source(path)]


def has_header(path: Path) -> bool:
    head = (REPO_ROOT / path).read_text(errors="replace").splitlines()[:SEARCHED_LINES]
    return any(line.startswith((f"# {HEADER_LINES[1]}", f"<!-- {HEADER_LINES[1]}")) for line in head)


def with_header(text: str, xml: bool) -> str:
    """``text`` with the header inserted after its ``#!``/encoding line or XML declarations."""
    lines = text.splitlines(keepends=True)
    position = 0
    while position < len(lines) and is_preamble(lines[position], position, xml):
        position += 1
    if xml:
        header = "".join(f"<!-- {line} -->\n" for line in HEADER_LINES)
    else:
        header = "".join(f"# {line}\n" for line in HEADER_LINES)
    return "".join(lines[:position]) + header + "".join(lines[position:])


def is_preamble(line: str, index: int, xml: bool) -> bool:
    if xml:
        return line.startswith("<?")
    return (index == 0 and line.startswith("#!")) or (index <= 1 and line.startswith("#") and "coding" in line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="list the source files without a header")
    mode.add_argument("--count", action="store_true", help="count the source files without a header")
    mode.add_argument("--add", nargs="*", metavar="FILE", help="add the header (default: to every source file)")
    args = parser.parse_args(argv)

    if args.add:
        targets = [Path(name).resolve().relative_to(REPO_ROOT) for name in args.add]
    else:
        targets = source_files()
    missing = [path for path in targets if not has_header(path)]
    if args.check:
        for path in missing:
            print(f"{path}: no SPDX-License-Identifier in its first {SEARCHED_LINES} lines", file=sys.stderr)
        return 1 if missing else 0
    if args.count:
        print(f"SPDX headers: {len(missing)} of {len(targets)} source files have none")
        return 0
    for path in missing:
        file = REPO_ROOT / path
        file.write_text(with_header(file.read_text(), xml=path.suffix == ".xml"))
        print(f"added an SPDX header to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
