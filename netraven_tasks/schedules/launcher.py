"""Launching the due slots of every enabled schedule: what the leading beat does each tick.

Each schedule is handled in its own short transaction holding its row (``FOR NO KEY UPDATE SKIP
LOCKED``: a second launcher skips it rather than waits, and the run's foreign key can still be
checked). A slot is launched if it is due and still within its grace; older slots are left to
the missed-run check. A slot a ``skip_runs`` maintenance window covers is recorded as skipped
instead (``maintenance/skipping.py``). ``next_run_at`` moves past every slot handled.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.batches.launch import BatchOrigin, launch_batch
from netraven_tasks.devices.selection import SelectionError
from netraven_tasks.jobs.launch import LaunchUnavailable, UnknownJobType, launch_job
from netraven_tasks.jobs.launch_roles import LaunchForbidden, OwnerDeactivated
from netraven_tasks.jobs.registry import get_job_type
from netraven_tasks.maintenance.matching import skipping_window
from netraven_tasks.maintenance.skipping import SlotSkipped, record_skipped, schedule_device
from netraven_tasks.quotas import QuotaExceeded
from netraven_tasks.schedules.models import Schedule
from netraven_tasks.schedules.runs import SlotTaken
from netraven_tasks.schedules.service import (
    OWNER_DEACTIVATED,
    owner_is_admin,
    pause_owner_schedules,
    timing_of,
)
from netraven_tasks.settings import Settings

log = logging.getLogger(__name__)


def due_schedule_ids(sessions: sessionmaker[Session], now: datetime) -> list[int]:
    with sessions() as session:
        query = (
            select(Schedule.id)
            .where(Schedule.enabled, Schedule.next_run_at <= now)
            .order_by(Schedule.next_run_at, Schedule.id)
        )
        return list(session.scalars(query))


def launch_due(
    settings: Settings, sessions: sessionmaker[Session], now: datetime, app: Celery | None = None
) -> int:
    """Launch every due slot of every enabled schedule; returns how many runs were published
    (through ``app``, beat's own; without it, the process's)."""
    launched = 0
    for schedule_id in due_schedule_ids(sessions, now):
        try:
            launched += launch_schedule(settings, sessions, schedule_id, now, app)
        except Exception:
            # One schedule's trouble (a database hiccup) must not stop the others.
            log.exception("schedule %s could not be launched; trying again next tick", schedule_id)
    return launched


def launch_schedule(
    settings: Settings,
    sessions: sessionmaker[Session],
    schedule_id: int,
    now: datetime,
    app: Celery | None = None,
) -> int:
    with sessions.begin() as session:
        schedule = session.scalar(
            select(Schedule)
            .where(Schedule.id == schedule_id, Schedule.enabled, Schedule.next_run_at <= now)
            .with_for_update(skip_locked=True, key_share=True)
        )
        if schedule is None:
            return 0  # another launcher holds it, or it changed meanwhile
        timing, slot, launched = timing_of(schedule), schedule.next_run_at, 0
        is_admin = owner_is_admin(session, schedule)
        while slot <= now and schedule.enabled:
            window = skipping_window(
                session, device=schedule_device(schedule), schedule_id=schedule.id, at=slot
            )
            if window is not None:
                log.info(
                    "schedule %s: slot %s skipped by maintenance window %s", schedule.id, slot, window.id
                )
                record_skipped(session, window.id, schedule.id, slot)
            elif (now - slot).total_seconds() <= schedule.grace_seconds:
                try:
                    launched += _launch_slot(settings, schedule, slot, is_admin, app)
                except OwnerDeactivated:
                    # Resumed by an admin, or deactivated in a way that skipped the pause. Only
                    # this one: the owner's others may be held by another launcher.
                    log.warning("schedule %s: its owner is deactivated; pausing it", schedule.id)
                    pause_owner_schedules(session, schedule.owner_id, OWNER_DEACTIVATED, only=schedule.id)
            else:
                log.warning("schedule %s: slot %s is past its grace, not launched", schedule.id, slot)
            slot = timing.next_slot(slot)
        schedule.next_run_at = slot
        return launched


def _launch_slot(
    settings: Settings, schedule: Schedule, slot: datetime, owner_is_admin: bool, app: Celery | None
) -> int:
    if schedule.targets:
        return _launch_batch_slot(settings, schedule, slot, owner_is_admin, app)
    try:
        declared = get_job_type(schedule.job_type)
        if declared is None:
            raise UnknownJobType(schedule.job_type)
        # The owner's roles now, not when the schedule was saved (an admin may have been demoted).
        declared.authorize(dict(schedule.arguments or {}), owner_is_admin, settings)
        launch_job(
            settings,
            schedule.job_type,
            dict(schedule.arguments or {}),
            schedule.owner_id,
            schedule_id=schedule.id,
            slot=slot,
            team_id=schedule.team_id,
            app=app,
        )
    except OwnerDeactivated:
        raise  # the caller pauses the schedule
    except SlotTaken:
        return 0  # launched before (by another beat, or by this one before a crash)
    except (UnknownJobType, ValidationError, LaunchForbidden) as error:
        # The job type went away or changed its arguments since the schedule was saved.
        log.error("schedule %s cannot launch %s: %s", schedule.id, schedule.job_type, error)
        return 0
    except (BrokerError, ConnectionError, OSError):
        # The slot's row exists and was settled as failed by launch_job: the run is accounted for.
        log.exception("schedule %s: the run for %s could not be published", schedule.id, slot)
        return 0
    return 1


def _launch_batch_slot(
    settings: Settings, schedule: Schedule, slot: datetime, owner_is_admin: bool, app: Celery | None
) -> int:
    """One batch over what the schedule's targets select now; the slot is the batch's identity."""
    try:
        launch_batch(
            settings,
            schedule.job_type,
            dict(schedule.targets or {}),
            dict(schedule.arguments or {}),
            schedule.owner_id,
            is_admin=owner_is_admin,
            origin=BatchOrigin(schedule_id=schedule.id, slot=slot, team_id=schedule.team_id),
            app=app,
        )
    except OwnerDeactivated:
        raise  # the caller pauses the schedule
    except (SlotTaken, SlotSkipped):
        return 0  # launched before, or every device is under maintenance
    except (UnknownJobType, ValidationError, LaunchForbidden, SelectionError, QuotaExceeded) as error:
        # The job type, the inventory or a limit changed since the schedule was saved.
        log.error("schedule %s cannot launch its batch of %s: %s", schedule.id, schedule.job_type, error)
        return 0
    except LaunchUnavailable:
        # Nothing written (database), or the unpublished children already say failed (broker).
        log.exception("schedule %s: the batch for %s could not be queued", schedule.id, slot)
        return 0
    return 1
