"""Reads a configuration from an HTTP(S) URL, such as a controller's or TFTP gateway's export.

Through the shared guarded HTTP helper: public addresses only, plus NETRAVEN_BACKUP_URL_NETWORKS,
checked on the address each connection (redirects included) actually reaches.
"""

from __future__ import annotations

from netraven_tasks.jobs.drivers import FetchRequest, TooLarge, substitute_host
from netraven_tasks.notifications.channels.http import HttpStatusError, ResponseTooLarge, request
from netraven_tasks.notifications.url_safety import AddressPolicy, UnsafeURL
from netraven_tasks.settings import Settings


class UrlDriver:
    name = "url"

    def fetch(self, fetch: FetchRequest, settings: Settings) -> bytes:
        source = fetch.source
        if not source or not source.startswith(("http://", "https://")):
            raise ValueError("the url driver needs source, an http:// or https:// URL")
        url = substitute_host(source, fetch.host)
        policy = AddressPolicy(allowed_networks=settings.backup_url_networks)
        try:
            response = request(
                url,
                policy=policy,
                timeout=settings.backup_timeout_seconds,
                max_bytes=settings.backup_max_bytes,
                follow_redirects=True,
            )
        except UnsafeURL as error:
            raise PermissionError(f"URL refused: {error}") from None
        except ResponseTooLarge:
            raise TooLarge("the answer", settings.backup_max_bytes) from None
        except HttpStatusError as error:
            if error.status >= 500:
                raise ConnectionError(f"the server answered {error.status}") from None
            raise ValueError(f"the server answered {error.status}") from None
        except TimeoutError:
            raise TimeoutError(f"no complete answer within {settings.backup_timeout_seconds:g}s") from None
        except OSError as error:
            raise ConnectionError(f"cannot reach the URL: {type(error).__name__}") from None
        return response.body
