"""Slots a ``skip_runs`` window covers: recorded as skipped, never launched, never missed.

A single-device schedule's slot is skipped as a whole when a window covers its schedule or its
device; a fleet schedule's slot is skipped as a whole when a window covers the schedule, else its
batch leaves out each device a window covers (each recorded as skipped).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session

from netraven_tasks.db import insert
from netraven_tasks.jobs.registry import get_job_type
from netraven_tasks.maintenance.matching import devices_covered, open_windows
from netraven_tasks.maintenance.models import ONE_DEVICE, WHOLE_SLOT, SkippedSlot
from netraven_tasks.models import utcnow
from netraven_tasks.schedules.models import Schedule


class SlotSkipped(Exception):
    """Every device of a fleet slot is under maintenance: no batch is launched."""


def schedule_device(schedule: Schedule) -> str | None:
    """The device a single-run schedule's runs record (its job type's device argument); None for
    a fleet schedule or a job type without one."""
    declared = get_job_type(schedule.job_type)
    if declared is None or schedule.targets:
        return None
    return declared.device_of(dict(schedule.arguments or {}))


def record_skipped(
    session: Session, window_id: int, schedule_id: int, slot: datetime, device: str | None = None
) -> None:
    """The slot (or one device of it) is skipped; recording it again adds nothing."""
    index = ["schedule_id", "scheduled_for"] + ([] if device is None else ["device"])
    session.execute(
        insert(session, SkippedSlot)
        .values(window_id=window_id, schedule_id=schedule_id, scheduled_for=slot, device=device, at=utcnow())
        .on_conflict_do_nothing(
            index_elements=index, index_where=WHOLE_SLOT if device is None else ONE_DEVICE
        )
    )


def skipped_devices(session: Session, names: Collection[str], slot: datetime) -> dict[str, int]:
    """Of a fleet slot's devices, those a ``skip_runs`` window open at ``slot`` covers, each with
    that window's id."""
    windows = open_windows(session, slot, skip_runs=True)
    if not windows:
        return {}
    return {name: window.id for name, window in devices_covered(session, windows, names).items()}
