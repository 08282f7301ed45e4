# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``python -m disk_trt_ros <command>``: one entry point for the offline tools.

Each command lives in its own module with ``add_arguments(parser)`` and ``main(args) -> int``; modules are
imported only when their command runs, so ``check`` does not pay for importing PyTorch. An expected failure is a
:class:`~disk_trt_ros.errors.DiskTrtRosError`, caught here for every command: one line ``COMMAND: error: MESSAGE`` on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from disk_trt_ros.errors import DiskTrtRosError, LibraryMissingError

COMMANDS: dict[str, tuple[str, str]] = {
    "export": ("disk_trt_ros.export.cli", "export DISK as one static ONNX graph"),
    "export-matcher": ("disk_trt_ros.export.matcher_cli", "export LightGlue for DISK as one static ONNX graph"),
    "check": ("disk_trt_ros.export.trt_check", "check an ONNX model against a TensorRT parser's support matrix"),
    "build-engine": ("disk_trt_ros.inference.tensorrt.cli", "build (or reuse) a TensorRT engine from an ONNX model"),
    "bench": ("disk_trt_ros.inference.bench", "measure a backend's latency, optionally against kornia's DISK"),
    "eval": ("disk_trt_ros.evaluation.cli", "evaluate the extractor on a rosbag replay and write a report"),
    "make-sample-bag": ("disk_trt_ros.evaluation.sample_bag", "make a camera bag from photographs"),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: one sub-command per entry of :data:`COMMANDS`, whose modules are not imported yet."""
    parser = argparse.ArgumentParser(prog="python -m disk_trt_ros", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_module, summary) in COMMANDS.items():
        subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def run_command(name: str, argv: Sequence[str]) -> int:
    """Run one command with its own arguments; returns the exit status (1 after an expected failure)."""
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"python -m disk_trt_ros {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    arguments = parser.parse_args(list(argv))
    try:
        return int(module.main(arguments))
    except ModuleNotFoundError as error:
        missing = LibraryMissingError.from_import_error(name, error)
        if missing is None:
            raise
        print(f"{name}: error: {missing}", file=sys.stderr)
        return 1
    except DiskTrtRosError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m disk_trt_ros COMMAND ...``; the exit status (errors of the package: one line, status 1)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in COMMANDS:
        build_parser().parse_args(arguments)  # prints usage and exits
        return 2
    return run_command(arguments[0], arguments[1:])


def command_entry(name: str) -> int:
    """Entry point for console scripts that run a single command (``disk-trt-export`` and the like)."""
    return run_command(name, sys.argv[1:])
