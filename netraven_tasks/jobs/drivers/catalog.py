"""The driver a backup names: ``file``, ``url`` or ``ssh`` (NETRAVEN_BACKUP_*_DRIVERS allow them)."""

from __future__ import annotations

from netraven_tasks.jobs.drivers import ConfigDriver
from netraven_tasks.jobs.drivers.file import FileDriver
from netraven_tasks.jobs.drivers.ssh import SshDriver  # paramiko itself is imported at first use
from netraven_tasks.jobs.drivers.url import UrlDriver


def get_driver(name: str) -> ConfigDriver:
    if name == "file":
        return FileDriver()
    if name == "url":
        return UrlDriver()
    if name == "ssh":
        return SshDriver()
    raise ValueError(f"unknown config driver {name[:50]!r}; use file, url or ssh")
