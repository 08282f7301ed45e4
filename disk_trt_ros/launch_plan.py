# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""What ``launch/disk.launch.py`` starts, decided without the ``launch`` library so that it can be tested anywhere.

The launch file's arguments override the parameters file; an empty argument keeps the file's value. When the
backend resolves to TensorRT, ``build_engine`` runs first (``--if-needed``) and the nodes start only if it succeeds.
With ``matcher`` other than ``none``, ``matcher_node`` starts beside the detector (:func:`plan_matcher`); in stereo
mode there are two detectors, ``left`` and ``right`` (:func:`detector_placements`).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import yaml

from disk_trt_ros.contract import NODE_NAME, BackendName, MatcherMethod, Precision
from disk_trt_ros.errors import NodeConfigurationError
from disk_trt_ros.inference.registry import resolve_backend_name
from disk_trt_ros.inference.tensorrt.record import default_engine_path

LAUNCH_PARAMETERS = ("model", "engine", "backend", "precision")
NO_MATCHER = "none"
MATCHER_MODES = ("temporal", "stereo")


@dataclasses.dataclass(frozen=True)
class LaunchPlan:
    """The resolved choices: absolute model and engine paths, and the backend with the reason it was chosen."""

    model: str
    engine: str
    backend: str
    reason: str
    precision: str

    @property
    def builds_engine(self) -> bool:
        return self.backend == BackendName.TENSORRT

    def build_engine_arguments(self) -> list[str]:
        """Arguments of ``build_engine`` (``python -m disk_trt_ros build-engine``) for this plan."""
        return ["--onnx", self.model, "--engine", self.engine, "--if-needed", f"--{self.precision}"]

    def node_parameters(self) -> dict[str, str]:
        """Parameters that override the parameters file: the node runs exactly what the launch resolved."""
        return {"model": self.model, "engine": self.engine, "backend": self.backend, "precision": self.precision}


def image_remappings(image_topic: str) -> list[tuple[str, str]]:
    """Remap the node's ``image`` and ``image/compressed`` to ``image_topic`` and its compressed sibling."""
    return [("image", image_topic), ("image/compressed", f"{image_topic.rstrip('/')}/compressed")]


def read_node_parameters(config: str | os.PathLike[str], namespace: str = "") -> dict[str, Any]:
    """The ``ros__parameters`` a ROS 2 parameters file gives ``disk_node`` in ``namespace``, later entries winning.

    Entries are keyed by node name (``disk_node``), fully qualified name (``/ns/disk_node``) or wildcards
    (``/**``, ``/**/disk_node``, ``*`` for one name token), as rcl reads them.

    Raises:
        NodeConfigurationError: the file cannot be read or is not a parameters file.
    """
    try:
        document = yaml.safe_load(Path(config).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise NodeConfigurationError(f"cannot read the parameters file {config}: {error}") from error
    if not isinstance(document, dict):
        raise NodeConfigurationError(f"{config} is not a ROS 2 parameters file (expected 'NODE: ros__parameters: ...')")
    node_path = "/".join(part for part in (*namespace.strip("/").split("/"), NODE_NAME) if part)
    parameters: dict[str, Any] = {}
    for key, entry in document.items():
        if _node_pattern(str(key)).fullmatch(f"/{node_path}") and isinstance(entry, dict):
            parameters.update(entry.get("ros__parameters") or {})
    return parameters


def _node_pattern(key: str) -> re.Pattern[str]:
    """A parameters-file key as a regular expression over fully qualified node names (``/ns/disk_node``)."""
    tokens = []
    for token in key.strip("/").split("/"):
        if token == "**":
            tokens.append("(?:/[^/]+)*")
        else:
            tokens.append("/" + "[^/]*".join(re.escape(piece) for piece in token.split("*")))
    return re.compile("".join(tokens))


def plan_launch(
    config: str | os.PathLike[str],
    model: str = "",
    engine: str = "",
    backend: str = "",
    precision: str = "",
    namespace: str = "",
) -> LaunchPlan:
    """Resolve the launch arguments against the parameters file ``config``; empty arguments take its values.

    Raises:
        NodeConfigurationError: no model anywhere, an unknown precision, or an unreadable parameters file.
        OptionsError: an unknown backend.
    """
    from_file = read_node_parameters(config, namespace)
    given = {"model": model, "engine": engine, "backend": backend, "precision": precision}
    values = {name: str(given[name] or from_file.get(name) or "") for name in LAUNCH_PARAMETERS}
    if not values["model"]:
        raise NodeConfigurationError(f"no model: set 'model' in {config} or pass model:=/path/to/disk.onnx")
    precision = values["precision"] or "fp16"
    if precision not in Precision.values():
        raise NodeConfigurationError(f"precision {precision!r}: choose one of {', '.join(Precision.values())}")
    model_path = Path(values["model"]).expanduser().absolute()
    engine_path = (
        Path(values["engine"]).expanduser().absolute()
        if values["engine"]
        else default_engine_path(model_path, precision)
    )
    name, reason = resolve_backend_name(values["backend"] or "auto")
    return LaunchPlan(str(model_path), str(engine_path), str(name), reason, precision)


@dataclasses.dataclass(frozen=True)
class MatcherPlan:
    """The matcher node's resolved parameters: method, mode, LightGlue's model (absolute, or empty), backend and
    precision (of LightGlue's engine)."""

    method: str
    mode: str
    model: str
    backend: str
    precision: str

    def node_parameters(self) -> dict[str, str]:
        return {
            "matcher": self.method, "mode": self.mode, "model": self.model, "backend": self.backend,
            "precision": self.precision,
        }


def plan_matcher(matcher: str, mode: str, model: str, backend: str, precision: str) -> MatcherPlan | None:
    """The matcher node the launch starts, or None for ``matcher:=none``.

    Raises:
        NodeConfigurationError: an unknown matcher or mode, or LightGlue without a model.
    """
    if matcher == NO_MATCHER:
        return None
    choices = (NO_MATCHER, *MatcherMethod.values())
    if matcher not in choices:
        raise NodeConfigurationError(f"matcher {matcher!r}: choose one of {', '.join(choices)}")
    if mode not in MATCHER_MODES:
        raise NodeConfigurationError(f"matcher_mode {mode!r}: choose one of {', '.join(MATCHER_MODES)}")
    if matcher == MatcherMethod.LIGHTGLUE and not model:
        raise NodeConfigurationError(
            "matcher:=lightglue needs matcher_model:=/path/to/lightglue.onnx (python -m disk_trt_ros export-matcher "
            "--extractor disk.onnx --output lightglue.onnx)"
        )
    model_path = str(Path(model).expanduser().absolute()) if model else ""
    return MatcherPlan(matcher, mode, model_path, backend or BackendName.AUTO.value, precision)


def detector_placements(
    mode: str, namespace: str, image_topic: str, right_image_topic: str
) -> list[tuple[str, list[tuple[str, str]]]]:
    """``(namespace, remappings)`` of each ``disk_node`` the launch starts: one on ``image_topic``, or in stereo mode
    a ``left`` one on ``image_topic`` and a ``right`` one on ``right_image_topic``, in the namespaces below
    ``namespace`` where the matcher's ``left/keypoints`` and ``right/keypoints`` find them."""
    if mode != "stereo":
        return [(namespace, image_remappings(image_topic))]
    return [
        (f"{namespace.rstrip('/')}/{side}" if namespace else side, image_remappings(topic))
        for side, topic in (("left", image_topic), ("right", right_image_topic))
    ]
