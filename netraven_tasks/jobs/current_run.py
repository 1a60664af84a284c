"""What a running job may ask about its own run: who launched it and which device it is about.

A job's arguments say where to connect (a fleet run passes the device's **address** as its
``device_arg``); the run's job-log row says which inventory device that is (its **name**). Backups
and compliance results are kept by name, so a device's history is one history however it was
launched.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog
from netraven_tasks.tracking.headers import OWNER_HEADER


def _request():  # type: ignore[no-untyped-def]
    from celery import current_task  # lazy: only inside a running task is there one

    return current_task.request if current_task else None


def launching_owner() -> int | None:
    """The owner of the running job, from the message header the launcher set (not an argument)."""
    request = _request()
    owner = getattr(request, OWNER_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        OWNER_HEADER
    )
    return int(owner) if owner is not None else None


def current_task_id() -> str | None:
    request = _request()
    return getattr(request, "id", None) if request is not None else None


def device_name(session: Session, host: str) -> str:
    """The inventory name of the device this run is about: its job-log row's ``device`` (written
    at launch), else ``host`` itself (a run outside a worker, a host not in the inventory)."""
    task_id = current_task_id()
    if task_id is None:
        return host
    name = session.scalar(select(JobLog.device).where(JobLog.task_id == task_id))
    return name or host
