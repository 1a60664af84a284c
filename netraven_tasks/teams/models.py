"""The ``teams`` and ``team_members`` tables (made by migration ``0018``).

Runs, batches and schedules carry an optional ``team_id``; a team's members see and act on them,
its managers also edit the team's routes and members. A user may belong to several teams.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from netraven_tasks.models import Base, UTCDateTime, utcnow


class TeamRole(StrEnum):
    MEMBER = "member"  # sees and acts on the team's runs, batches and schedules
    MANAGER = "manager"  # and edits the team's members and routes


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(Base):
    __tablename__ = "team_members"
    # "Which teams is this user in" is asked on every request that checks visibility.
    __table_args__ = (Index("ix_team_members_user", "user_id", "team_id"),)

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default=TeamRole.MEMBER.value)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
