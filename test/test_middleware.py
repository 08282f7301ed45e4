# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""disk_trt_ros.middleware: the node's Fast DDS profile is applied only where the user configured nothing and did not
opt out, and the advice for lost frames names the cause that applies."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from disk_trt_ros.errors import NodeConfigurationError
from disk_trt_ros.middleware import (
    KEYPOINTS_LOSS,
    OPT_OUT_VARIABLE,
    PROFILE,
    PROFILE_VARIABLE,
    USER_SETTINGS,
    MiddlewareState,
    Setup,
    configure_middleware,
    loss_advice,
    middleware_state,
    sufficient_rmem_max,
)

NAMESPACE = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
VGA_BYTES = 640 * 480 * 3


def test_applies_the_profile_when_nothing_is_configured(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert middleware_state(environ, tmp_path).setup is Setup.NOT_APPLIED
    state = configure_middleware(environ, tmp_path)
    assert environ == {PROFILE_VARIABLE: str(PROFILE)}
    assert state.setup is Setup.PACKAGE_PROFILE
    assert str(PROFILE) in state.description and f"{OPT_OUT_VARIABLE}=0" in state.description
    assert configure_middleware(environ, tmp_path) == state, "applying it twice changes nothing"


@pytest.mark.parametrize("rmw", ["rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp", ""])
def test_applies_the_profile_for_fast_dds_rmws(tmp_path: Path, rmw: str) -> None:
    environ = {"RMW_IMPLEMENTATION": rmw}
    assert configure_middleware(environ, tmp_path).setup is Setup.PACKAGE_PROFILE
    assert environ[PROFILE_VARIABLE] == str(PROFILE)


@pytest.mark.parametrize("name", USER_SETTINGS)
def test_a_user_setting_wins(tmp_path: Path, name: str) -> None:
    environ = {name: "theirs", OPT_OUT_VARIABLE: "1"}
    state = configure_middleware(environ, tmp_path)
    assert environ == {name: "theirs", OPT_OUT_VARIABLE: "1"}
    assert state.setup is Setup.USER_CONFIGURATION
    assert f"{name}=theirs" in state.description and "not applied" in state.description


@pytest.mark.parametrize("file_name", ["DEFAULT_FASTRTPS_PROFILES.xml", "DEFAULT_FASTDDS_PROFILES.xml"])
def test_a_profile_in_the_working_directory_wins(tmp_path: Path, file_name: str) -> None:
    (tmp_path / file_name).write_text("<dds/>")
    environ: dict[str, str] = {}
    state = configure_middleware(environ, tmp_path)
    assert state.setup is Setup.USER_CONFIGURATION and file_name in state.description
    assert environ == {}


def test_a_skipped_working_directory_profile_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "DEFAULT_FASTRTPS_PROFILES.xml").write_text("<dds/>")
    environ = {"SKIP_DEFAULT_XML_FILE": "1"}
    configure_middleware(environ, tmp_path)
    assert environ[PROFILE_VARIABLE] == str(PROFILE)


def test_other_middlewares_are_left_alone(tmp_path: Path) -> None:
    environ = {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}
    state = configure_middleware(environ, tmp_path)
    assert state.setup is Setup.OTHER_MIDDLEWARE and "rmw_cyclonedds_cpp" in state.description
    assert environ == {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}


@pytest.mark.parametrize("value", ["0", "false", "OFF", "no"])
def test_the_user_can_opt_out(tmp_path: Path, value: str) -> None:
    environ = {OPT_OUT_VARIABLE: value}
    state = configure_middleware(environ, tmp_path)
    assert state.setup is Setup.OPTED_OUT and f"{OPT_OUT_VARIABLE}={value}" in state.description
    assert environ == {OPT_OUT_VARIABLE: value}


@pytest.mark.parametrize("value", ["1", "true", "on", "yes", ""])
def test_opting_in_is_the_default(tmp_path: Path, value: str) -> None:
    assert configure_middleware({OPT_OUT_VARIABLE: value}, tmp_path).setup is Setup.PACKAGE_PROFILE


def test_an_unclear_opt_out_value_is_refused(tmp_path: Path) -> None:
    environ = {OPT_OUT_VARIABLE: "maybe"}
    with pytest.raises(NodeConfigurationError, match=f"{OPT_OUT_VARIABLE}='maybe' is neither 0 nor 1"):
        configure_middleware(environ, tmp_path)
    assert environ == {OPT_OUT_VARIABLE: "maybe"}


def test_the_profile_receives_user_data_over_udp_and_keeps_shared_memory_for_sending() -> None:
    root = ElementTree.parse(PROFILE).getroot()
    participants = root.findall("f:profiles/f:participant", NAMESPACE)
    assert len(participants) == 1 and participants[0].get("is_default_profile") == "true"
    rtps = participants[0].find("f:rtps", NAMESPACE)
    assert rtps.findtext("f:useBuiltinTransports", namespaces=NAMESPACE) == "false"
    locators = rtps.findall("f:defaultUnicastLocatorList/f:locator/*", NAMESPACE)
    assert [locator.tag.split("}")[1] for locator in locators] == ["udpv4"]
    descriptors = root.findall("f:profiles/f:transport_descriptors/f:transport_descriptor", NAMESPACE)
    transports = {descriptor.findtext("f:transport_id", namespaces=NAMESPACE): descriptor for descriptor in descriptors}
    used = [element.text for element in rtps.findall("f:userTransports/f:transport_id", NAMESPACE)]
    assert sorted(transports[name].findtext("f:type", namespaces=NAMESPACE) for name in used) == ["SHM", "UDPv4"]


@pytest.mark.parametrize(("frame_bytes", "rmem_max"), [
    (160 * 120 * 3, 2**20), (VGA_BYTES, 2**20), (1280 * 720 * 3, 4 * 2**20), (1920 * 1080 * 3, 8 * 2**20),
])
def test_the_recommended_rmem_max_holds_a_frame(frame_bytes: int, rmem_max: int) -> None:
    assert sufficient_rmem_max(frame_bytes) == rmem_max


PACKAGE = MiddlewareState(Setup.PACKAGE_PROFILE, "Fast DDS with the node's profile")


def test_with_the_profile_a_small_socket_buffer_is_the_cause_and_the_sysctl_line_the_fix() -> None:
    advice = loss_advice(PACKAGE, VGA_BYTES, receive_limit=2 * 212_992, in_transport=True)
    assert f"frames of {VGA_BYTES} bytes" in advice and "net.core.rmem_max" in advice
    assert "sudo sysctl -w net.core.rmem_max=1048576" in advice and "/etc/sysctl.d" in advice


def test_with_the_profile_and_a_large_buffer_the_advice_is_not_the_buffer() -> None:
    advice = loss_advice(PACKAGE, VGA_BYTES, receive_limit=2 * 4 * 2**20, in_transport=True)
    assert "sysctl" not in advice and "qos_reliability:=reliable" in advice


def test_the_users_own_configuration_is_named_with_the_documentation() -> None:
    state = MiddlewareState(Setup.USER_CONFIGURATION, "Fast DDS as configured by FASTDDS_BUILTIN_TRANSPORTS=SHM")
    advice = loss_advice(state, VGA_BYTES, receive_limit=None, in_transport=True)
    assert "your own middleware configuration" in advice and "FASTDDS_BUILTIN_TRANSPORTS=SHM" in advice
    assert "docs/dds.md" in advice


@pytest.mark.parametrize("setup", [Setup.OPTED_OUT, Setup.NOT_APPLIED])
def test_without_the_profile_the_advice_says_how_to_turn_it_on(setup: Setup) -> None:
    advice = loss_advice(MiddlewareState(setup, "Fast DDS with its own defaults"), VGA_BYTES, None, in_transport=True)
    assert f"unset {OPT_OUT_VARIABLE}" in advice and "python -m disk_trt_ros.node" in advice


@pytest.mark.parametrize("in_transport", [True, False])
def test_the_matchers_advice_names_keypoints_messages_not_camera_frames(in_transport: bool) -> None:
    without_profile = MiddlewareState(Setup.NOT_APPLIED, "Fast DDS with its own defaults")
    for state, limit in ((without_profile, None), (PACKAGE, 2 * 212_992), (PACKAGE, 2 * 4 * 2**20)):
        advice = loss_advice(state, 1_048_576, limit, in_transport, KEYPOINTS_LOSS)
        assert "Keypoints messages" in advice and "camera" not in advice and "frames" not in advice
    advice = loss_advice(without_profile, 1_048_576, None, in_transport=True, wording=KEYPOINTS_LOSS)
    assert "python -m disk_trt_ros.node.matcher_node" in advice


def test_frames_overwritten_in_the_queue_are_blamed_on_cpu_load_not_the_middleware() -> None:
    advice = loss_advice(PACKAGE, VGA_BYTES, receive_limit=2 * 212_992, in_transport=False)
    assert "overwritten in the subscription's queue" in advice and "sysctl" not in advice
