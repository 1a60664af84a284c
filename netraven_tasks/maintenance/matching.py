"""Which maintenance window covers a device or a schedule at a moment.

A window covers a run when any of its ``match`` lists does: the device's name is in ``devices``,
its site (from the inventory) in ``sites``, one of its tags in ``tags``, or the run's schedule in
``schedule_ids``. A window is open at ``at`` when ``starts_at <= at < ends_at`` and its end has
not been handled yet. Where several cover, the one ending last wins: its end is when the
maintenance is over for that device.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from netraven_tasks.devices.models import Device, DeviceTag
from netraven_tasks.maintenance.models import MaintenanceWindow


@dataclass(frozen=True)
class WindowMatch:
    """A window's ``match``, loaded: what it covers."""

    devices: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    schedule_ids: frozenset[int] = frozenset()

    @classmethod
    def of(cls, match: Mapping[str, Any]) -> WindowMatch:
        return cls(
            devices=frozenset(match.get("devices") or ()),
            sites=frozenset(match.get("sites") or ()),
            tags=frozenset(match.get("tags") or ()),
            schedule_ids=frozenset(match.get("schedule_ids") or ()),
        )

    @property
    def needs_inventory(self) -> bool:
        """Whether a device's site or tags are needed to tell (not only its name)."""
        return bool(self.sites or self.tags)

    def covers(self, target: Target) -> bool:
        if target.schedule_id is not None and target.schedule_id in self.schedule_ids:
            return True
        if target.device is None:
            return False
        return (
            target.device in self.devices
            or (target.site is not None and target.site in self.sites)
            or not self.tags.isdisjoint(target.tags)
        )


@dataclass(frozen=True)
class Target:
    """What a window is matched against: a run's device (with its inventory site and tags) and
    schedule."""

    device: str | None
    schedule_id: int | None
    site: str | None = None
    tags: frozenset[str] = frozenset()


def open_windows(
    session: Session, at: datetime, *, skip_runs: bool = False, lock: bool = False
) -> list[MaintenanceWindow]:
    """The windows open at ``at``, the latest ending first. ``lock`` takes a share lock on them
    until the transaction ends, so the task that handles a window's end waits for (or skips past)
    a transaction that is recording what the window suppressed."""
    query = (
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.starts_at <= at,
            MaintenanceWindow.ends_at > at,
            MaintenanceWindow.ended_handled_at.is_(None),
        )
        .order_by(MaintenanceWindow.ends_at.desc(), MaintenanceWindow.id)
    )
    if skip_runs:
        query = query.where(MaintenanceWindow.skip_runs.is_(True))
    if lock:
        query = query.with_for_update(read=True)
    return list(session.scalars(query))


def target_of(session: Session, device: str | None, schedule_id: int | None) -> Target:
    """The target with the device's site and tags from the inventory (none if it is not there)."""
    if device is None:
        return Target(device, schedule_id)
    row = session.execute(select(Device.id, Device.site).where(Device.name == device)).first()
    if row is None:
        return Target(device, schedule_id)
    tags = session.scalars(select(DeviceTag.tag).where(DeviceTag.device_id == row.id))
    return Target(device, schedule_id, row.site, frozenset(tags))


def covering_window(
    session: Session, windows: Sequence[MaintenanceWindow], device: str | None, schedule_id: int | None
) -> MaintenanceWindow | None:
    """The first of ``windows`` that covers the device or schedule (one inventory read, if any
    window matches by site or tag)."""
    matches = [(window, WindowMatch.of(window.match)) for window in windows]
    if not matches:
        return None
    if device is not None and any(match.needs_inventory for _, match in matches):
        target = target_of(session, device, schedule_id)
    else:
        target = Target(device, schedule_id)
    return next((window for window, match in matches if match.covers(target)), None)


def suppressing_window(
    session: Session, *, device: str | None, schedule_id: int | None, at: datetime
) -> MaintenanceWindow | None:
    """The window that holds back alerts and messages about ``device`` or ``schedule_id`` at
    ``at``, or None. Call it in the transaction that would enqueue them, and record what it held
    back with ``record_suppressed`` in the same transaction."""
    return covering_window(session, open_windows(session, at, lock=True), device, schedule_id)


def skipping_window(
    session: Session, *, device: str | None, schedule_id: int | None, at: datetime
) -> MaintenanceWindow | None:
    """The ``skip_runs`` window in which a slot at ``at`` of this schedule (or device) is not launched."""
    return covering_window(session, open_windows(session, at, skip_runs=True), device, schedule_id)


def devices_covered(
    session: Session, windows: Sequence[MaintenanceWindow], names: Collection[str]
) -> dict[str, MaintenanceWindow]:
    """Of the devices ``names``, those a window covers by name, site or tag, each with the first
    such window: one query over the inventory, bounded by the windows' lists."""
    found: dict[str, MaintenanceWindow] = {}
    wanted = set(names)
    for window in windows:
        match = WindowMatch.of(window.match)
        covered = set(match.devices & wanted)
        if match.needs_inventory:
            carrying = select(DeviceTag.device_id).where(DeviceTag.tag.in_(sorted(match.tags)))
            query = select(Device.name).where(
                or_(Device.site.in_(sorted(match.sites)), Device.id.in_(carrying))
            )
            covered |= wanted & set(session.scalars(query))
        for name in covered:
            found.setdefault(name, window)
    return found
