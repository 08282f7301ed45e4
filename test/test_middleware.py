"""disk_trt_ros.middleware: the node's Fast DDS profile is applied only where the user configured none."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from disk_trt_ros.middleware import PROFILE, PROFILE_VARIABLE, USER_SETTINGS, configure_fastdds

NAMESPACE = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}


def test_applies_the_profile_when_nothing_is_configured(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    message = configure_fastdds(environ, tmp_path)
    assert environ == {PROFILE_VARIABLE: str(PROFILE)}
    assert str(PROFILE) in message and "FASTDDS_BUILTIN_TRANSPORTS=DEFAULT" in message


@pytest.mark.parametrize("rmw", ["rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp", ""])
def test_applies_the_profile_for_fast_dds_rmws(tmp_path: Path, rmw: str) -> None:
    environ = {"RMW_IMPLEMENTATION": rmw}
    configure_fastdds(environ, tmp_path)
    assert environ[PROFILE_VARIABLE] == str(PROFILE)


@pytest.mark.parametrize("name", USER_SETTINGS)
def test_a_user_setting_wins(tmp_path: Path, name: str) -> None:
    environ = {name: "theirs"}
    message = configure_fastdds(environ, tmp_path)
    assert environ == {name: "theirs"}
    assert name in message and "not applied" in message


@pytest.mark.parametrize("file_name", ["DEFAULT_FASTRTPS_PROFILES.xml", "DEFAULT_FASTDDS_PROFILES.xml"])
def test_a_profile_in_the_working_directory_wins(tmp_path: Path, file_name: str) -> None:
    (tmp_path / file_name).write_text("<dds/>")
    environ: dict[str, str] = {}
    assert file_name in configure_fastdds(environ, tmp_path)
    assert environ == {}


def test_a_skipped_working_directory_profile_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "DEFAULT_FASTRTPS_PROFILES.xml").write_text("<dds/>")
    environ = {"SKIP_DEFAULT_XML_FILE": "1"}
    configure_fastdds(environ, tmp_path)
    assert environ[PROFILE_VARIABLE] == str(PROFILE)


def test_other_middlewares_are_left_alone(tmp_path: Path) -> None:
    environ = {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}
    assert "rmw_cyclonedds_cpp" in configure_fastdds(environ, tmp_path)
    assert environ == {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}


def test_the_profile_receives_user_data_over_udp_and_keeps_shared_memory_for_sending() -> None:
    root = ElementTree.parse(PROFILE).getroot()
    participants = root.findall("f:profiles/f:participant", NAMESPACE)
    assert len(participants) == 1 and participants[0].get("is_default_profile") == "true"
    rtps = participants[0].find("f:rtps", NAMESPACE)
    assert rtps.findtext("f:useBuiltinTransports", namespaces=NAMESPACE) == "false"
    locators = rtps.findall("f:defaultUnicastLocatorList/f:locator/*", NAMESPACE)
    assert [locator.tag.split("}")[1] for locator in locators] == ["udpv4"]
    transports = {descriptor.findtext("f:transport_id", namespaces=NAMESPACE): descriptor
                  for descriptor in root.findall("f:profiles/f:transport_descriptors/f:transport_descriptor", NAMESPACE)}
    used = [element.text for element in rtps.findall("f:userTransports/f:transport_id", NAMESPACE)]
    assert sorted(transports[name].findtext("f:type", namespaces=NAMESPACE) for name in used) == ["SHM", "UDPv4"]
