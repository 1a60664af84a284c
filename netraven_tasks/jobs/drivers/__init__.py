"""Configuration drivers: how ``config_backup`` reads a device's configuration.

A driver gets a ``FetchRequest`` whose fields came from a user: it treats them as data (``{host}``
is substituted literally, never through ``str.format``), reads only what the settings allow, and
returns at most ``settings.backup_max_bytes`` within ``settings.backup_timeout_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from netraven_tasks.settings import BACKUP_DRIVERS, Settings

HOST_PLACEHOLDER = "{host}"


@dataclass(frozen=True)
class FetchRequest:
    host: str
    source: str | None = None
    platform: str = "ios"


class ConfigDriver(Protocol):
    name: str

    def fetch(self, request: FetchRequest, settings: Settings) -> bytes:
        """The device configuration; raises ConnectionError/TimeoutError to be retried."""
        ...


class TooLarge(ValueError):
    """The configuration is larger than NETRAVEN_BACKUP_MAX_BYTES."""

    def __init__(self, what: str, limit: int):
        super().__init__(f"{what} is larger than {limit} bytes (NETRAVEN_BACKUP_MAX_BYTES)")


def substitute_host(source: str, host: str) -> str:
    """``source`` with each literal ``{host}`` replaced; nothing else in it has any meaning."""
    return source.replace(HOST_PLACEHOLDER, host)


DRIVER_NAMES = BACKUP_DRIVERS
