#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""disk_node for the DDS benchmarks (scripts/dds_delivery.py, scripts/node_overhead.py): its own ``main``, with
inference replaced by a stub or with per-frame timestamps recorded, patched in this process only.

    python scripts/dds_node.py [--stub] [--trace TRACE.json [--prototype NAME]...] -- --ros-args -p model:=M ...

``disk_trt_ros.node.disk_node.main`` is what ``python -m disk_trt_ros.node`` runs, middleware configuration
included (set DISK_TRT_ROS_FASTDDS_PROFILE=0 in the environment for Fast DDS's own defaults). ``--stub``
replaces ``create_backend`` by one returning the model's K fixed keypoints at once, so that a run measures
transport only; ``--trace`` records when each frame passes each step (scripts/node_tracing.py) and ``--prototype``
applies a proposed change there, for measurement. No module of the package is edited.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from disk_trt_ros.contract import DESCRIPTOR_DIM, read_onnx_model_info
from disk_trt_ros.inference.base import Backend, Features

SCRIPT = Path(__file__).resolve()


def node_command(model: Path, node_qos: str, stub: bool, trace: Path | None = None, prototypes: Sequence[str] = (),
                 parameters: Sequence[str] = ()) -> list[str]:
    """The command line of this script for a node on ``model`` with ``qos_reliability`` ``node_qos`` and more
    ``NAME:=VALUE`` parameters."""
    flags = [*(["--stub"] if stub else []), *(["--trace", str(trace)] if trace else []),
             *[f"--prototype={name}" for name in prototypes]]
    ros = ["--ros-args", "-p", f"model:={model}", "-p", f"qos_reliability:={node_qos}",
           *[item for parameter in parameters for item in ("-p", parameter)]]
    return [sys.executable, str(SCRIPT), *flags, "--", *ros]


class StubBackend(Backend):
    """The model's K fixed keypoints, returned at once (transport measurements)."""

    name = "stub"  # type: ignore[assignment]

    def __init__(self, model_path: str) -> None:
        info = read_onnx_model_info(str(model_path))
        super().__init__(info, precision="fp32")
        rng = np.random.default_rng(0)
        descriptors = rng.standard_normal((info.max_keypoints, DESCRIPTOR_DIM)).astype(np.float32)
        self.features = Features(
            keypoints=(rng.random((info.max_keypoints, 2)) * [info.width - 1, info.height - 1]).astype(np.float32),
            scores=np.sort(rng.random(info.max_keypoints).astype(np.float32))[::-1].copy(),
            descriptors=descriptors / np.linalg.norm(descriptors, axis=1, keepdims=True),
        )

    def run(self, image: np.ndarray) -> Features:
        self.check_image(image)
        return self.features


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stub", action="store_true", help="K fixed keypoints at once instead of inference")
    parser.add_argument("--trace", type=Path, help="record per-frame timestamps here (JSON, written at exit)")
    parser.add_argument("--prototype", action="append", default=[], help="a change of scripts/node_tracing.py")
    arguments = parser.parse_args(argv[:split])
    from disk_trt_ros.node import disk_node

    if arguments.stub:
        disk_node.create_backend = lambda kind, model_path, **_: StubBackend(model_path)  # type: ignore[assignment]
    if arguments.trace:
        import node_tracing  # scripts/, this file's directory, is first on sys.path

        node_tracing.install(arguments.trace, arguments.prototype)
    return disk_node.main(["disk_node", *argv[split + 1:]])


if __name__ == "__main__":
    sys.exit(main())
