"""Harnesses shared by the test modules (and by ``scripts/reliability.py``); test modules never import each other.

Modules: ``paths`` (the checkout, ../shared's photographs, the environment of test subprocesses), ``waiting``
(:func:`~support.waiting.wait_until`), ``images`` (test images and Image messages), ``reference`` (kornia's DISK as
the reference; imports PyTorch), ``ros`` (spinning an rclpy node), ``node_harness`` (a DiskNode in this process
beside a probe node), ``fuzz`` (hypothesis strategies), the packages ``trt_double`` (TensorRT and cuda-python
doubles), ``reliability`` (node processes, the probe side, scenarios) and ``dds`` (camera processes and the probe
of one node over DDS, for ``scripts/dds_delivery.py`` and ``scripts/node_overhead.py`` too).

pytest.ini puts ``test/`` on ``sys.path`` (``pythonpath = test``), so tests import ``support.<module>``; subprocesses
get it through :func:`support.paths.subprocess_environment`.
"""
