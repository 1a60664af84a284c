"""Guard against SSRF: user-supplied webhook URLs may only point at public addresses."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURL(ValueError):
    """The URL is malformed, not http(s), or resolves to a private, loopback or link-local address."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_webhook_url(url: str, *, allow_private: bool, resolve: bool = True) -> str:
    """Return ``url`` if it is safe to POST to; raise UnsafeURL with the reason otherwise.

    Checked when preferences are saved and again right before each send (DNS may have changed).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise UnsafeURL("must be an http:// or https:// URL")
    if not parts.hostname:
        raise UnsafeURL("must name a host")
    if parts.username or parts.password:
        raise UnsafeURL("must not carry credentials in the URL")
    if len(url) > 2048:
        raise UnsafeURL("must be at most 2048 characters")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("has an invalid port") from None
    if allow_private or not resolve:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise UnsafeURL(f"host {parts.hostname!r} does not resolve") from None
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise UnsafeURL(f"host {parts.hostname!r} resolves to a non-public address ({address})")
    return url
