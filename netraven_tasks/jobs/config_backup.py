"""``config_backup``: fetch a device configuration through a driver and keep it in the database.

Who may launch it depends on the driver: NETRAVEN_BACKUP_USER_DRIVERS (default ``url``) are open
to every signed-in user; the others (``file`` reads the server's files, ``ssh`` runs commands
with the service's credentials) are for admins only.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from netraven_tasks.backups.diffs import rules_for
from netraven_tasks.backups.store import Comparison, namespace_of, store_backup
from netraven_tasks.db import session_factory
from netraven_tasks.devices.inventory import device_platform
from netraven_tasks.jobs.current_run import current_task_id, device_name, launching_owner
from netraven_tasks.jobs.drivers import DRIVER_NAMES, FetchRequest
from netraven_tasks.jobs.drivers.catalog import get_driver
from netraven_tasks.jobs.hosts import validate_host
from netraven_tasks.jobs.launch_roles import ADMINS_ONLY, EVERYONE
from netraven_tasks.jobs.registry import job_type
from netraven_tasks.jobs.retry_policy import RetryPolicy
from netraven_tasks.notifications.config_changes import plan_config_change
from netraven_tasks.notifications.tasks import renderer, wake_delivery
from netraven_tasks.runtime import runtime_of
from netraven_tasks.settings import Settings


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
    """Fetch the configuration of a device and store it in the database, by its hash; a change
    (after normalisation) is told to those who may read it, with the diff."""
    from celery import current_task

    app = current_task.app if current_task else None
    settings = runtime_of(app).settings
    content = get_driver(driver).fetch(FetchRequest(host=host, source=source, platform=platform), settings)
    owner_id = launching_owner()
    with session_factory(settings).begin() as session:
        namespace = namespace_of(session, owner_id)
        device = device_name(session, host)
        stored = store_backup(
            session,
            device=device,
            content=content,
            namespace_owner_id=namespace,
            launched_by_id=owner_id,
            driver=driver,
            task_id=current_task_id(),
            comparison=Comparison(
                platform=device_platform(session, device),
                rules=rules_for(settings),
                mask=settings.config_mask_secrets,
                max_lines=settings.config_diff_lines,
            ),
        )
        # In the same transaction: exactly one message per new version, or none.
        planned = plan_config_change(session, stored, renderer(settings), settings.mail_from)
    if planned:
        wake_delivery(app, planned)
    return {
        "host": host,
        "device": device,
        "driver": driver,
        "sha256": stored.version.sha256,
        "size_bytes": len(content),
        "lines": len(content.decode("utf-8", "replace").splitlines()),
        "changed": stored.version.changed,
        "lines_added": stored.version.lines_added,
        "lines_removed": stored.version.lines_removed,
        "previous_sha256": stored.previous_sha256,
        "history": "shared" if namespace is None else "owner",
    }
