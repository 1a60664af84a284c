"""``config_backup``: fetch a device configuration through a driver and keep it, content-addressed."""

from __future__ import annotations

import hashlib
from typing import Any

from marshmallow import Schema, fields, validate

from netraven_tasks.jobs.drivers import DRIVER_NAMES, get_driver
from netraven_tasks.jobs.reachability import HOSTNAME
from netraven_tasks.jobs.registry import job_type
from netraven_tasks.jobs.retry_policy import RetryPolicy
from netraven_tasks.settings import get_settings


class ConfigBackupArguments(Schema):
    host = fields.String(required=True, validate=HOSTNAME)
    driver = fields.String(load_default="file", validate=validate.OneOf(DRIVER_NAMES))
    source = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=2048),
        metadata={"description": "file path or URL ({host} is replaced); for ssh, the command"},
    )


@job_type(
    "config_backup",
    arguments=ConfigBackupArguments,
    policy=RetryPolicy(
        max_attempts=4, backoff_base=10, backoff_max=300, retry_on=(ConnectionError, TimeoutError)
    ),
    time_limit=600,
)
def config_backup(host: str, driver: str = "file", source: str | None = None) -> dict[str, Any]:
    """Fetch the configuration of a device and store it under var/backups, by its hash."""
    settings = get_settings()
    text = get_driver(driver).fetch(host, source, settings)
    content = text.encode("utf-8")
    digest = hashlib.sha256(content).hexdigest()
    folder = settings.var_dir / "backups" / host.replace("/", "_").replace(":", "_")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.cfg"
    latest = folder / "latest"
    previous = latest.read_text().strip() if latest.exists() else None
    if not path.exists():
        path.write_bytes(content)
    latest.write_text(digest)
    return {
        "host": host,
        "driver": driver,
        "sha256": digest,
        "size_bytes": len(content),
        "lines": len(text.splitlines()),
        "changed": previous is not None and previous != digest,
        "path": str(path),
    }
