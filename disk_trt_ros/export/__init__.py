# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Model export: DISK weights, the static pipeline module, the ONNX export and the TensorRT support checker."""
