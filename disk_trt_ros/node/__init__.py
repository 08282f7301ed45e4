"""The ROS 2 node: image messages in, ``disk_trt_ros/msg/Keypoints`` out.

Modules follow the frame's path: ``image_conversion`` (message to model input and keypoints back to the source
frame), the backend (``disk_trt_ros.inference``), ``keypoints_message`` (features to the message), and around them
``disk_node`` (parameters, topics, worker thread), ``diagnostics`` and ``debug_image``. Run it with
``python -m disk_trt_ros.node --ros-args -p model:=disk.onnx`` or ``ros2 run disk_trt_ros disk_node``.
"""
