"""A JSON POST for the HTTP channels: SSRF check right before sending, no redirects, no proxies.

Status codes map to retry decisions: 408, 429 and 5xx are worth retrying; other 4xx, redirects
and refused URLs are permanent.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from netraven_tasks.notifications.channels.base import TransportError
from netraven_tasks.notifications.url_safety import UnsafeURL, check_webhook_url

DEFAULT_TIMEOUT = 10.0
RESPONSE_LIMIT = 4_096
USER_AGENT = "NetRaven-Tasks-Notifier/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could lead to a private address the SSRF check never saw.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


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
    except UnsafeURL as error:
        raise TransportError(f"webhook URL refused: {error}", permanent=True) from error
    request = urllib.request.Request(  # noqa: S310 - check_webhook_url allowed http(s) only
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})},
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            text = response.read(RESPONSE_LIMIT).decode("utf-8", "replace")
            return response.status, dict(response.headers.items()), text
    except urllib.error.HTTPError as error:
        detail = error.read(512).decode("utf-8", "replace").strip() if error.fp else ""
        status = error.code
        permanent = not (status in (408, 429) or status >= 500)
        if 300 <= status < 400:
            detail = f"redirects are not followed ({error.headers.get('Location', '')})"
        raise TransportError(f"HTTP {status} {detail}".strip(), permanent=permanent) from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise TransportError(f"cannot reach {url}: {reason}") from error
