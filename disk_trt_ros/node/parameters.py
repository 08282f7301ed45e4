# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The nodes' parameters: read-only, declared with descriptors (description, allowed values, ranges) and checked
once at start; and the reliabilities a subscription may ask for."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Sequence

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.qos import ReliabilityPolicy

from disk_trt_ros.errors import NodeConfigurationError

RELIABILITIES = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}


class Parameter(NamedTuple):
    """A parameter's default, its descriptor, and the values it may take (none listed: any of its type)."""

    default: Any
    descriptor: ParameterDescriptor
    choices: tuple[str, ...]


def parameter(default: Any, description: str, choices: Sequence[str] = (), **ranges: Any) -> Parameter:
    """A read-only parameter (read once at start); ``choices`` are listed in the descriptor and enforced."""
    constraints = f"one of: {', '.join(choices)}" if choices else ""
    descriptor = ParameterDescriptor(
        description=description, additional_constraints=constraints, read_only=True, **ranges
    )
    return Parameter(default, descriptor, tuple(choices))


def declare_parameters(node: Node, table: Mapping[str, Parameter]) -> dict[str, Any]:
    """Declare ``table``'s parameters on ``node`` and return their values.

    Raises:
        NodeConfigurationError: a value of the wrong type, out of range, or not among the allowed choices.
    """
    values: dict[str, Any] = {}
    for name, declared in table.items():
        try:
            values[name] = node.declare_parameter(name, declared.default, declared.descriptor).value
        except (InvalidParameterTypeException, InvalidParameterValueException) as error:
            raise NodeConfigurationError(
                f"invalid parameter '{name}' ({declared.descriptor.description}): {error}"
            ) from None
        if declared.choices and values[name] not in declared.choices:
            raise NodeConfigurationError(
                f"invalid parameter '{name}': {values[name]!r} is not one of {', '.join(declared.choices)}"
            )
    return values
