# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""``ros2 launch disk_trt_ros disk.launch.py [image_topic:=...] [model:=...] [matcher:=mnn] ...``: the DISK node,
and optionally the matcher node on its keypoints.

Arguments left empty keep the parameters file's values (``config``, by default the package's config/disk.yaml).
When the backend resolves to TensorRT, ``build_engine --if-needed`` runs first and the nodes start only when it
exits 0; a failed build ends the launch with the builder's message. Otherwise the nodes start directly.
``matcher:=mnn`` or ``matcher:=lightglue`` (with ``matcher_model:=``) adds ``matcher_node``: in temporal mode on the
detector's ``keypoints``; with ``matcher_mode:=stereo`` two detectors run, ``left`` on ``image_topic`` and ``right``
on ``right_image_topic``, and the matcher pairs their keypoints by stamp.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_prefix
from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
    Shutdown,
    TimerAction,
)
from launch.event_handlers import OnProcessExit, OnProcessIO
from launch.events.process import ProcessExited, ProcessIO
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from disk_trt_ros.contract import MATCHER_NODE_NAME, NODE_NAME
from disk_trt_ros.launch_plan import LaunchPlan, detector_placements, plan_launch, plan_matcher
from launch import LaunchContext, LaunchDescription, LaunchDescriptionEntity

PACKAGE = "disk_trt_ros"
BUILDER_MESSAGE_LINES = 5  # of the builder's stderr, quoted when it fails
STDERR_GRACE_S = 0.5

ARGUMENTS = {
    "config": (
        PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "disk.yaml"]), "parameters file of disk_node"
    ),
    "image_topic": (
        "/camera/image_raw", "sensor_msgs/Image topic; IMAGE_TOPIC/compressed with image_transport compressed"
    ),
    "model": ("", "exported ONNX model; empty: the parameters file's"),
    "engine": ("", "TensorRT engine file; empty: the parameters file's, else beside the model"),
    "backend": ("", "auto, tensorrt, onnxruntime or torch; empty: the parameters file's"),
    "precision": ("", "fp16 or fp32; empty: the parameters file's"),
    "namespace": ("", "namespace of the nodes"),
    "matcher": ("none", "none, mnn or lightglue: also start matcher_node on the detector's keypoints"),
    "matcher_mode": ("temporal", "temporal (frame t-1 with frame t) or stereo (left and right detectors)"),
    "matcher_model": ("", "LightGlue's exported matcher (python -m disk_trt_ros export-matcher)"),
    "matcher_backend": ("auto", "the matcher's backend: auto, tensorrt, onnxruntime or torch"),
    "right_image_topic": ("/camera/right/image_raw", "stereo: the right camera's image topic (image_topic: left)"),
}


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description)
          for name, (default, description) in ARGUMENTS.items()),
        OpaqueFunction(function=start),
    ])


def start(context: LaunchContext) -> list[LaunchDescriptionEntity]:
    """Resolve the arguments (see :func:`disk_trt_ros.launch_plan.plan_launch`) and start what they call for."""
    argument = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    plan = plan_launch(
        argument["config"], argument["model"], argument["engine"], argument["backend"], argument["precision"],
        argument["namespace"],
    )
    matcher = plan_matcher(
        argument["matcher"], argument["matcher_mode"], argument["matcher_model"], argument["matcher_backend"],
        plan.precision,
    )
    mode = matcher.mode if matcher is not None else "temporal"
    nodes = [
        Node(
            package=PACKAGE,
            executable="disk_node",
            name=NODE_NAME,
            namespace=namespace,
            parameters=[argument["config"], plan.node_parameters()],
            remappings=remappings,
            output="screen",
        )
        for namespace, remappings in detector_placements(
            mode, argument["namespace"], argument["image_topic"], argument["right_image_topic"]
        )
    ]
    if matcher is not None:
        nodes.append(Node(
            package=PACKAGE,
            executable="matcher_node",
            name=MATCHER_NODE_NAME,
            namespace=argument["namespace"],
            parameters=[matcher.node_parameters()],
            output="screen",
        ))
    chosen = LogInfo(msg=f"disk_trt_ros: backend {plan.backend} ({plan.reason}), model {plan.model}")
    if not plan.builds_engine:
        return [chosen, *nodes]
    return [chosen, *build_engine_then(nodes, plan)]


def build_engine_then(nodes: list[Node], plan: LaunchPlan) -> list[LaunchDescriptionEntity]:
    """``build_engine`` for ``plan``, then ``nodes`` when it exits 0, else a shutdown with the builder's last errors."""
    builder = ExecuteProcess(
        cmd=[os.path.join(get_package_prefix(PACKAGE), "lib", PACKAGE, "build_engine"), *plan.build_engine_arguments()],
        name="build_engine",
        output="screen",
    )
    errors: list[str] = []

    def keep_errors(event: ProcessIO) -> None:
        errors.extend(line for line in event.text.decode(errors="replace").splitlines() if line.strip())

    def give_up(returncode: int) -> list[LaunchDescriptionEntity]:
        message = "\n".join(errors[-BUILDER_MESSAGE_LINES:]) or "(no message on stderr)"
        reason = f"build_engine failed with exit code {returncode}, disk_node not started: {message}"
        return [LogInfo(msg=reason), Shutdown(reason=reason)]

    def after_build(event: ProcessExited, context: LaunchContext) -> list[LaunchDescriptionEntity]:
        if event.returncode == 0:
            return list(nodes)
        # launch can report the exit before the builder's last stderr lines: let them arrive first.
        report = OpaqueFunction(function=lambda _: give_up(event.returncode))
        return [TimerAction(period=STDERR_GRACE_S, actions=[report])]

    return [
        RegisterEventHandler(OnProcessIO(target_action=builder, on_stderr=keep_errors)),
        RegisterEventHandler(OnProcessExit(target_action=builder, on_exit=after_build)),
        builder,
    ]
