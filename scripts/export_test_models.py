#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Write the models and photographs that test/test_tensorrt_real.py takes where PyTorch is not installed.

    python scripts/export_test_models.py DIR        (here: Python 3.11 with PyTorch, kornia and OpenCV)

On the GPU machine, TensorRT 8.5's Python 3.9 has numpy and onnx but no PyTorch, OpenCV or kornia; carry DIR there
and run the test with ``DISK_TRT_ROS_TEST_MODELS=DIR``. Its references come from onnxruntime, which that Python lacks:
carry onnxruntime's cp39 wheel too (``pip download onnxruntime==1.19.2 --no-deps --only-binary=:all:
--python-version 3.9 -d WHEELS``) and unpack it there onto ``PYTHONPATH`` (``python -m zipfile -e WHEEL DIR``).
What DIR holds: test/support/model_set.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))  # the model set lives in test/support

from support.model_set import MODEL_SET_VARIABLE, write_model_set


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="directory to write (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random weights' seed (default %(default)s)")
    args = parser.parse_args()
    directory = write_model_set(args.directory, args.seed)
    size = sum(path.stat().st_size for path in directory.iterdir()) / 1e6
    print(f"wrote {directory} ({size:.1f} MB); run the test there with {MODEL_SET_VARIABLE}={directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
