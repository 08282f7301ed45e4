# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""Per-frame timestamps inside disk_node's process, and prototypes of proposed changes (scripts/node_overhead.py).

:func:`install` patches, in the node's process only, the functions a frame goes through and records for each frame
(by the index in its header stamp's nanoseconds, see test/support/reliability/frames.py) the ``time.time()`` of
each event:

    source      the camera's DataWriter wrote the sample (DDS source timestamp, from the message info)
    reception   the node's DataReader had the whole sample (DDS reception timestamp)
    take_start  the executor began taking it (rmw take + deserialisation into a Python message)
    take_end    ... the Python message is ready
    callback    DiskNode._on_image entered          handed      ... returned (the frame is in the LatestSlot)
    worker      DiskNode._process entered in the worker thread
    convert_start/convert_end   ImageConverter.from_image
    backend_start/backend_end   Backend.run
    build_start/build_end       keypoints_message
    publish_start/publish_end   Publisher.publish of the Keypoints message

Prototypes (``--prototype NAME``) change the node's behaviour the way a proposed fix would (or back to how it
was), for measurement:
    events_executor   rclpy.experimental.EventsExecutor (the C++ events executor of rclpy 7.1) instead of the
                      SingleThreadedExecutor of node.process.run_node (rclpy 7.1.6: a subscription callback that
                      takes the message info, as the node's does, raises SystemError, and the node hangs);
    switch_interval   sys.setswitchinterval(0.0005): a thread waiting for the GIL gets it after 0.5 ms, not 5 ms;
    ort_spinning      ONNX Runtime's idle intra-op threads spin, as they did before the backend turned spinning
                      off (``session.intra_op.allow_spinning=1``, ONNX Runtime's default).
The records are written as JSON to the trace path when the node's ``main`` returns.
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

PROTOTYPES = ("events_executor", "switch_interval", "ort_spinning")

RECORDS: dict[int, dict[str, float]] = {}
_last_take: list[float] = [0.0, 0.0]
_current = threading.local()  # the frame index the worker thread is processing


def _frame(index: int) -> dict[str, float]:
    return RECORDS.setdefault(index, {})


def _timed(function: Callable[..., Any], start: str, end: str) -> Callable[..., Any]:
    """``function`` recording ``start`` and ``end`` for the worker's current frame."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        record = _frame(getattr(_current, "index", -1))
        record[start] = time.time()
        try:
            return function(*args, **kwargs)
        finally:
            record[end] = time.time()

    return wrapper


def install(trace_path: Path, prototypes: Sequence[str]) -> None:
    """Patch the node's process; the records go to ``trace_path`` at exit. Unknown prototypes raise ValueError."""
    unknown = set(prototypes) - set(PROTOTYPES)
    if unknown:
        raise ValueError(f"unknown prototypes {sorted(unknown)}: choose from {', '.join(PROTOTYPES)}")
    import rclpy.executors
    import rclpy.publisher
    from sensor_msgs.msg import Image

    from disk_trt_ros import image_conversion
    from disk_trt_ros.msg import Keypoints
    from disk_trt_ros.node import disk_node

    take = rclpy.executors.Executor._take_subscription

    def take_subscription(self: Any, subscription: Any) -> Any:
        started = time.time()
        result = take(self, subscription)
        if subscription.msg_type is Image:
            _last_take[:] = [started, time.time()]
        return result

    rclpy.executors.Executor._take_subscription = take_subscription

    on_image = disk_node.DiskNode._on_image

    def on_image_wrapper(self: Any, message: Any, info: dict[str, Any]) -> None:
        called = time.time()
        record = _frame(message.header.stamp.nanosec)
        record.update(source=info["source_timestamp"] * 1e-9, reception=info["received_timestamp"] * 1e-9,
                      take_start=_last_take[0], take_end=_last_take[1], callback=called)
        on_image(self, message, info)
        record["handed"] = time.time()

    disk_node.DiskNode._on_image = on_image_wrapper

    process = disk_node.DiskNode._process

    def process_wrapper(self: Any, frame: Any) -> None:
        _current.index = frame.message.header.stamp.nanosec
        _frame(_current.index)["worker"] = time.time()
        process(self, frame)

    disk_node.DiskNode._process = process_wrapper
    image_conversion.ImageConverter.from_image = _timed(
        image_conversion.ImageConverter.from_image, "convert_start", "convert_end")
    disk_node.keypoints_message = _timed(disk_node.keypoints_message, "build_start", "build_end")
    create_backend = disk_node.create_backend

    def create_timed_backend(*args: Any, **kwargs: Any) -> Any:
        backend = create_backend(*args, **kwargs)
        backend.run = _timed(backend.run, "backend_start", "backend_end")
        return backend

    disk_node.create_backend = create_timed_backend
    publish = rclpy.publisher.Publisher.publish

    def publish_wrapper(self: Any, message: Any) -> None:
        if isinstance(message, Keypoints):
            _timed(publish, "publish_start", "publish_end")(self, message)
        else:
            publish(self, message)

    rclpy.publisher.Publisher.publish = publish_wrapper
    _install_prototypes(disk_node, prototypes)
    atexit.register(lambda: trace_path.write_text(json.dumps(RECORDS)))


def _install_prototypes(disk_node: Any, prototypes: Sequence[str]) -> None:
    if "switch_interval" in prototypes:
        sys.setswitchinterval(0.0005)
    if "events_executor" in prototypes:
        from rclpy.experimental import EventsExecutor

        from disk_trt_ros.node import process

        process.SingleThreadedExecutor = EventsExecutor
    if "ort_spinning" in prototypes:
        import onnxruntime

        class SpinningSessionOptions(onnxruntime.SessionOptions):
            def add_session_config_entry(self, key: str, value: str) -> None:
                spinning = key == "session.intra_op.allow_spinning"
                super().add_session_config_entry(key, "1" if spinning else value)

        onnxruntime.SessionOptions = SpinningSessionOptions
