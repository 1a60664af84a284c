"""A redelivered message of a run already settled is not run again.

The broker delivers a message again when the worker that held it never acknowledged it (it died,
or with Redis the visibility timeout passed). If the reaper has settled that run meanwhile, or it
finished before its acknowledgement was lost, running it again would repeat its effect (a
configuration pushed an hour later): the worker acknowledges such a message without running it.
Only redelivered messages are looked up, so a first delivery costs nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.models import JobLog
from netraven_tasks.statuses import TERMINAL_STATUSES


def settled_status(sessions: sessionmaker[Session], task_id: str) -> str | None:
    """The run's final status if it has one (completed, failed, canceled), else None."""
    with sessions() as session:
        status = session.scalar(select(JobLog.status).where(JobLog.task_id == task_id))
    return status if status in TERMINAL_STATUSES else None
