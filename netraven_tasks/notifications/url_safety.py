"""Guard against SSRF: user-supplied URLs may only reach public addresses (or networks an operator allowed).

``check_webhook_url`` gives an early, readable refusal when a URL is saved; ``AddressPolicy`` is
what the HTTP helper (``channels/http.py``) enforces on the address each socket actually connects
to, so redirects and DNS rebinding cannot slip past the early check.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeURL(ValueError):
    """The URL is malformed, not http(s), or resolves to a private, loopback or link-local address."""


def _normalise(address: str) -> IPAddress:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_public(address: str) -> bool:
    ip = _normalise(address)
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class AddressPolicy:
    """Which peer addresses a connection may reach: public ones, plus what the operator allowed."""

    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()

    def _networks(self) -> list[IPNetwork]:
        return [ipaddress.ip_network(network, strict=False) for network in self.allowed_networks]

    def allows(self, address: str) -> bool:
        if self.allow_private:
            return True
        ip = _normalise(address)
        if _is_public(address):
            return True
        return any(ip.version == network.version and ip in network for network in self._networks())

    def check(self, host: str, address: str) -> None:
        if not self.allows(address):
            raise UnsafeURL(f"host {host!r} resolves to a non-public address ({address})")


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
