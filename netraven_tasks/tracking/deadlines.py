"""Deadlines of running attempts: each worker renews its own, the reaper settles those that passed.

A worker's heartbeat (``heartbeat_step.py``) moves the deadline of every job it is running to
now + NETRAVEN_DEADLINE_SECONDS with one UPDATE; before its first heartbeat an attempt's deadline
is its start plus the same horizon. A run whose deadline passed lost its worker.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog
from netraven_tasks.statuses import JobStatus


def renew_deadlines(session: Session, task_ids: Collection[str], deadline: datetime) -> int:
    """Move the deadline of these runs to ``deadline`` (one statement); returns the rows renewed."""
    if not task_ids:
        return 0
    # Whatever the row's status: the recorder may not have written the start yet, and the row must
    # not reach ``running`` with only the start's time (already old) as its deadline.
    # Sorted: rows are locked in task-id order, the recorder's order, so the two never deadlock.
    statement = (
        update(JobLog)
        .where(JobLog.task_id.in_(sorted(task_ids)))
        # updated_at stays: its ORM onupdate would mark the run's hour changed for the rollups.
        .values(deadline_at=deadline, updated_at=JobLog.updated_at)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount  # type: ignore[attr-defined, no-any-return]


def deadline_passed(now: datetime, horizon_seconds: float) -> ColumnElement[bool]:
    """Running rows whose deadline passed: renewed deadline (if any) and start + horizon both past.

    The attempt's start is the row's ``updated_at`` (the started event wrote it last), so an older
    attempt's deadline never shortens a retry's.
    """
    return and_(
        JobLog.status == JobStatus.RUNNING.value,
        JobLog.updated_at < now - timedelta(seconds=horizon_seconds),
        or_(JobLog.deadline_at.is_(None), JobLog.deadline_at < now),
    )
