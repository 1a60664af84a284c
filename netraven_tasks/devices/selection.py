"""Resolving a device selector (a batch's or a schedule's ``targets``) into enabled devices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from netraven_tasks.devices.models import Device, DeviceTag


class SelectionError(ValueError):
    """A selector that cannot be resolved; the API answers 422 naming ``targets``."""

    field = "targets"


class NoDevicesMatched(SelectionError):
    """The selector is valid but selects no enabled device."""


class UnknownDevices(SelectionError):
    """The selector names devices the inventory does not have."""

    def __init__(self, names: Sequence[str]):
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        super().__init__(f"no device named {shown} in the inventory")
        self.names = list(names)


class SelectedDevice(NamedTuple):
    """What a launch needs of a selected device: its name (each child's ``device``) and the address
    its job connects to. Two columns rather than ORM objects with their tags: a fleet of 10,000
    loads in milliseconds instead of most of a second."""

    name: str
    address: str


@dataclass(frozen=True)
class Selector:
    """A loaded ``TargetsSchema``: names, or filters that all apply."""

    devices: tuple[str, ...] = ()
    site: str | None = None
    platform: str | None = None
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, targets: Mapping[str, Any]) -> Selector:
        return cls(
            devices=tuple(targets.get("devices") or ()),
            site=targets.get("site"),
            platform=targets.get("platform"),
            tags=tuple(targets.get("tags") or ()),
        )

    def describe(self) -> str:
        if self.devices:
            return f"devices {', '.join(self.devices[:5])}{' …' if len(self.devices) > 5 else ''}"
        parts = [
            f"site {self.site}" if self.site else "",
            f"platform {self.platform}" if self.platform else "",
        ]
        parts.append(f"tags {', '.join(self.tags)}" if self.tags else "")
        return ", ".join(part for part in parts if part)


Columns = TypeVarTuple("Columns")  # what a query over devices selects: whole rows, or some columns


def with_tags(query: Select[*Columns], tags: Sequence[str]) -> Select[*Columns]:
    """Devices that carry every one of ``tags``: one semi-join over ``ix_device_tags_tag``."""
    wanted = sorted(set(tags))
    if not wanted:
        return query
    carrying = (
        select(DeviceTag.device_id)
        .where(DeviceTag.tag.in_(wanted))
        .group_by(DeviceTag.device_id)
        .having(func.count() == len(wanted))
    )
    return query.where(Device.id.in_(carrying))


def filtered(
    query: Select[*Columns],
    *,
    site: str | None = None,
    platform: str | None = None,
    tags: Sequence[str] = (),
) -> Select[*Columns]:
    """``query`` over devices narrowed by site, platform and tags (every one): the inventory list
    and the selectors share this, so they cannot disagree about what a filter means."""
    if site is not None:
        query = query.where(Device.site == site)
    if platform is not None:
        query = query.where(Device.platform == platform)
    return with_tags(query, tags)


def select_devices(session: Session, selector: Selector) -> list[SelectedDevice]:
    """The enabled devices ``selector`` names or matches, by name. Raises ``UnknownDevices`` for a
    name the inventory lacks (a typo must not shrink a fleet run silently) and ``NoDevicesMatched``
    when nothing enabled is left."""
    if selector.devices:
        names = sorted(set(selector.devices))
        named = session.execute(
            select(Device.name, Device.address, Device.enabled)
            .where(Device.name.in_(names))
            .order_by(Device.name)
        ).all()
        missing = sorted(set(names) - {row.name for row in named})
        if missing:
            raise UnknownDevices(missing)
        devices = [SelectedDevice(row.name, row.address) for row in named if row.enabled]
    else:
        query = select(Device.name, Device.address).where(Device.enabled.is_(True)).order_by(Device.name)
        query = filtered(query, site=selector.site, platform=selector.platform, tags=selector.tags)
        devices = [SelectedDevice(name, address) for name, address in session.execute(query)]
    if not devices:
        raise NoDevicesMatched(f"no enabled device matches the targets ({selector.describe()})")
    return devices
