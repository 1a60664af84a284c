"""The API behind its real server (as ``netraven-tasks api`` runs it): idle connections do not
starve it (row 9), and oversize requests (414, 431, 413) are JSON like every other error (row 11)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.support.api_server import serving_api


@pytest.fixture(scope="module")
def api_url(database_url, tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with serving_api(tmp_path_factory.mktemp("gunicorn") / "api.log") as port:
        yield f"127.0.0.1:{port}"


def raw_request(port: int, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        try:
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
        except OSError:  # the server may answer (413, 431) and close before reading all we sent
            pass
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def port_of(api_url: str) -> int:
    return int(api_url.rsplit(":", 1)[1])


def assert_json_error(answer: tuple[int, dict[str, str], bytes], code: int) -> None:
    status, headers, body = answer
    assert status == code, body[:300]
    assert headers["content-type"].startswith("application/json"), headers
    assert headers["x-content-type-options"] == "nosniff", headers
    payload = json.loads(body)
    assert payload["code"] == code and payload["message"]
    assert b"<html" not in body.lower()


def test_row9_idle_connections_do_not_starve_the_api(api_url):
    port = port_of(api_url)
    idle = [
        socket.create_connection(("127.0.0.1", port)) for _ in range(40)
    ]  # more than the worker's 32 threads
    try:
        started = time.monotonic()
        status, _, _ = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        elapsed = time.monotonic() - started
    finally:
        for conn in idle:
            conn.close()
    assert status in {200, 503}
    assert elapsed < 3, f"/healthz took {elapsed:.1f}s behind 40 idle connections"


@pytest.mark.parametrize("length", [5_000, 20_000])
def test_row11_long_request_lines_are_414_json(api_url, length):
    request = b"GET /healthz?x=" + b"a" * length + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert_json_error(raw_request(port_of(api_url), request), 414)


@pytest.mark.parametrize("fields", [110, 500])
def test_row11_too_many_headers_are_431_json(api_url, fields):
    headers = b"".join(b"X-Filler-%d: v\r\n" % i for i in range(fields))
    assert_json_error(
        raw_request(port_of(api_url), b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"), 431
    )


def test_row11_one_huge_header_is_json(api_url):
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    status, headers, body = raw_request(port_of(api_url), request)
    assert status in {400, 431} and headers["content-type"].startswith("application/json"), body[:200]


def test_row8_large_body_is_413_json_through_gunicorn(api_url):
    body = b'{"username": "a", "password": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    request = (
        b"POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    ) + body
    assert_json_error(raw_request(port_of(api_url), request), 413)


@pytest.mark.parametrize(("request_line", "code"), [(b"GET /nowhere", 404), (b"DELETE /healthz", 405)])
def test_404_and_405_are_json_through_gunicorn(api_url, request_line, code):
    assert_json_error(
        raw_request(port_of(api_url), request_line + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        code,
    )
