# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Run a backend over images and save its features: how tests run a backend in another process or another Python.

``python -m support.run_backend --backend NAME --model MODEL --images IMAGES.npy --out FEATURES.npz [--threads N]``
runs it with the installed libraries; ``python -m support.trt_double run-backend ...`` runs it with TensorRT's and
CUDA's doubles. ``IMAGES.npy`` holds uint8 ``[N, H, W, C]`` images in the model's input format; ``FEATURES.npz``
holds ``keypoints_I``, ``scores_I`` and ``descriptors_I`` for image I (:class:`~disk_trt_ros.inference.base.Features`).

Imports only the runtime side and numpy, so it runs under Python 3.9 without PyTorch or OpenCV.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import numpy as np

from disk_trt_ros.inference.base import Features
from disk_trt_ros.inference.registry import create_backend

FIELDS = ("keypoints", "scores", "descriptors")


def run_backend(
    name: str, model: str | os.PathLike[str], images: np.ndarray, threads: int | None = None
) -> list[Features]:
    """The features backend ``name`` finds in each of ``images`` (for ``tensorrt``, ``model`` may be an engine)."""
    backend = create_backend(name, model, threads=threads, report=lambda line: None)
    try:
        return [backend.run(image) for image in images]
    finally:
        backend.close()


def save_features(path: str | os.PathLike[str], features: Sequence[Features]) -> None:
    arrays = {f"{field}_{index}": getattr(item, field) for index, item in enumerate(features) for field in FIELDS}
    np.savez(path, count=len(features), **arrays)


def load_features(path: str | os.PathLike[str]) -> list[Features]:
    with np.load(path) as saved:
        return [Features(*(saved[f"{field}_{index}"] for field in FIELDS)) for index in range(int(saved["count"]))]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.run_backend", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", required=True, help="uint8 [N, H, W, C] images (.npy)")
    parser.add_argument("--out", required=True, help="features (.npz)")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    save_features(args.out, run_backend(args.backend, args.model, np.load(args.images), args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
