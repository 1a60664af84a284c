"""Maintenance windows as the API and the CLI change them: create, change, end, delete, list."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from netraven_tasks.maintenance.models import MaintenanceWindow, SkippedSlot, SuppressedNotification
from netraven_tasks.maintenance.schemas import MATCH_FIELDS, check_span


class WindowState(StrEnum):
    UPCOMING = "upcoming"
    ACTIVE = "active"
    ENDED = "ended"


class WindowRefused(Exception):
    """The change does not fit the window's state (the API answers 409)."""


class WindowNotFound(LookupError):
    """No window with that id (404)."""


def state_of(window: MaintenanceWindow, now: datetime) -> WindowState:
    if now < window.starts_at:
        return WindowState.UPCOMING
    if now < window.ends_at and window.ended_handled_at is None:
        return WindowState.ACTIVE
    return WindowState.ENDED


def full_match(match: dict[str, Any]) -> dict[str, Any]:
    """Every list of a match, sorted and without repeats (absent lists are empty)."""
    return {name: sorted(set(match.get(name) or ())) for name in MATCH_FIELDS}


def get_window(session: Session, window_id: int) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id) if 0 < window_id <= 2**31 - 1 else None
    if window is None:
        raise WindowNotFound(f"no maintenance window {window_id}")
    return window


def create_window(
    session: Session, values: dict[str, Any], created_by: int | None, now: datetime
) -> MaintenanceWindow:
    """A new window from values loaded by ``WindowSchema``."""
    window = MaintenanceWindow(
        starts_at=values["starts_at"],
        ends_at=values["ends_at"],
        match=full_match(values["match"]),
        skip_runs=values.get("skip_runs", False),
        reason=values.get("reason", ""),
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(window)
    session.flush()
    return window


def update_window(
    session: Session, window: MaintenanceWindow, changes: dict[str, Any], now: datetime
) -> None:
    """Apply the fields given (loaded by ``WindowSchema(partial=True)``); ``match`` replaces the
    whole match. A window whose end was handled is history: WindowRefused."""
    if window.ended_handled_at is not None:
        raise WindowRefused(f"maintenance window {window.id} has ended; create a new one")
    check_span(changes.get("starts_at", window.starts_at), changes.get("ends_at", window.ends_at))
    for name in ("starts_at", "ends_at", "skip_runs", "reason"):
        if name in changes:
            setattr(window, name, changes[name])
    if "match" in changes:
        window.match = full_match(changes["match"])
    window.updated_at = now
    session.flush()


def end_window_now(session: Session, window: MaintenanceWindow, now: datetime) -> None:
    """End an active window at ``now`` (the beat task then tells who is still failing)."""
    state = state_of(window, now)
    if state is WindowState.UPCOMING:
        raise WindowRefused(f"maintenance window {window.id} has not started; delete it instead")
    if state is WindowState.ENDED:
        raise WindowRefused(f"maintenance window {window.id} has ended already")
    update_window(session, window, {"ends_at": now}, now)


def delete_window(session: Session, window: MaintenanceWindow, now: datetime) -> None:
    """Delete an upcoming or ended window with what it recorded; an active one must be ended first
    (so that who is still failing is told)."""
    if state_of(window, now) is WindowState.ACTIVE:
        raise WindowRefused(f"maintenance window {window.id} is in progress: end it first")
    if window.ends_at <= now and window.ended_handled_at is None:
        raise WindowRefused(f"maintenance window {window.id} is ending; try again in a minute")
    session.delete(window)
    session.flush()


def list_windows(
    session: Session, now: datetime, state: WindowState | None, limit: int, offset: int
) -> tuple[list[MaintenanceWindow], int]:
    """Windows in ``state`` (or all): the latest starting first; and how many there are."""
    query = select(MaintenanceWindow)
    if state is WindowState.UPCOMING:
        query = query.where(MaintenanceWindow.starts_at > now)
    elif state is WindowState.ACTIVE:
        query = query.where(
            MaintenanceWindow.starts_at <= now,
            MaintenanceWindow.ends_at > now,
            MaintenanceWindow.ended_handled_at.is_(None),
        )
    elif state is WindowState.ENDED:
        query = query.where(
            MaintenanceWindow.starts_at <= now,
            (MaintenanceWindow.ends_at <= now) | MaintenanceWindow.ended_handled_at.is_not(None),
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(MaintenanceWindow.starts_at.desc(), MaintenanceWindow.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def describe(session: Session, windows: list[MaintenanceWindow], now: datetime) -> list[dict[str, Any]]:
    """The windows as the API shows them: with their state and how much each held back or skipped
    (two grouped counts for the whole list)."""
    ids = [window.id for window in windows]
    suppressed = _counts(session, SuppressedNotification.window_id, ids)
    skipped = _counts(session, SkippedSlot.window_id, ids)
    return [
        {
            "id": window.id,
            "starts_at": window.starts_at,
            "ends_at": window.ends_at,
            "match": full_match(window.match),
            "skip_runs": window.skip_runs,
            "reason": window.reason,
            "created_by": window.created_by,
            "created_at": window.created_at,
            "updated_at": window.updated_at,
            "ended_handled_at": window.ended_handled_at,
            "state": state_of(window, now).value,
            "suppressed": suppressed.get(window.id, 0),
            "skipped_slots": skipped.get(window.id, 0),
        }
        for window in windows
    ]


def _counts(session: Session, column: Any, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(select(column, func.count()).where(column.in_(ids)).group_by(column))
    return {int(window_id): int(count) for window_id, count in rows}
