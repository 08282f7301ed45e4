"""The ROS 2 node: image messages in, ``disk_trt_ros/msg/Keypoints`` out.

Modules follow the frame's path: the conversion of the message to the model's input and of keypoints back to the
source frame (``disk_trt_ros.image_conversion``, ROS-free, shared with ``eval`` and ``bench``), the backend
(``disk_trt_ros.inference``), ``keypoints_message`` (features to the message), and around them ``disk_node``
(parameters, topics, worker thread), ``diagnostics`` and ``debug_image``. Run it with
``python -m disk_trt_ros.node --ros-args -p model:=disk.onnx`` or ``ros2 run disk_trt_ros disk_node``.
"""
