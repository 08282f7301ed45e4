# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The node's parameters: every invalid value is refused at start with the allowed values, as an exception in
this process and as one line and exit status 2 from ``python -m disk_trt_ros.node``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("disk_trt_ros.msg", reason="the Keypoints interface is not built: run `make setup`")

from rclpy.parameter import Parameter

from disk_trt_ros.errors import NodeConfigurationError
from disk_trt_ros.node.disk_node import DiskNode
from support.paths import REPO_ROOT

pytestmark = pytest.mark.ros


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"backend": "tensorflow"}, "'backend': 'tensorflow' is not one of auto, tensorrt, onnxruntime, torch"),
        ({"precision": "int8"}, "'precision': 'int8' is not one of fp16, fp32"),
        ({"image_transport": "theora"}, "'image_transport': 'theora' is not one of raw, compressed"),
        ({"qos_reliability": "sometimes"}, "'qos_reliability': 'sometimes' is not one of best_effort, reliable"),
        ({"debug_image_max_rate": -1.0}, "invalid parameter 'debug_image_max_rate'"),
        ({"threads": -2}, "invalid parameter 'threads'"),
        ({"debug_image": 1}, "invalid parameter 'debug_image'.*expecting type 'BOOL'"),
        ({"model": ""}, "parameter 'model' is empty"),
        ({"model": "/nonexistent/disk.onnx"}, "cannot load model '/nonexistent/disk.onnx' with backend onnxruntime"),
    ],
)
def test_invalid_parameters_are_refused_with_the_allowed_values(
    rclpy_context: Any, export_model: Any, parameters: dict[str, Any], expected: str
) -> None:
    model_path = str(export_model().path)
    overrides = [Parameter(name, value=value) for name, value in {"model": model_path, "backend": "onnxruntime",
                                                                  **parameters}.items()]
    with pytest.raises(NodeConfigurationError, match=expected):
        DiskNode(context=rclpy_context, parameter_overrides=overrides)


def test_the_module_refuses_a_bad_value_with_one_line_and_exit_status_2(export_model: Any) -> None:
    model_path = str(export_model().path)
    process = subprocess.run(
        [sys.executable, "-m", "disk_trt_ros.node", "--ros-args", "-p", f"model:={model_path}", "-p",
         "backend:=tensorflow"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert process.returncode == 2, process.stderr
    assert "parameter 'backend': 'tensorflow' is not one of auto, tensorrt, onnxruntime, torch" in process.stderr
    assert "Traceback" not in process.stderr + process.stdout
