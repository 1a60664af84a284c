"""The one outbound HTTP helper: SSRF guard at the socket, no proxies, a size cap and a deadline.

Used by the HTTP channels (Slack, webhooks: a JSON POST, no redirects; SMS: a form POST to the
operator's provider) and by the ``url`` backup driver (a GET that may follow a few redirects).
Every connection, redirects included, goes through ``connect_checked``: the address actually
connected to is the one the ``AddressPolicy`` allowed.

For the channels, status codes map to retry decisions: 408, 429 and 5xx are worth retrying; other
4xx, redirects and refused URLs are permanent.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from netraven_tasks.notifications.channels.base import TransportError
from netraven_tasks.notifications.url_safety import (
    AddressPolicy,
    UnsafeURL,
    check_url_syntax,
    check_webhook_url,
    connect_checked,
)

DEFAULT_TIMEOUT = 10.0
RESPONSE_LIMIT = 4_096
USER_AGENT = "NetRaven-Tasks-Notifier/1"
MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class ResponseTooLarge(ValueError):
    """The answer is larger than the caller's cap."""


class HttpStatusError(Exception):
    """A non-2xx answer (redirects included when they are not followed)."""

    def __init__(self, status: int, detail: str, location: str = ""):
        super().__init__(f"HTTP {status} {detail}".strip())
        self.status = status
        self.location = location


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _guarded_classes(
    policy: AddressPolicy,
) -> tuple[type[http.client.HTTPConnection], type[http.client.HTTPSConnection]]:
    def create_connection(
        address: tuple[str, int], timeout: float | None = None, source_address: Any = None
    ) -> Any:
        return connect_checked(policy, address, timeout, source_address)

    # http.client sets _create_connection per instance in __init__: replace it right after.
    class GuardedHTTPConnection(http.client.HTTPConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = create_connection

    class GuardedHTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = create_connection

    return GuardedHTTPConnection, GuardedHTTPSConnection


def _opener(policy: AddressPolicy, follow_redirects: bool) -> urllib.request.OpenerDirector:
    plain, tls = _guarded_classes(policy)

    class GuardedHTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(plain, req)

    class GuardedHTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(tls, req, context=self._context)  # type: ignore[attr-defined]

    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = MAX_REDIRECTS

        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            if not follow_redirects:
                return None
            check_url_syntax(newurl)  # http(s) only; the socket guard checks where it leads
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    # No ProxyHandler from the environment: a proxy would connect on our behalf, past the guard.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.UnknownHandler(),
        GuardedHTTPHandler(),
        GuardedHTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        Redirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _read_capped(response: Any, max_bytes: int, deadline: float, truncate: bool) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than the deadline")
        chunk = response.read(min(_CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                return b"".join(chunks)[:max_bytes]
            raise ResponseTooLarge(f"the answer is larger than {max_bytes} bytes")


def request(
    url: str,
    *,
    policy: AddressPolicy,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = RESPONSE_LIMIT,
    follow_redirects: bool = False,
    truncate: bool = False,
) -> HttpResponse:
    """One guarded HTTP exchange; returns a 2xx answer.

    Raises UnsafeURL (refused address or URL), HttpStatusError (non-2xx), ResponseTooLarge (unless
    ``truncate``: then the first ``max_bytes`` are enough),
    TimeoutError (``timeout`` is the deadline of the whole exchange) or OSError (network).
    """
    check_url_syntax(url)
    deadline = time.monotonic() + timeout
    prepared = urllib.request.Request(  # noqa: S310 - check_url_syntax allowed http(s) only
        url, data=body, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    try:
        with _opener(policy, follow_redirects).open(prepared, timeout=timeout) as response:
            content = _read_capped(response, max_bytes, deadline, truncate)
            return HttpResponse(response.status, dict(response.headers.items()), content)
    except urllib.error.HTTPError as error:
        detail = error.read(512).decode("utf-8", "replace").strip() if error.fp else ""
        location = error.headers.get("Location", "") if error.headers else ""
        raise HttpStatusError(error.code, detail, location) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, UnsafeURL | OSError):
            raise reason from None
        raise OSError(str(reason)) from None


def retryable_status(status: int) -> bool:
    """408, 429 and 5xx are worth another try; any other refusal is permanent."""
    return status in (408, 429) or status >= 500


def encode_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def post_json(
    url: str,
    body: bytes,
    *,
    allow_private: bool,
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[int, dict[str, str], str]:
    """POST ``body`` to ``url``; returns (status, headers, body text) of a 2xx answer."""
    try:
        check_webhook_url(url, allow_private=allow_private)
        response = request(
            url,
            policy=AddressPolicy(allow_private=allow_private),
            method="POST",
            body=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=timeout,
            max_bytes=RESPONSE_LIMIT,
            truncate=True,
        )
    except UnsafeURL as error:
        raise TransportError(f"webhook URL refused: {error}", permanent=True) from error
    except HttpStatusError as error:
        status = error.status
        permanent = not retryable_status(status)
        message = str(error)
        if 300 <= status < 400:
            message = f"HTTP {status} redirects are not followed ({error.location})"
        raise TransportError(message, permanent=permanent) from error
    except (OSError, ValueError) as error:
        raise TransportError(f"cannot reach {url}: {error}") from error
    return response.status, response.headers, response.body.decode("utf-8", "replace")


def post_to_service(
    url: str, body: bytes, *, service: str, headers: dict[str, str] | None = None,
    content_type: str = "application/json", timeout: float = DEFAULT_TIMEOUT,
) -> HttpResponse:  # fmt: skip
    """POST ``body`` to an operator-configured service (PagerDuty, Opsgenie, the SMS provider):
    any address, since the operator chose it and no user can; no proxies from the environment, no
    redirects followed. Raises TransportError (permanent for a 4xx other than 408/429)."""
    try:
        return request(
            url,
            policy=AddressPolicy(allow_private=True),
            method="POST",
            body=body,
            headers={"Content-Type": content_type, **(headers or {})},
            timeout=timeout,
            truncate=True,
        )
    except HttpStatusError as error:
        raise TransportError(
            f"{service} answered {error}", permanent=not retryable_status(error.status)
        ) from error
    except (OSError, ValueError) as error:
        raise TransportError(f"cannot reach {service}: {error}") from error
