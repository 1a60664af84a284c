"""Tables of the device inventory (made by migration ``0012``): devices and their tags.

Tags live in their own table, one row per (device, tag), rather than in a JSON column: a selector's
``tags`` then becomes one indexed semi-join on PostgreSQL and SQLite alike, where a JSON list needs
a GIN index on PostgreSQL and a full scan with ``json_each`` on SQLite.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from netraven_tasks.models import Base, UTCDateTime, utcnow

NAME_LENGTH = 253  # a DNS name's longest
SITE_LENGTH = 64
PLATFORM_LENGTH = 32
TAG_LENGTH = 64


class Device(Base):
    """One device jobs run against: its name (unique) and the address they connect to."""

    __tablename__ = "devices"
    __table_args__ = (
        # Selection filters by site, platform or both; the list is ordered by name within them.
        Index("ix_devices_site_platform", "site", "platform", "name"),
        Index("ix_devices_platform", "platform", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    address: Mapped[str] = mapped_column(String(NAME_LENGTH))
    platform: Mapped[str] = mapped_column(String(PLATFORM_LENGTH))
    site: Mapped[str | None] = mapped_column(String(SITE_LENGTH))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tag_rows: Mapped[list[DeviceTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="DeviceTag.tag"
    )

    @property
    def tags(self) -> list[str]:
        return sorted(row.tag for row in self.tag_rows)

    def set_tags(self, tags: list[str]) -> None:
        """Keep the rows of tags still wanted and add the new ones (a removed and re-added row in
        one flush would be inserted before its delete and break the primary key)."""
        wanted = set(tags)
        self.tag_rows = [row for row in self.tag_rows if row.tag in wanted]
        kept = {row.tag for row in self.tag_rows}
        self.tag_rows.extend(DeviceTag(tag=tag) for tag in sorted(wanted - kept))


class DeviceTag(Base):
    """One tag of one device."""

    __tablename__ = "device_tags"
    # The primary key serves a device's tags; this index serves "the devices with tag T".
    __table_args__ = (Index("ix_device_tags_tag", "tag", "device_id"),)

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(TAG_LENGTH), primary_key=True)
