"""Launching a job run: validate its arguments, write its queued row, then publish it.

The launcher owns its row. One short transaction writes the ``queued`` row; only then is the
message published, with the row's id in its headers. If the database fails, nothing is
published; if the broker fails, the row is marked ``failed`` (through the database, not the
broker that just refused). Either way the caller gets ``LaunchUnavailable`` (the API answers
503 with Retry-After) and no row is left claiming a job that will never run.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from sqlalchemy.exc import InterfaceError, OperationalError

from netraven_tasks.audit.recording import note_change
from netraven_tasks.db import session_factory
from netraven_tasks.jobs.registry import get_job_type
from netraven_tasks.runtime import Runtime, runtime_of
from netraven_tasks.schedules.runs import insert_scheduled_row
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.headers import JOB_LOG_HEADER, OWNER_HEADER
from netraven_tasks.tracking.recorder import after_commit
from netraven_tasks.tracking.transitions import Outcome, apply_event
from netraven_tasks.users import ensure_active_owner

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
PUBLISH_ERROR_TYPE = "PublishError"


class UnknownJobType(LookupError):
    pass


class LaunchUnavailable(RuntimeError):
    """The run could not be queued now (database or broker away); try again after a while."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS, job_log_id: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.job_log_id = job_log_id


@dataclass(frozen=True)
class LaunchedJob:
    job_log_id: int
    task_id: str
    status: str


def _write(
    settings: Settings, runtime: Runtime, event: TrackingEvent, slot: tuple[int, datetime] | None = None
) -> Outcome:
    """Apply ``event`` in one transaction; with a (schedule id, slot), the row is that slot's run."""
    with session_factory(settings).begin() as session:
        if event.kind is EventKind.QUEUED and event.owner_id is not None:
            ensure_active_owner(session, event.owner_id)  # every launch path comes through here
        if slot is not None:
            insert_scheduled_row(
                session,
                task_id=event.task_id,
                job_type=event.job_type,
                device=event.device,
                owner_id=event.owner_id,
                args=event.args or {},
                schedule_id=slot[0],
                slot=slot[1],
                team_id=event.team_id,
            )
        outcome = apply_event(session, event)
        note_change(session, "job_logs", outcome.job_log_id)
    after_commit(runtime.live_feed(), (), [outcome])
    return outcome


def launch_job(
    settings: Settings,
    job_type: str,
    arguments: dict[str, Any],
    owner_id: int | None,
    *,
    schedule_id: int | None = None,
    slot: datetime | None = None,
    team_id: int | None = None,
    app: Celery | None = None,
) -> LaunchedJob:
    """Queue a run; raises UnknownJobType, marshmallow.ValidationError, OwnerDeactivated (a
    LaunchForbidden) or LaunchUnavailable. ``team_id``: the team it belongs to, checked by the
    caller (``netraven_tasks.teams.service.launch_team``).

    A scheduled run (``schedule_id`` and ``slot``) is keyed by its slot: SlotTaken if that run
    was launched before, and then nothing is published. It is published through ``app``
    (default: the app of this process, ``netraven_tasks.celery_app``).
    """
    runtime = runtime_of(app)
    declared = get_job_type(job_type)
    if declared is None:
        raise UnknownJobType(job_type)
    kwargs = declared.validate(arguments)
    queued = TrackingEvent(
        kind=EventKind.QUEUED,
        task_id=str(uuid.uuid4()),
        job_type=declared.name,
        device=declared.device_of(kwargs),
        owner_id=owner_id,
        args=kwargs,
        team_id=team_id,
    )
    scheduled = (schedule_id, slot) if schedule_id is not None and slot is not None else None
    try:
        row = _write(settings, runtime, queued, scheduled)
    except (OperationalError, InterfaceError) as error:  # the database is away; any other error is a bug
        log.warning("could not write the queued row of a %s run: %s", declared.name, error)
        raise LaunchUnavailable(
            f"the job could not be queued, the database is unavailable: {type(error).__name__}"
        ) from error
    headers: dict[str, Any] = {JOB_LOG_HEADER: row.job_log_id}
    if owner_id is not None:
        headers[OWNER_HEADER] = owner_id
    try:
        publisher = app or runtime.app  # the app given, else this process's
        publisher.send_task(declared.task_name, kwargs=kwargs, task_id=queued.task_id, headers=headers)
    except Exception as error:
        _settle_unpublished(settings, runtime, queued, error)
        raise LaunchUnavailable(
            f"the job could not be queued, the broker is unavailable: {type(error).__name__}",
            job_log_id=row.job_log_id,
        ) from error
    return LaunchedJob(job_log_id=row.job_log_id, task_id=queued.task_id, status=row.status.value)


def _settle_unpublished(
    settings: Settings, runtime: Runtime, queued: TrackingEvent, error: Exception
) -> None:
    """The message never left: the row says so at once (the reaper would only settle it later)."""
    failed = TrackingEvent(
        kind=EventKind.FAILED,
        task_id=queued.task_id,
        job_type=queued.job_type,
        error_type=PUBLISH_ERROR_TYPE,
        error_message=f"could not publish to the broker: {type(error).__name__}: {error}",
    )
    try:
        _write(settings, runtime, failed)
    except Exception:
        log.exception("could not mark the unpublished run %s failed; the reaper will", queued.task_id)
