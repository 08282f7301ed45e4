# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""TensorRT: the engine as a cached build artefact of the exported model, and the backend that runs it.

Modules, from the bottom up: ``runtime`` (the one import of ``tensorrt``; version; deserialization), ``record``
(the engine's sidecar), ``progress`` and ``signals`` (build progress; Ctrl-C during a build), ``builder`` (ONNX to a
serialized engine), ``cache`` (reuse or rebuild, under a lock), ``cli`` (``build-engine``); ``cuda_memory``
(buffers and a stream) with its two implementations ``cuda_python`` and ``pycuda_memory`` chosen by
``cuda_bindings``; ``backend`` (:class:`~.backend.TensorRTBackend`). Importing this package imports none of them.
"""
