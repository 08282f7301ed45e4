# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Running code under a memory limit, so that a regression that allocates gigabytes (a decompression bomb decoded)
fails within a second instead of eating the machine.

The limit is on the address space (``RLIMIT_AS``), set once the heavy libraries are imported: their mappings are
counted, so the limit is what the process has mapped then plus a headroom. A decoder that asks for more gets an
allocation failure at once.

``python -m support.memory_limit --headroom-mib N [--preload MODULE]... MODULE [ARGUMENTS]`` imports the preloaded
modules, sets the limit, then runs ``MODULE`` as ``python -m MODULE ARGUMENTS`` would (the node under test:
``... disk_trt_ros.node --ros-args ...``); start it with :func:`support.paths.subprocess_environment`.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import resource
import runpy
import sys
from pathlib import Path

M_ARENA_MAX = -8  # glibc's mallopt() parameter: the most malloc arenas


def mapped_bytes() -> int:
    """This process's address space now (``VmSize``), in bytes."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmSize:")[1].split()[0]) * 1024


def peak_resident_bytes(pid: int | str = "self") -> int:
    """The peak resident memory (``VmHWM``) of process ``pid``, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


def limit_address_space(headroom_bytes: int) -> int:
    """Limit this process's address space to what it maps now plus ``headroom_bytes``; returns the limit.

    glibc reserves 64 MiB of address space for each malloc arena (one per thread that allocates, up to eight per
    core), so under such a limit the reservations, not what is used, would run out, at any allocation of any thread;
    the process is first told to keep to two arenas.
    """
    ctypes.CDLL(None).mallopt(M_ARENA_MAX, 2)
    limit = mapped_bytes() + headroom_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    return limit


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m support.memory_limit", description=__doc__.splitlines()[0])
    parser.add_argument("--headroom-mib", type=int, required=True, help="address space allowed past the imports")
    parser.add_argument("--preload", action="append", default=[], help="import this module before the limit is set")
    parser.add_argument("module", help="the module to run, as with python -m")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="its arguments")
    options = parser.parse_args()
    for name in [*options.preload, options.module]:
        importlib.import_module(name.removesuffix(".__main__"))
    limit = limit_address_space(options.headroom_mib << 20)
    print(f"memory_limit: address space limited to {limit >> 20} MiB", file=sys.stderr, flush=True)
    sys.argv = [options.module, *options.arguments]
    runpy.run_module(options.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
