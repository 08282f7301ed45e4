# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The reliability harness: disk_node as child processes, fed over real DDS from this process, with every frame's
fate, latency, the node's resources and its shutdown recorded.

Each scenario starts ``python -m disk_trt_ros.node`` (ONNX Runtime, one thread) as its own process, publishes
``sensor_msgs/Image`` frames to it from this process and records:
    - every frame's fate: sent here; received, published, dropped, rejected (bad message) and failed (inference
      error) by the node, from its ``/diagnostics``; keypoints messages received here, each checked (coordinates
      inside the source image, finite values, count <= K, unit descriptors, a stamp that was sent, once). Frames
      sent but never received are lost before the node's callback: the subscription's DDS queue (KEEP_LAST, depth
      5) overwrites its oldest message when the node's executor thread gets no CPU for depth / rate seconds, and
      neither DDS nor rclpy reports that to the node, so only this side can count them;
    - end-to-end latency, from publication here to the receipt of the frame's keypoints here;
    - the node process's resident memory, open file descriptors and threads, read from ``/proc`` twice a second;
    - the node's shutdown on SIGINT at the end: exit status and seconds.

Modules: ``frames`` (what is sent and how an answer is checked), ``node_process`` (the node as a child process),
``camera`` (this side of one node), ``results`` (the figures and :meth:`~.results.ScenarioResult.failures`, the
properties issue 6 asks for), ``scenario`` (:func:`~.scenario.run_scenario`). ``scripts/reliability.py`` runs the
scenarios at full length; ``test_node_load.py`` and ``test_soak.py`` run them shortened and assert the same
properties, never absolute times. Needs rclpy and the built Keypoints interface.
"""
