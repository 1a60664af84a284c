"""Launching a job run: validate its arguments, publish it, and hand back its job-log row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from netraven_tasks.db import session_factory
from netraven_tasks.jobs.registry import get_job_type
from netraven_tasks.models import JobLog
from netraven_tasks.schedules.runs import insert_scheduled_row
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.signals import OWNER_HEADER


class UnknownJobType(LookupError):
    pass


@dataclass(frozen=True)
class LaunchedJob:
    job_log_id: int
    task_id: str
    status: str


def launch_job(
    settings: Settings,
    job_type: str,
    arguments: dict[str, Any],
    owner_id: int | None,
    *,
    schedule_id: int | None = None,
    slot: datetime | None = None,
) -> LaunchedJob:
    """Publish a run of ``job_type``; raises UnknownJobType or marshmallow.ValidationError.

    A scheduled run (``schedule_id`` and ``slot``) gets its queued row first, keyed by the slot:
    SlotTaken if that run was launched before, and then nothing is published."""
    from netraven_tasks.celery_app import app, current_recorder

    declared = get_job_type(job_type)
    if declared is None:
        raise UnknownJobType(job_type)
    kwargs = declared.validate(arguments)
    task_id = str(uuid.uuid4())
    if schedule_id is not None and slot is not None:
        with session_factory(settings).begin() as session:
            insert_scheduled_row(
                session,
                task_id=task_id,
                job_type=declared.name,
                device=declared.device_of(kwargs),
                owner_id=owner_id,
                args=kwargs,
                schedule_id=schedule_id,
                slot=slot,
            )
    headers = {OWNER_HEADER: owner_id} if owner_id is not None else {}
    try:
        app.send_task(declared.task_name, kwargs=kwargs, task_id=task_id, headers=headers)
    except Exception as error:
        # The queued row may exist already: settle it so no phantom job stays queued.
        current_recorder().record(
            TrackingEvent(
                kind=EventKind.FAILED,
                task_id=task_id,
                job_type=declared.name,
                device=declared.device_of(kwargs),
                owner_id=owner_id,
                args=kwargs,
                error_type="PublishError",
                error_message=f"could not publish to the broker: {error}",
            )
        )
        raise
    with session_factory(settings)() as session:
        row = session.execute(select(JobLog.id, JobLog.status).where(JobLog.task_id == task_id)).one_or_none()
    if row is None:
        raise RuntimeError(f"job {task_id} was published but its job-log row was not recorded")
    return LaunchedJob(job_log_id=row.id, task_id=task_id, status=row.status)
