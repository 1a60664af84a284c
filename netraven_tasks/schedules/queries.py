"""Reading schedules as a caller may (``access/policy.py``): their own, their teams', or every one
for admins; the API and the dashboard's pages both read them here."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from netraven_tasks.access.policy import Action, Resource, Viewer, may, visible_clause
from netraven_tasks.schedules.models import Schedule

MAX_SCHEDULE_ID = 2**31 - 1


def schedule_page(session: Session, viewer: Viewer, limit: int, offset: int) -> tuple[list[Schedule], int]:
    """A page of the schedules ``viewer`` may see, oldest first, and how many there are in all."""
    query = select(Schedule).order_by(Schedule.id)
    if not viewer.is_admin:
        query = query.where(visible_clause(viewer, Resource.SCHEDULE, Schedule.owner_id, Schedule.team_id))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return list(session.scalars(query.limit(limit).offset(offset))), total


def visible_schedule(
    session: Session, schedule_id: int, viewer: Viewer, action: Action = Action.VIEW
) -> Schedule | None:
    """The schedule if ``viewer`` may ``action`` it; None otherwise, or if there is none."""
    schedule = session.get(Schedule, schedule_id) if 0 < schedule_id <= MAX_SCHEDULE_ID else None
    if schedule is None or not may(viewer, Resource.SCHEDULE, action, schedule.owner_id, schedule.team_id):
        return None
    return schedule
