"""The outbound address policy: global unicast only, judged on what an address reaches.

Property tests over every representation of the blocked ranges: random addresses inside each
blocked IPv4 block, embedded in each IPv6 form that carries an IPv4 address, written in each way
an address can be written. The blocked ranges are listed here from the IANA registries, not
imported from the code under test.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netraven_tasks.notifications.url_safety import AddressPolicy, UnsafeURL, check_webhook_url

BLOCKED_IPV4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
BLOCKED_IPV6 = [
    "::/128",
    "::1/128",
    "100::/64",  # discard-only
    "64:ff9b:1::/48",  # local-use NAT64: where it leads is the operator's choice of prefix
    "2001:2::/48",  # benchmarking
    "2001:10::/28",  # ORCHID
    "2001:db8::/32",  # documentation
    "3fff::/20",  # documentation
    "5f00::/16",  # SRv6 SIDs
    "fc00::/7",  # unique local
    "fe80::/10",  # link-local
    "fec0::/10",  # site-local (deprecated, still routed by some stacks)
    "ff00::/8",  # multicast
]

POLICY = AddressPolicy()
BITS_80 = st.integers(0, 2**80 - 1)
BITS_32 = st.integers(0, 2**32 - 1)


def blocked_in(blocks: list[str]) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return st.one_of(*(st.ip_addresses(network=block) for block in blocks))


def is_blocked_v4(ip: ipaddress.IPv4Address) -> bool:
    return any(ip in ipaddress.ip_network(block) for block in BLOCKED_IPV4)


BLOCKED_V4 = blocked_in(BLOCKED_IPV4)
GLOBAL_V4 = st.ip_addresses(v=4).filter(lambda ip: not is_blocked_v4(ip))


def v6(value: int) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(value)


def dotted_tail(ip: ipaddress.IPv6Address, v4: ipaddress.IPv4Address) -> str:
    """``ip`` written with its last 32 bits as a dotted quad, e.g. ``64:ff9b::127.0.0.1``."""
    head = ipaddress.IPv6Address(int(ip) & ~0xFFFFFFFF).exploded.rsplit(":", 2)[0]
    return f"{head}:{v4}"


# Each IPv6 form that delivers to the IPv4 address in its low 32 bits.
LOW_32_FORMS: dict[str, Callable[[int], int]] = {
    "mapped ::ffff:0:0/96": lambda v4: 0xFFFF << 32 | v4,
    "translated ::ffff:0:0:0/96": lambda v4: 0xFFFF << 48 | v4,
    "compatible ::/96": lambda v4: v4,
    "NAT64 64:ff9b::/96": lambda v4: 0x64FF9B << 96 | v4,
}


def spellings(ip: ipaddress.IPv6Address, v4: ipaddress.IPv4Address | None = None) -> list[str]:
    """The ways one IPv6 address can reach the policy: compressed, exploded, upper case, scoped,
    and with a dotted-quad tail when it carries an IPv4 address there."""
    written = [str(ip), ip.exploded, str(ip).upper(), f"{ip}%eth0"]
    if v4 is not None:
        written.append(dotted_tail(ip, v4))
    return written


def assert_refused(addresses: list[str]) -> None:
    for address in addresses:
        assert not POLICY.allows(address), address


def assert_allowed(addresses: list[str]) -> None:
    for address in addresses:
        assert POLICY.allows(address), address


@given(BLOCKED_V4)
def test_blocked_ipv4_is_refused(ip):
    assert_refused([str(ip)])


@pytest.mark.parametrize("form", LOW_32_FORMS)
@given(ip=BLOCKED_V4)
def test_blocked_ipv4_is_refused_in_every_low_32_bit_form(form, ip):
    embedded = v6(LOW_32_FORMS[form](int(ip)))
    assert_refused(spellings(embedded, ip))


@given(ip=BLOCKED_V4, site=BITS_80)
def test_blocked_ipv4_is_refused_behind_6to4(ip, site):
    assert_refused(spellings(v6(0x2002 << 112 | int(ip) << 80 | site)))


@given(ip=BLOCKED_V4, other=st.ip_addresses(v=4), flags_and_port=BITS_32)
def test_blocked_ipv4_is_refused_as_either_end_of_teredo(ip, other, flags_and_port):
    prefix = 0x20010000 << 96
    as_server = prefix | int(ip) << 64 | flags_and_port << 32 | (~int(other) & 0xFFFFFFFF)
    as_client = prefix | int(other) << 64 | flags_and_port << 32 | (~int(ip) & 0xFFFFFFFF)
    assert_refused(spellings(v6(as_server)) + spellings(v6(as_client)))


@given(blocked_in(BLOCKED_IPV6))
def test_ipv6_outside_global_unicast_is_refused(ip):
    assert_refused(spellings(ip))


def embeds_ipv4(ip: ipaddress.IPv6Address) -> bool:
    forms = ("::ffff:0:0/96", "::ffff:0:0:0/96", "::/96", "64:ff9b::/96", "2002::/16", "2001::/32")
    return any(ip in ipaddress.ip_network(form) for form in forms)


def within(ip: ipaddress.IPv6Address, *blocks: str) -> bool:
    return any(ip in ipaddress.ip_network(block) for block in blocks)


@given(st.ip_addresses(v=6).filter(lambda ip: not within(ip, "2000::/3") and not embeds_ipv4(ip)))
def test_any_ipv6_outside_2000_3_that_embeds_nothing_is_refused(ip):
    assert_refused(spellings(ip))


@given(ip=GLOBAL_V4, site=BITS_80, other=GLOBAL_V4, flags_and_port=BITS_32)
def test_a_public_ipv4_is_allowed_in_every_form_that_reaches_it(ip, site, other, flags_and_port):
    low_32 = [v6(make(int(ip))) for make in LOW_32_FORMS.values()]
    six_to_four = v6(0x2002 << 112 | int(ip) << 80 | site)
    teredo = v6(0x20010000 << 96 | int(other) << 64 | flags_and_port << 32 | (~int(ip) & 0xFFFFFFFF))
    assert_allowed([str(ip), *(str(form) for form in low_32), str(six_to_four), str(teredo)])


@given(
    st.integers(0, 2**125 - 1)
    .map(lambda suffix: v6(0x1 << 125 | suffix))  # inside 2000::/3
    .filter(lambda ip: not within(ip, "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20"))
)
def test_public_ipv6_unicast_is_allowed(ip):
    assert_allowed(spellings(ip))


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",
        "::a9fe:a9fe",
        "2002:a9fe:a9fe::",
        "::ffff:0:7f00:1",
        "fec0::1",
        "192.88.99.1",
        "64:ff9b::7f00:1",
        "::127.0.0.1",
        "2002:7f00:1::",
        "192.0.0.8",
    ],
)
def test_the_reported_addresses_are_refused(address):
    assert not POLICY.allows(address)


def test_networks_the_operator_allowed_are_reached_in_any_form():
    loopback = AddressPolicy(allowed_networks=("127.0.0.0/8",))
    assert loopback.allows("127.0.0.1") and loopback.allows("::ffff:127.0.0.1")
    assert not loopback.allows("10.0.0.1") and not loopback.allows("::ffff:a00:1")
    assert AddressPolicy(allowed_networks=("fd00::/8",)).allows("fd00::5")
    assert AddressPolicy(allow_private=True).allows("169.254.169.254")


def test_a_refusal_names_the_host_typed_not_the_address_it_resolves_to():
    with pytest.raises(UnsafeURL) as refused:
        check_webhook_url("http://localhost:9999/hook", allow_private=False)
    assert "'localhost' is not allowed" in str(refused.value)
    assert "127.0.0.1" not in str(refused.value) and "::1" not in str(refused.value)
