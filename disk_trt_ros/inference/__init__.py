# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Inference backends behind one interface (:class:`~disk_trt_ros.inference.base.Backend`) and the engine cache."""
