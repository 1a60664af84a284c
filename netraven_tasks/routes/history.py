"""What routes were told: a route's delivery history and the routes told about one run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from netraven_tasks.notifications.models import OutboxMessage
from netraven_tasks.routes.models import Route


def deliveries(session: Session, route_id: int, limit: int, offset: int) -> tuple[int, list[OutboxMessage]]:
    """The route's outbox rows, newest first, and how many there are (through its unique index)."""
    query = select(OutboxMessage).where(OutboxMessage.route_id == route_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit).offset(offset))
    return int(total), list(rows)


def last_deliveries(session: Session, route_ids: list[int]) -> dict[int, OutboxMessage]:
    """The newest outbox row of each of these routes (the routes page's "last delivery")."""
    if not route_ids:
        return {}
    newest = (
        select(func.max(OutboxMessage.id))
        .where(OutboxMessage.route_id.in_(route_ids))
        .group_by(OutboxMessage.route_id)
    )
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(newest)))
    return {row.route_id: row for row in rows if row.route_id is not None}


@dataclass(frozen=True)
class RouteTold:
    """One route message about a run: which route, which event, how its delivery stands."""

    route_id: int
    route_name: str
    channel: str
    event: str | None
    state: str
    sent_at: datetime | None
    last_error: str | None


def routes_told(session: Session, job_log_id: int) -> list[RouteTold]:
    """The route messages about one run (the run page's "Routes told")."""
    rows = session.execute(
        select(OutboxMessage, Route.name)
        .join(Route, Route.id == OutboxMessage.route_id)
        .where(OutboxMessage.job_log_id == job_log_id)
        .order_by(OutboxMessage.id)
    )
    return [
        RouteTold(row.route_id or 0, name, row.channel, row.event, row.state, row.sent_at, row.last_error)
        for row, name in rows
    ]
