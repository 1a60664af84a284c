"""The ``routes`` table (made by migration ``0023``): one shared destination and what it matches.

A route's messages are outbox rows with ``route_id`` set and no personal recipient; deleting a
route deletes its pending messages and their history with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from netraven_tasks.models import Base, JSONType, UTCDateTime, utcnow
from netraven_tasks.teams import models as _team_models  # noqa: F401 - team_id's table

NAME_LENGTH = 100
TARGET_LENGTH = 2048


class Route(Base):
    """Events matching ``match`` (job types, sites, tags, events; an empty list matches all) go to
    ``target`` on ``channel``. ``team_id`` null: an admins' route."""

    __tablename__ = "routes"
    # Planning reads the enabled routes on every alert; the team's routes are listed per team.
    __table_args__ = (Index("ix_routes_team", "team_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    match: Mapped[dict[str, Any]] = mapped_column(JSONType)
    channel: Mapped[str] = mapped_column(String(16))
    # A webhook URL or a routing/API key: a secret, masked in every answer (``routes.targets``).
    target: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
