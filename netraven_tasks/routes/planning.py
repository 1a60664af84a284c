"""A route's messages into the outbox: the one place every route message is planned.

Each event a route may hear of (a failure, a reminder, a recovery, a missed run, a configuration
change, a finished fleet run) calls ``plan_route_messages`` in the transaction that plans the
personal notifications of the same event, so it happens exactly once: the outbox key (route,
``RouteEvent.key``) keeps a second planning from adding anything, and delivery, backoff and the
delivery history are the outbox's. Inside a maintenance window that covers the event's device or
schedule, each route's message is recorded as suppressed instead (``maintenance/``), here, before
any row is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from netraven_tasks.maintenance.matching import suppressing_window
from netraven_tasks.maintenance.suppression import record_suppressed
from netraven_tasks.notifications.channels.registry import channel
from netraven_tasks.notifications.channels.spec import RouteNotice
from netraven_tasks.notifications.models import MessageKind
from netraven_tasks.notifications.outbox import enqueue, new_message_id
from netraven_tasks.routes.matching import (
    DeviceFacts,
    RouteMatch,
    matches_devices,
    matches_event,
    names_devices,
)
from netraven_tasks.routes.models import Route

DeviceLoader = Callable[[Session], Sequence[DeviceFacts]]


def _no_devices(session: Session) -> Sequence[DeviceFacts]:
    return ()


@dataclass(frozen=True)
class RouteEvent:
    """One event as routes see it: what they are told (``notice``), what matching asks
    (job type, team, devices: read only when a candidate route names sites or tags), the outbox
    key within each route and the run it is about (the run page lists the routes told)."""

    notice: RouteNotice
    job_type: str | None
    team_id: int | None
    key: str
    devices: DeviceLoader = field(default=_no_devices)
    job_log_id: int | None = None
    # What a maintenance window may cover: the event's device and the schedule behind it.
    device: str | None = None
    schedule_id: int | None = None

    @property
    def event(self) -> str:
        return self.notice.event


def enabled_routes(session: Session) -> list[Route]:
    return list(session.scalars(select(Route).where(Route.enabled).order_by(Route.id)))


def any_route_enabled(session: Session) -> bool:
    """Whether building a route event is worth it (reading a batch's report, its devices)."""
    return bool(session.scalar(select(exists().where(Route.enabled))))


def matching_routes(session: Session, event: RouteEvent) -> list[Route]:
    """The enabled routes ``event`` concerns: their match, their team, their channel's events."""
    candidates = []
    for route in enabled_routes(session):
        spec = channel(route.channel)
        match = RouteMatch.of(route.match)
        if spec is None or spec.route_target is None or not spec.route_concerns(event.event):
            continue
        if matches_event(match, route.team_id, event.event, event.job_type, event.team_id):
            candidates.append((route, match))
    if not candidates:
        return []
    devices = event.devices(session) if any(names_devices(m) for _, m in candidates) else ()
    return [route for route, match in candidates if matches_devices(match, devices)]


def plan_route_messages(session: Session, event: RouteEvent, mail_from: str, now: datetime) -> list[int]:
    """Enqueue ``event`` for every route it concerns (inside the caller's transaction); returns
    the new outbox ids (none for a route told before, or held back by a maintenance window)."""
    ids = []
    routes = matching_routes(session, event)
    window = None
    if routes and (event.device is not None or event.schedule_id is not None):
        window = suppressing_window(session, device=event.device, schedule_id=event.schedule_id, at=now)
    for route in routes:
        spec = channel(route.channel)
        if spec is None:
            continue
        if window is not None:
            record_suppressed(
                session,
                window,
                event=event.event,
                job_log_id=event.job_log_id,
                schedule_id=event.schedule_id,
                device=event.device,
                route_id=route.id,
            )
            continue
        outbox_id = enqueue(
            session,
            kind=MessageKind.JOB.value,
            job_log_id=event.job_log_id,
            event=event.event,
            alert_key=event.key,
            message_id=new_message_id(mail_from),
            next_attempt_at=now,
            **spec.route_message_values(route.id, route.target, event.notice),
        )
        if outbox_id is not None:
            ids.append(outbox_id)
    return ids
