"""The shared HTTP helper enforces the SSRF guard on the address each connection reaches."""

from __future__ import annotations

import pytest

from netraven_tasks.notifications.channels.http import HttpStatusError, ResponseTooLarge, request
from netraven_tasks.notifications.url_safety import AddressPolicy, UnsafeURL
from tests.support.http_server import counting_server

LOOPBACK_ONLY = AddressPolicy(allowed_networks=("127.0.0.1/32",))


def test_an_allowed_network_is_reached():
    with counting_server() as server:
        response = request(f"{server.url}/config", policy=LOOPBACK_ONLY)
        assert response.body == b"hostname sw\n" and server.hits == ["/config"]


def test_the_default_policy_refuses_loopback_before_any_byte_is_sent():
    with counting_server() as server:
        with pytest.raises(UnsafeURL):
            request(f"{server.url}/config", policy=AddressPolicy())
        assert server.hits == []


def test_a_redirect_to_a_refused_address_is_not_followed():
    # 127.0.0.2 is loopback too, but outside the allowed 127.0.0.1/32.
    with counting_server(host="127.0.0.2") as inner:
        with counting_server(redirect_to=f"{inner.url}/secret") as outer:
            with pytest.raises(UnsafeURL, match=r"127\.0\.0\.2"):
                request(f"{outer.url}/start", policy=LOOPBACK_ONLY, follow_redirects=True)
            assert outer.hits == ["/start"]
        assert inner.hits == []


def test_a_redirect_to_another_scheme_is_refused():
    # urllib itself refuses a file:// redirect, our check any other scheme: either way, an error.
    with (
        counting_server(redirect_to="file:///etc/passwd") as outer,
        pytest.raises((UnsafeURL, HttpStatusError)),
    ):
        request(f"{outer.url}/start", policy=LOOPBACK_ONLY, follow_redirects=True)


def test_an_answer_above_the_cap_is_refused():
    with counting_server(body=b"x" * 5000) as server:
        with pytest.raises(ResponseTooLarge):
            request(server.url, policy=LOOPBACK_ONLY, max_bytes=4096)
        assert len(request(server.url, policy=LOOPBACK_ONLY, max_bytes=4096, truncate=True).body) == 4096
