"""``config_backup``: fetch a device configuration through a driver and keep it in the database.

Who may launch it depends on the driver: NETRAVEN_BACKUP_USER_DRIVERS (default ``url``) are open
to every signed-in user; the others (``file`` reads the server's files, ``ssh`` runs commands
with the service's credentials) are for admins only.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from netraven_tasks.backups.store import namespace_of, store_backup
from netraven_tasks.db import session_factory
from netraven_tasks.jobs.drivers import DRIVER_NAMES, FetchRequest
from netraven_tasks.jobs.drivers.catalog import get_driver
from netraven_tasks.jobs.hosts import validate_host
from netraven_tasks.jobs.launch_roles import ADMINS_ONLY, EVERYONE
from netraven_tasks.jobs.registry import job_type
from netraven_tasks.jobs.retry_policy import RetryPolicy
from netraven_tasks.runtime import runtime_of
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.signals import OWNER_HEADER


class ConfigBackupArguments(Schema):
    host = fields.String(required=True, validate=validate_host)
    driver = fields.String(load_default="file", validate=validate.OneOf(DRIVER_NAMES))
    source = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=2048),
        metadata={
            "description": "file path or URL (a literal {host} is replaced by the host); "
            "for ssh, one of the platform's allowed commands"
        },
    )
    platform = fields.String(
        load_default="ios",
        validate=validate.Regexp(r"^[a-z0-9_-]{1,32}$"),
        metadata={"description": "ssh only: the device platform, which picks the allowed commands"},
    )


def backup_launch_roles(kwargs: dict[str, Any], settings: Settings) -> frozenset[str]:
    return EVERYONE if kwargs.get("driver", "file") in settings.backup_user_drivers else ADMINS_ONLY


def _launching_owner() -> int | None:
    """The owner of the running job, from the message header the launcher set (not an argument)."""
    from celery import current_task

    request = current_task.request if current_task else None
    owner = getattr(request, OWNER_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        OWNER_HEADER
    )
    return int(owner) if owner is not None else None


@job_type(
    "config_backup",
    arguments=ConfigBackupArguments,
    policy=RetryPolicy(
        max_attempts=4, backoff_base=10, backoff_max=300, retry_on=(ConnectionError, TimeoutError)
    ),
    time_limit=600,
    launch_roles=backup_launch_roles,
)
def config_backup(
    host: str, driver: str = "file", source: str | None = None, platform: str = "ios"
) -> dict[str, Any]:
    """Fetch the configuration of a device and store it in the database, by its hash."""
    from celery import current_task

    settings = runtime_of(current_task.app if current_task else None).settings
    content = get_driver(driver).fetch(FetchRequest(host=host, source=source, platform=platform), settings)
    owner_id = _launching_owner()
    with session_factory(settings).begin() as session:
        namespace = namespace_of(session, owner_id)
        stored = store_backup(
            session,
            device=host,
            content=content,
            namespace_owner_id=namespace,
            launched_by_id=owner_id,
            driver=driver,
            task_id=current_task.request.id if current_task else None,
        )
    return {
        "host": host,
        "driver": driver,
        "sha256": stored.version.sha256,
        "size_bytes": len(content),
        "lines": len(content.decode("utf-8", "replace").splitlines()),
        "changed": stored.version.changed,
        "previous_sha256": stored.previous_sha256,
        "history": "shared" if namespace is None else "owner",
    }
