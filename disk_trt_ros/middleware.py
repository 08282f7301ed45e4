"""The middleware settings of disk_node's process: camera frames from other processes on the host must arrive.

With Fast DDS's defaults a same-host publisher writes each message into its own shared-memory segment (512 KiB),
in 64 kB fragments; a frame larger than that segment overwrites its own first fragments before the node's
receive thread has taken them, so a best-effort subscription loses almost every VGA or larger frame and a reliable
one depends on repairs (docs/dds.md has the mechanism and the measurements). The camera's segment belongs to the
camera's process, so the node cannot enlarge it. Its profile (``data/fastdds_node.xml``) instead announces only a
UDPv4 locator for user data, so publishers send frames to it over the loopback interface into a large socket
receive buffer, while the node keeps shared memory, with a larger segment, for what it publishes.

:func:`configure_fastdds` applies that profile before ``rclpy.init`` unless the user configured Fast DDS.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import MutableMapping

PROFILE = Path(__file__).resolve().with_name("data") / "fastdds_node.xml"
PROFILE_VARIABLE = "FASTRTPS_DEFAULT_PROFILES_FILE"  # Fast DDS 2.x (ROS 2 Jazzy); 3.x reads FASTDDS_DEFAULT_PROFILES_FILE
# Any of these set means the user configured Fast DDS: their settings win, the node's profile is not applied.
USER_SETTINGS = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS")
# Files Fast DDS loads from the working directory unless SKIP_DEFAULT_XML_FILE=1 (2.x and 3.x names).
WORKING_DIRECTORY_PROFILES = ("DEFAULT_FASTRTPS_PROFILES.xml", "DEFAULT_FASTDDS_PROFILES.xml")
FASTDDS_RMWS = ("rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp")
DEFAULT_RMW = "rmw_fastrtps_cpp"  # ROS 2 Jazzy's default middleware
RMEM_MAX = Path("/proc/sys/net/core/rmem_max")


def configure_fastdds(environ: MutableMapping[str, str] | None = None, working_directory: Path | None = None) -> str:
    """Point Fast DDS at the node's profile unless the user configured the middleware; call before ``rclpy.init``.

    The profile is applied only when the middleware is Fast DDS (``RMW_IMPLEMENTATION`` unset or a Fast DDS RMW),
    none of :data:`USER_SETTINGS` is set and no default profile file lies in the working directory. To keep Fast
    DDS's own defaults instead, set ``FASTDDS_BUILTIN_TRANSPORTS=DEFAULT``.

    Args:
        environ: the environment to read and change (default: this process's, which Fast DDS reads).
        working_directory: where Fast DDS looks for its default profile file (default: the current directory).

    Returns:
        One line for the node's log: what was decided and why.
    """
    environ = os.environ if environ is None else environ
    directory = Path.cwd() if working_directory is None else working_directory
    rmw = environ.get("RMW_IMPLEMENTATION") or DEFAULT_RMW
    if rmw not in FASTDDS_RMWS:
        return f"middleware {rmw}: used as configured (the node's profile is for Fast DDS only)"
    for name in USER_SETTINGS:
        if environ.get(name):
            return f"Fast DDS: configured by {name}={environ[name]}; the node's profile is not applied"
    if environ.get("SKIP_DEFAULT_XML_FILE") != "1":
        for name in WORKING_DIRECTORY_PROFILES:
            if (directory / name).is_file():
                return f"Fast DDS: configured by {directory / name}; the node's profile is not applied"
    environ[PROFILE_VARIABLE] = str(PROFILE)
    return (f"Fast DDS: the node's profile {PROFILE} (frames received over UDP into a socket buffer of up to "
            f"2 x net.core.rmem_max = {socket_receive_limit_text()}); set FASTDDS_BUILTIN_TRANSPORTS=DEFAULT "
            "or your own FASTRTPS_DEFAULT_PROFILES_FILE to override")


def socket_receive_limit() -> int | None:
    """The largest UDP receive buffer an unprivileged process gets here, in bytes (Linux doubles ``rmem_max`` for its
    bookkeeping); None where ``/proc/sys/net/core/rmem_max`` cannot be read."""
    try:
        return 2 * int(RMEM_MAX.read_text())
    except (OSError, ValueError):
        return None


def socket_receive_limit_text() -> str:
    limit = socket_receive_limit()
    return "unknown" if limit is None else f"{limit / 2**20:.1f} MiB"
