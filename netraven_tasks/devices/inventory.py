"""Creating, changing, listing and describing devices: one implementation for the API, the CLI and
the dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from netraven_tasks.devices.models import Device
from netraven_tasks.devices.selection import filtered
from netraven_tasks.models import utcnow

EDITABLE = ("address", "platform", "site", "tags", "enabled")
MAX_ID = 2**31 - 1


class DeviceExists(ValueError):
    """A device of that name is already in the inventory (the API answers 409)."""


@dataclass(frozen=True)
class DeviceFilter:
    """The inventory list's filters: site, platform, every tag, enabled, a name prefix."""

    site: str | None = None
    platform: str | None = None
    tags: Sequence[str] = ()
    enabled: bool | None = None
    name_prefix: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        query = filtered(query, site=self.site, platform=self.platform, tags=self.tags)
        if self.enabled is not None:
            query = query.where(Device.enabled.is_(self.enabled))
        if self.name_prefix:
            # Not LIKE: SQLite's ignores case and PostgreSQL's does not; this means the same on both.
            prefix = self.name_prefix
            query = query.where(func.substr(Device.name, 1, len(prefix)) == prefix)
        return query


def find_device(session: Session, name: str) -> Device | None:
    return session.scalar(select(Device).where(Device.name == name))


def device_platform(session: Session, name: str) -> str:
    """The device's platform, or ``generic`` for a host not in the inventory (normalisation rules)."""
    return session.scalar(select(Device.platform).where(Device.name == name)) or "generic"


def page_of_devices(
    session: Session, where: DeviceFilter, limit: int, offset: int
) -> tuple[list[Device], int]:
    """One page of devices by name, and how many match in all."""
    total = session.scalar(where.apply(select(func.count()).select_from(Device))) or 0
    devices = session.scalars(where.apply(select(Device)).order_by(Device.name).limit(limit).offset(offset))
    return list(devices), total


def values_of(device: Device) -> dict[str, Any]:
    """The editable fields of a stored device, as a loaded ``DeviceSchema`` has them."""
    return {"name": device.name, **{key: getattr(device, key) for key in EDITABLE}}


def apply_values(device: Device, values: dict[str, Any], now: datetime) -> bool:
    """Set the fields in ``values`` (tags replaced as a whole); whether anything changed."""
    changed = False
    for key, value in values.items():
        if key == "name" or getattr(device, key) == (sorted(set(value)) if key == "tags" else value):
            continue
        if key == "tags":
            device.set_tags(value)
        else:
            setattr(device, key, value)
        changed = True
    if changed:
        device.updated_at = now
    return changed


def create_device(session: Session, values: dict[str, Any]) -> Device:
    """Add a device from complete values (``schemas.with_defaults``); DeviceExists if the name is taken."""
    if find_device(session, values["name"]) is not None:
        raise DeviceExists(f"a device named {values['name']} already exists")
    device = new_device(values, utcnow())
    session.add(device)
    session.flush()
    return device


def new_device(values: dict[str, Any], now: datetime) -> Device:
    """A device (not added to a session yet) from complete values."""
    device = Device(name=values["name"], created_at=now, updated_at=now)
    for key in EDITABLE:
        if key == "tags":
            device.set_tags(values["tags"])
        else:
            setattr(device, key, values[key])
    return device


def describe(device: Device) -> dict[str, Any]:
    """What the API answers for a device."""
    return {
        "id": device.id,
        **values_of(device),
        "created_at": device.created_at,
        "updated_at": device.updated_at,
    }
