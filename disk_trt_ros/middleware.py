# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The middleware settings of a node's process, so that camera frames from other processes on the host arrive.

With Fast DDS's defaults a same-host publisher writes each message into its own shared-memory segment (512 KiB),
in 64 kB fragments; a frame larger than that segment overwrites its own first fragments before the node's
receive thread has taken them, so a best-effort subscription loses almost every VGA or larger frame and a reliable
one depends on repairs (docs/dds.md has the mechanism and the measurements). The camera's segment belongs to the
camera's process, so the node cannot enlarge it. The node's profile (``data/fastdds_node.xml``) instead announces
only a UDPv4 locator for user data, so publishers send frames to it over the loopback interface into a large socket
receive buffer, while the node keeps shared memory, with a larger segment, for what it publishes.

Every node's ``main`` (:func:`disk_trt_ros.node.process.run_node`) calls :func:`configure_middleware` before
``rclpy.init``; it applies the profile unless the user configured the middleware or opted out
(:data:`OPT_OUT_VARIABLE`). :func:`middleware_state` says what is in force without changing anything, and
:func:`loss_advice` turns it into the likely cause of lost messages and the fix.
ROS-free: this module only reads and sets environment variables and reads ``/proc``.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from pathlib import Path
from typing import Mapping, MutableMapping

from disk_trt_ros.errors import NodeConfigurationError

PROFILE = Path(__file__).resolve().with_name("data") / "fastdds_node.xml"
PROFILE_VARIABLE = "FASTRTPS_DEFAULT_PROFILES_FILE"  # Fast DDS 2.x (Jazzy); 3.x reads FASTDDS_DEFAULT_PROFILES_FILE
OPT_OUT_VARIABLE = "DISK_TRT_ROS_FASTDDS_PROFILE"  # 0: leave Fast DDS as the environment configures it
_OFF = ("0", "false", "off", "no")
_ON = ("", "1", "true", "on", "yes")
# Any of these set means the user configured Fast DDS: their settings win, the node's profile is not applied.
USER_SETTINGS = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS")
# Files Fast DDS loads from the working directory unless SKIP_DEFAULT_XML_FILE=1 (2.x and 3.x names).
WORKING_DIRECTORY_PROFILES = ("DEFAULT_FASTRTPS_PROFILES.xml", "DEFAULT_FASTDDS_PROFILES.xml")
FASTDDS_RMWS = ("rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp")
DEFAULT_RMW = "rmw_fastrtps_cpp"  # ROS 2 Jazzy's default middleware
RMEM_MAX = Path("/proc/sys/net/core/rmem_max")
DOCUMENTATION = "docs/dds.md"


class Setup(enum.Enum):
    """Who configures the middleware of this process."""

    PACKAGE_PROFILE = "package_profile"  # the node's Fast DDS profile
    USER_CONFIGURATION = "user_configuration"  # a Fast DDS profile or builtin transports of the user's
    OPTED_OUT = "opted_out"  # OPT_OUT_VARIABLE=0: Fast DDS's own defaults
    NOT_APPLIED = "not_applied"  # Fast DDS's defaults: configure_middleware did not run in this process
    OTHER_MIDDLEWARE = "other_middleware"  # RMW_IMPLEMENTATION names a middleware other than Fast DDS


@dataclasses.dataclass(frozen=True)
class MiddlewareState:
    """What configures the middleware (``setup``) and, for the node's log, what that means (``description``)."""

    setup: Setup
    description: str


def middleware_state(
    environ: Mapping[str, str] | None = None, working_directory: Path | None = None
) -> MiddlewareState:
    """What is in force for a participant created now, without changing anything.

    Args:
        environ: the environment Fast DDS reads (default: this process's).
        working_directory: where Fast DDS looks for its default profile file (default: the current directory).
    """
    environ = os.environ if environ is None else environ
    directory = Path.cwd() if working_directory is None else working_directory
    rmw = environ.get("RMW_IMPLEMENTATION") or DEFAULT_RMW
    if rmw not in FASTDDS_RMWS:
        return MiddlewareState(Setup.OTHER_MIDDLEWARE, f"middleware {rmw}, as configured (the node's profile is "
                                                       "for Fast DDS only)")
    if environ.get(PROFILE_VARIABLE) == str(PROFILE):
        return MiddlewareState(Setup.PACKAGE_PROFILE, (
            f"Fast DDS with the node's profile {PROFILE}: frames are received over UDP into a socket buffer of up to "
            f"2 x net.core.rmem_max = {socket_receive_limit_text()}; {OPT_OUT_VARIABLE}=0 turns it off"))
    for name in USER_SETTINGS:
        if environ.get(name):
            return MiddlewareState(Setup.USER_CONFIGURATION, f"Fast DDS as configured by {name}={environ[name]}; "
                                                             "the node's profile is not applied")
    if environ.get("SKIP_DEFAULT_XML_FILE") != "1":
        for name in WORKING_DIRECTORY_PROFILES:
            if (directory / name).is_file():
                return MiddlewareState(Setup.USER_CONFIGURATION, f"Fast DDS as configured by {directory / name}; "
                                                                 "the node's profile is not applied")
    if not profile_wanted(environ):
        return MiddlewareState(Setup.OPTED_OUT, f"Fast DDS with its own defaults ({OPT_OUT_VARIABLE}="
                                                f"{environ[OPT_OUT_VARIABLE]}): the node's profile is not applied")
    return MiddlewareState(Setup.NOT_APPLIED, "Fast DDS with its own defaults: the node's profile was not applied "
                                              "(the node was not started by its main)")


def configure_middleware(
    environ: MutableMapping[str, str] | None = None, working_directory: Path | None = None
) -> MiddlewareState:
    """Point Fast DDS at the node's profile unless the user configured the middleware or opted out; call it
    before ``rclpy.init`` (Fast DDS reads its profile when the process's first participant is created).

    The profile is applied only where :func:`middleware_state` finds nothing configured: the middleware is Fast DDS
    (``RMW_IMPLEMENTATION`` unset or a Fast DDS RMW), none of :data:`USER_SETTINGS` is set, no default profile file
    lies in the working directory and :data:`OPT_OUT_VARIABLE` is not ``0``.

    Returns:
        What is in force afterwards; its ``description`` is the line for the node's log.

    Raises:
        NodeConfigurationError: :data:`OPT_OUT_VARIABLE` has a value that is neither on nor off.
    """
    environ = os.environ if environ is None else environ
    profile_wanted(environ, strict=True)
    state = middleware_state(environ, working_directory)
    if state.setup is not Setup.NOT_APPLIED:
        return state
    environ[PROFILE_VARIABLE] = str(PROFILE)
    return middleware_state(environ, working_directory)


def profile_wanted(environ: Mapping[str, str], strict: bool = False) -> bool:
    """False where :data:`OPT_OUT_VARIABLE` is 0 (or false, off, no); with ``strict``, any value that is neither
    that nor 1 (true, on, yes, empty) raises :class:`NodeConfigurationError`."""
    value = environ.get(OPT_OUT_VARIABLE, "").strip().lower()
    if strict and value not in _OFF + _ON:
        raise NodeConfigurationError(
            f"{OPT_OUT_VARIABLE}={environ[OPT_OUT_VARIABLE]!r} is neither 0 nor 1: set it to 0 to keep Fast DDS's own "
            "settings, or unset it (or 1) for the node's profile"
        )
    return value not in _OFF


def socket_receive_limit() -> int | None:
    """The largest UDP receive buffer an unprivileged process gets here, in bytes (Linux doubles ``rmem_max`` for its
    bookkeeping); None where ``/proc/sys/net/core/rmem_max`` cannot be read."""
    try:
        return 2 * int(RMEM_MAX.read_text())
    except (OSError, ValueError):
        return None


def socket_receive_limit_text() -> str:
    """:func:`socket_receive_limit` in MiB for the node's log, or ``unknown``."""
    limit = socket_receive_limit()
    return "unknown" if limit is None else f"{limit / 2**20:.1f} MiB"


def sufficient_rmem_max(frame_bytes: int) -> int:
    """The ``net.core.rmem_max`` to recommend for frames of ``frame_bytes``: the next power of two at or above the
    frame size, at least 1 MiB (the socket then holds two frames; measured in docs/dds.md)."""
    return max(2**20, 1 << max(0, frame_bytes - 1).bit_length())


@dataclasses.dataclass(frozen=True)
class LossWording:
    """How :func:`loss_advice` names what was lost, who sent it, and the command that starts the node; the defaults
    are the detector's (:data:`IMAGE_LOSS`, camera frames), :data:`KEYPOINTS_LOSS` the matcher's."""

    messages: str = "frames"
    sender: str = "camera"
    node_main: str = "python -m disk_trt_ros.node"


IMAGE_LOSS = LossWording()
KEYPOINTS_LOSS = LossWording("Keypoints messages", "publisher", "python -m disk_trt_ros.node.matcher_node")


def loss_advice(
    state: MiddlewareState, frame_bytes: int, receive_limit: int | None, in_transport: bool,
    wording: LossWording = IMAGE_LOSS,
) -> str:
    """The likely cause of messages lost before the node, and the fix, in one sentence for /diagnostics and the log.

    Args:
        state: what configures the middleware (:func:`middleware_state`).
        frame_bytes: size of the latest message's data (an image's pixels, a Keypoints message's arrays).
        receive_limit: :func:`socket_receive_limit`.
        in_transport: whether the middleware reported the losses (message_lost: messages that never arrived whole);
            otherwise they were seen only as gaps in a publisher's sequence numbers, messages that arrived but were
            overwritten in the subscription's queue before the node's executor took them.
        wording: what the sentence calls the messages, their sender and the node's main.
    """
    messages, sender = wording.messages, wording.sender
    if not in_transport:
        return (f"{messages} arrived but were overwritten in the subscription's queue before the node took them: the "
                "node's executor thread got no CPU for several frame periods (an overloaded machine)")
    if state.setup is Setup.USER_CONFIGURATION:
        return f"your own middleware configuration is in force ({state.description}); see {DOCUMENTATION}"
    if state.setup in (Setup.OPTED_OUT, Setup.NOT_APPLIED):
        return (f"{state.description}, so large {messages} from a same-host {sender} overrun the {sender}'s 512 KiB "
                f"shared-memory segment: unset {OPT_OUT_VARIABLE} and start the node with its main "
                f"({wording.node_main}, ros2 run or ros2 launch); see {DOCUMENTATION}")
    if receive_limit is not None and receive_limit < 2 * frame_bytes:
        return (f"{messages} of {frame_bytes} bytes do not fit twice in the socket receive buffer (2 x "
                f"net.core.rmem_max = {receive_limit} bytes): run 'sudo sysctl -w "
                f"net.core.rmem_max={sufficient_rmem_max(frame_bytes)}' (and keep it in /etc/sysctl.d, see "
                f"{DOCUMENTATION})")
    if state.setup is Setup.OTHER_MIDDLEWARE:
        return f"{state.description}; see {DOCUMENTATION} for the socket buffers and QoS that large {messages} need"
    return (f"the socket buffer holds two {messages}, so the network or a sender that outpaces the node is the likely "
            f"cause; a reliable {sender} with qos_reliability:=reliable repairs losses (see {DOCUMENTATION})")
