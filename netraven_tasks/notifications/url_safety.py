"""Guard against SSRF: user-supplied URLs may only reach public addresses (or networks an operator allowed).

``check_webhook_url`` gives an early, readable refusal when a URL is saved; ``AddressPolicy`` is
what the HTTP helper (``channels/http.py``) enforces on the address each socket actually connects
to, so redirects and DNS rebinding cannot slip past the early check.

The policy is an allow-list of global unicast, decided on what an address reaches: an IPv6 address
that carries an IPv4 one (mapped, translated, compatible, NAT64, 6to4, Teredo) is judged by that
IPv4 address, since a NAT64 gateway, a 6to4 relay or a SIIT translator delivers it there.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv4 blocks that are not global unicast: the IANA special-purpose registry's blocks that are not
# globally reachable, multicast and the reserved class E. Stated here, not taken from
# ``ipaddress.is_global``, whose answer changes between Python releases.
REFUSED_IPV4 = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, where cloud metadata services answer
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments (DS-Lite, the dummy 192.0.0.8, …)
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast: the relay forwards into IPv6 on its side
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the limited broadcast 255.255.255.255
    )
)

# IPv6 global unicast is 2000::/3; everything outside it (ULA fc00::/7, link-local fe80::/10,
# site-local fec0::/10, multicast ff00::/8, discard 100::/64, local-use NAT64 64:ff9b:1::/48, …)
# is refused unless it embeds an IPv4 address (below). These blocks inside it are refused too.
IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
REFUSED_IPV6 = tuple(
    ipaddress.IPv6Network(block)
    for block in (
        "2001::/23",  # IETF protocol assignments (Teredo, 2001::/32, is judged by what it embeds)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)

# IPv6 forms whose last 32 bits are the IPv4 address they reach.
_LOW_32_FORMS = tuple(
    ipaddress.IPv6Network(block)
    for block in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # NAT64, the well-known prefix
        "::/96",  # IPv4-compatible (deprecated; :: and ::1 are themselves)
    )
)
_6TO4 = ipaddress.IPv6Network("2002::/16")  # bits 16-47: the IPv4 address of the site's router
_TEREDO = ipaddress.IPv6Network("2001::/32")  # bits 32-63: the server; bits 96-127: the client, inverted
_IPV4_BITS = 0xFFFFFFFF


class UnsafeURL(ValueError):
    """The URL is malformed, not http(s), or reaches an address the policy does not allow."""


def parse_address(address: str) -> IPAddress:
    """The address of a socket's peer, without an IPv6 scope (``fe80::1%eth0``)."""
    return ipaddress.ip_address(address.split("%", 1)[0])


def reached_addresses(ip: IPAddress) -> tuple[IPAddress, ...]:
    """The addresses a packet to ``ip`` is delivered to: the IPv4 ones an IPv6 address embeds
    (both ends of a Teredo address), else ``ip`` itself."""
    if isinstance(ip, ipaddress.IPv4Address):
        return (ip,)
    value = int(ip)
    if any(ip in form for form in _LOW_32_FORMS) and value > 1:
        return (ipaddress.IPv4Address(value & _IPV4_BITS),)
    if ip in _6TO4:
        return (ipaddress.IPv4Address((value >> 80) & _IPV4_BITS),)
    if ip in _TEREDO:
        return ipaddress.IPv4Address((value >> 64) & _IPV4_BITS), ipaddress.IPv4Address(~value & _IPV4_BITS)
    return (ip,)


def is_global_unicast(ip: IPAddress) -> bool:
    """Whether ``ip`` itself (not what it embeds) is a global unicast address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return not any(ip in block for block in REFUSED_IPV4)
    return ip in IPV6_GLOBAL_UNICAST and not any(ip in block for block in REFUSED_IPV6)


def _within(ip: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(ip.version == network.version and ip in network for network in networks)


@dataclass(frozen=True)
class AddressPolicy:
    """Which peer addresses a connection may reach: global unicast ones, plus what the operator
    allowed (``allow_private``: anything; ``allowed_networks``: those networks)."""

    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()

    def _networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(network, strict=False) for network in self.allowed_networks)

    def allows(self, address: str) -> bool:
        if self.allow_private:
            return True
        try:
            ip = parse_address(address)
        except ValueError:
            return False
        allowed = self._networks()
        if _within(ip, allowed):
            return True
        return all(is_global_unicast(target) or _within(target, allowed) for target in reached_addresses(ip))

    def check(self, host: str, address: str) -> None:
        # Names what the user typed, never the address it resolved to: that would tell a user
        # what an internal name stands for.
        if not self.allows(address):
            raise UnsafeURL(f"host {host!r} is not allowed: only public addresses may be reached")


def check_url_syntax(url: str) -> tuple[str, int]:
    """The host and port of an acceptable http(s) URL; raises UnsafeURL naming what is wrong."""
    if len(url) > 2048:
        raise UnsafeURL("must be at most 2048 characters")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise UnsafeURL("must be an http:// or https:// URL")
    if not parts.hostname:
        raise UnsafeURL("must name a host")
    if parts.username or parts.password:
        raise UnsafeURL("must not carry credentials in the URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("has an invalid port") from None
    return parts.hostname, port


def check_webhook_url(url: str, *, allow_private: bool, resolve: bool = True) -> str:
    """Return ``url`` if it is safe to POST to; raise UnsafeURL with the reason otherwise.

    Checked when preferences are saved; the HTTP helper checks again at each connection.
    """
    host, port = check_url_syntax(url)
    if allow_private or not resolve:
        return url
    policy = AddressPolicy()
    for address in resolve_host(host, port):
        policy.check(host, address)
    return url


def resolve_host(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"host {host!r} does not resolve") from None
    return [str(info[4][0]) for info in infos]


def connect_checked(
    policy: AddressPolicy,
    address: tuple[str, int],
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """``socket.create_connection`` that connects only to addresses the policy allows.

    Each resolved address is checked, then that very address is connected to: no second lookup
    between check and connect for a rebinding DNS server to answer differently.
    """
    host, port = address
    last_error: OSError | None = None
    for family, kind, proto, _name, peer in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        policy.check(host, str(peer[0]))
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(peer)
            return sock
        except OSError as error:
            sock.close()
            last_error = error
    raise last_error or OSError(f"cannot resolve {host!r}")
