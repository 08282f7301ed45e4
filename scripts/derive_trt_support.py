#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Derive disk_trt_ros/data/tensorrt_onnx_support.json from the ONNX-TensorRT support matrices.

Usage: python scripts/derive_trt_support.py [REFERENCE_DIR]   (default: ../shared/reference)

The CSV files restate the onnx-tensorrt parser's docs/operators.md (8.2-GA and 10.1-GA); the limits the tables
do not show (opsets, binding types, TopK's K) come from the same reference's README.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "disk_trt_ros" / "data" / "tensorrt_onnx_support.json"
TYPE_NAMES = {
    "FP32": "float32", "FP16": "float16", "BF16": "bfloat16", "FP8": "float8", "INT4": "int4", "INT8": "int8",
    "INT32": "int32", "INT64": "int64", "INF64": "int64", "UINT8": "uint8", "BOOL": "bool", "DOUBLE": "float64",
}
PARSERS = {
    "8.2": {
        "csv": "tensorrt-8.2-onnx-operators.csv",
        "opset_min": 1,
        "opset_max": 13,
        "binding_types": ["float32", "float16", "int32", "int8", "bool"],
        "cast_down": {"int64": "int32", "float64": "float32"},
        "topk_max_k": 3840,
    },
    "10": {
        "csv": "tensorrt-10-onnx-operators.csv",
        "opset_min": 9,
        "opset_max": 20,
        "binding_types": ["float32", "float16", "bfloat16", "int32", "int64", "int8", "uint8", "bool"],
        "cast_down": {"float64": "float32"},
        "topk_max_k": 3839,
    },
}


def read_operators(path: Path) -> dict[str, dict[str, object]]:
    operators: dict[str, dict[str, object]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            types = [TYPE_NAMES[t.strip()] for t in row["types"].split(",") if t.strip() in TYPE_NAMES]
            operators[row["operator"].strip()] = {
                "supported": row["supported"].strip().upper().startswith("Y"),
                "types": sorted(set(types)),
                "restrictions": row["restrictions"].strip(),
            }
    return operators


def derive(reference: Path) -> dict[str, object]:
    parsers = {}
    for version, facts in PARSERS.items():
        entry = {key: value for key, value in facts.items() if key != "csv"}
        entry["operators"] = read_operators(reference / str(facts["csv"]))
        parsers[version] = entry
    return {
        "source": "onnx-tensorrt docs/operators.md (8.2-GA, 10.1-GA), restated in shared/reference",
        "parsers": parsers,
    }


def main() -> int:
    reference = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "reference"
    OUTPUT.write_text(json.dumps(derive(reference), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
