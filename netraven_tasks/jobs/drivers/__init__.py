"""Configuration drivers: how ``config_backup`` reads a device's configuration."""

from __future__ import annotations

from typing import Protocol

from netraven_tasks.settings import Settings


class ConfigDriver(Protocol):
    name: str

    def fetch(self, host: str, source: str | None, settings: Settings) -> str:
        """The device configuration as text; raises ConnectionError/TimeoutError to be retried."""
        ...


def get_driver(name: str) -> ConfigDriver:
    if name == "file":
        from netraven_tasks.jobs.drivers.file import FileDriver

        return FileDriver()
    if name == "url":
        from netraven_tasks.jobs.drivers.url import UrlDriver

        return UrlDriver()
    if name == "ssh":
        from netraven_tasks.jobs.drivers.ssh import SshDriver

        return SshDriver()
    raise ValueError(f"unknown config driver {name!r}; use file, url or ssh")


DRIVER_NAMES = ("file", "url", "ssh")
