"""Reads a configuration from an HTTP(S) URL, such as a controller's or TFTP gateway's export."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

from netraven_tasks.settings import Settings

TIMEOUT_SECONDS = 30
MAX_BYTES = 50 * 1024 * 1024


class UrlDriver:
    name = "url"

    def fetch(self, host: str, source: str | None, settings: Settings) -> str:
        if not source or not source.startswith(("http://", "https://")):
            raise ValueError("the url driver needs source, an http:// or https:// URL")
        url = source.format(host=host)
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                body = response.read(MAX_BYTES + 1)
        except urllib.error.HTTPError as error:
            if error.code >= 500:
                raise ConnectionError(f"{url} answered {error.code}") from None
            raise ValueError(f"{url} answered {error.code}") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, (ConnectionError, TimeoutError, socket.timeout)):
                raise ConnectionError(f"{url}: {error.reason}") from None
            raise
        if len(body) > MAX_BYTES:
            raise ValueError(f"{url} is larger than {MAX_BYTES} bytes")
        return body.decode("utf-8", errors="replace")
