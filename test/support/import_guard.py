# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""A process in which PyTorch, OpenCV, kornia, rclpy and launch cannot be imported, as on a Jetson without them.

``python -m support.import_guard MODULE [ARGUMENTS...]`` runs ``python -m MODULE ARGUMENTS...`` with an import hook
that refuses :data:`~support.runtime_side.HEAVY_LIBRARIES` (with the ``ModuleNotFoundError`` of a library that is
not installed). ``python -m support.import_guard --import [MODULE...]`` imports the modules (default: the runtime side)
and prints a JSON object: ``python`` (its version), ``imported``, ``refused`` (every refused import attempt) and
``heavy_loaded`` (heavy modules that got into ``sys.modules`` nonetheless).
"""

from __future__ import annotations

import importlib
import importlib.abc
import json
import platform
import runpy
import sys
from typing import Any, Sequence

from support.runtime_side import HEAVY_LIBRARIES, runtime_modules


class RefuseHeavyLibraries(importlib.abc.MetaPathFinder):
    """A ``sys.meta_path`` finder that refuses the heavy libraries and notes each attempt in :attr:`refused`."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.partition(".")[0] in HEAVY_LIBRARIES:
            self.refused.append(fullname)
            message = f"No module named '{fullname}' (support.import_guard: the runtime side must not need it)"
            raise ModuleNotFoundError(message, name=fullname)
        return None


def heavy_modules_loaded() -> list[str]:
    return sorted(name for name in sys.modules if name.partition(".")[0] in HEAVY_LIBRARIES)


def main(argv: Sequence[str]) -> int:
    guard = RefuseHeavyLibraries()
    sys.meta_path.insert(0, guard)
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "--import":
        names = list(argv[1:]) or runtime_modules()
        for name in names:
            importlib.import_module(name)
        report = {"python": platform.python_version(), "imported": names, "refused": guard.refused}
        print(json.dumps({**report, "heavy_loaded": heavy_modules_loaded()}))
        return 0
    sys.argv = list(argv)
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
