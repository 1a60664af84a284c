"""What a device and a selector may hold: refused values name their field, and nothing path-like passes."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from netraven_tasks.devices.schemas import PLATFORMS, DeviceSchema, TargetsSchema, with_defaults
from netraven_tasks.devices.selection import Selector


def problems(schema, body):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as caught:
        schema.load(body)
    return caught.value.messages


def test_a_new_device_defaults_to_its_name_as_address_generic_enabled_and_no_site_or_tag():
    assert with_defaults(DeviceSchema().load({"name": "core-rtr-01"})) == {
        "name": "core-rtr-01", "address": "core-rtr-01", "platform": "generic", "site": None, "tags": [],
        "enabled": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "2001:db8::1", "[2001:db8::1]", "core-rtr-01.fra.example.net", "r1", "sw_01"]
)
def test_addresses_are_host_names_or_ip_literals(address):
    assert DeviceSchema().load({"name": "r1", "address": address})["address"] == address


@pytest.mark.parametrize(
    "address",
    ["http://10.0.0.1", "10.0.0.1/24", "r1:22", "../etc/passwd", "/dev/tcp", "r 1", "r1\n", "-oProxyCommand",
     "a..b", ".r1", "r1.", "", "x" * 64, "a@b", "[r1]", "r1\x00"],
)  # fmt: skip
def test_urls_paths_ports_options_and_whitespace_are_not_addresses(address):
    assert "address" in problems(DeviceSchema(), {"name": "r1", "address": address})


@pytest.mark.parametrize("name", ["core/rtr", "..", "r1 ", "r1;rm", "-r1", "r1-", "a" * 254, "", "r1:22"])
def test_names_are_hostname_safe(name):
    assert "name" in problems(DeviceSchema(), {"name": name})


def test_platform_tags_site_and_unknown_fields_are_checked():
    errors = problems(
        DeviceSchema(),
        {"name": "r1", "platform": "ios", "tags": ["core", "bad tag"], "site": "F R A", "enabled": "yes",
         "owner": 1},
    )  # fmt: skip
    assert set(errors) == {"platform", "tags", "site", "enabled", "owner"}
    assert all(platform in str(errors["platform"]) for platform in PLATFORMS)
    assert list(errors["tags"]) == [1]  # the second tag, by position
    assert "at most 32" in str(problems(DeviceSchema(), {"name": "r1", "tags": [f"t{i}" for i in range(33)]}))
    assert "tags" in problems(DeviceSchema(), {"name": "r1", "tags": ["x" * 65]})


def test_a_selector_is_names_or_filters_never_both_never_empty():
    assert TargetsSchema().load({"devices": ["r1", "r2"]}) == {"devices": ["r1", "r2"]}
    assert TargetsSchema().load({"site": "FRA", "platform": "cisco_ios", "tags": ["core"]})["tags"] == [
        "core"
    ]
    assert "_schema" in problems(TargetsSchema(), {})
    assert "devices" in problems(TargetsSchema(), {"devices": ["r1"], "site": "FRA"})
    assert "devices" in problems(TargetsSchema(), {"devices": []})
    assert "tags" in problems(TargetsSchema(), {"tags": []})
    assert "platform" in problems(TargetsSchema(), {"platform": "nope"})
    assert "devices" in problems(TargetsSchema(), {"devices": ["../r1"]})
    assert "sites" in problems(TargetsSchema(), {"sites": ["FRA"]})


def test_a_loaded_selector_becomes_the_selection_s_selector():
    loaded = TargetsSchema().load({"site": "FRA", "tags": ["core", "pop:fra"]})
    assert Selector.of(loaded) == Selector(site="FRA", tags=("core", "pop:fra"))
    assert Selector.of(TargetsSchema().load({"devices": ["r1"]})).describe() == "devices r1"
