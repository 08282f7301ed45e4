# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Harnesses shared by the test modules (and by ``scripts/reliability.py``, ``scripts/export_test_models.py``); test
modules never import each other.

Modules: ``paths`` (the checkout, ../shared's photographs, the environment of test subprocesses), ``waiting``
(:func:`~support.waiting.wait_until`, :func:`~support.waiting.finishes_within`), ``images`` (test images and Image
messages), ``reference`` (kornia's DISK as the reference; imports PyTorch), ``matching`` (keypoint slots of the
photographs, kornia's LightGlue as the reference; imports PyTorch), ``ros`` (spinning an rclpy node),
``node_harness`` (a node of the package in this process beside a probe node; the DiskNode's), ``matcher_harness``
(the MatcherNode's, and Keypoints messages with known matches), ``bags`` (bags with known ground truth, a corrupt
sqlite3 page), ``fuzz`` (hypothesis strategies, decompression bombs), ``memory_limit`` (code under an address-space
limit), ``filesystem`` (a read-only directory), ``runtime_side`` (the runtime side's modules and the libraries it
must not import), ``import_guard`` (a process without those libraries), ``run_backend`` (a backend's features from
another process or Python), ``model_set`` (the models and photographs of test_tensorrt_real.py), the packages
``trt_double`` (TensorRT and cuda-python doubles), ``reliability`` (node processes, the probe side, scenarios) and
``dds`` (camera processes and the probe of one node over DDS, for ``scripts/dds_delivery.py`` and
``scripts/node_overhead.py`` too).

pytest.ini puts ``test/`` on ``sys.path`` (``pythonpath = test``), so tests import ``support.<module>``; subprocesses
get it through :func:`support.paths.subprocess_environment`.
"""
