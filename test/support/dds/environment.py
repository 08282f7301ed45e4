# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The middleware environment of the DDS harness's processes: only what a run asks for, nothing inherited."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from disk_trt_ros.middleware import OPT_OUT_VARIABLE, USER_SETTINGS
from support.paths import subprocess_environment

# Whatever configures the middleware: a process of the harness gets only what its run asks for.
MIDDLEWARE_VARIABLES = (*USER_SETTINGS, OPT_OUT_VARIABLE, "RMW_FASTRTPS_USE_QOS_FROM_XML",
                        "RMW_FASTRTPS_PUBLICATION_MODE", "ROS_LOCALHOST_ONLY", "ROS_AUTOMATIC_DISCOVERY_RANGE",
                        "RMW_IMPLEMENTATION")
PROFILE_OFF = {OPT_OUT_VARIABLE: "0"}  # a node with Fast DDS's own defaults


def child_environment(domain_id: int, variables: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment (``test/`` on PYTHONPATH) without :data:`MIDDLEWARE_VARIABLES`, plus ``variables``
    and the run's domain; output unbuffered, so that a child's log is read as it happens."""
    environment = {key: value for key, value in subprocess_environment().items() if key not in MIDDLEWARE_VARIABLES}
    return {**environment, **(variables or {}), "ROS_DOMAIN_ID": str(domain_id), "PYTHONUNBUFFERED": "1",
            "RCUTILS_LOGGING_BUFFERED_STREAM": "0"}


@contextlib.contextmanager
def middleware_environment(variables: dict[str, str]) -> Iterator[None]:
    """This process's environment with only ``variables`` of :data:`MIDDLEWARE_VARIABLES` while the block runs (Fast
    DDS reads it when a participant is created), restored after."""
    saved = {key: os.environ.pop(key) for key in MIDDLEWARE_VARIABLES if key in os.environ}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key in MIDDLEWARE_VARIABLES:
            os.environ.pop(key, None)
        os.environ.update(saved)
