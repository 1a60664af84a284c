"""Tables of signed-out tokens and of launch counters (made by migration ``0011``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from netraven_tasks.models import Base, UTCDateTime


class RevokedToken(Base):
    """A token signed out before it expired: refused until ``expires_at``, then purged."""

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index("ix_revoked_tokens_expires_at", "expires_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LaunchWindow(Base):
    """How many runs a user launched in one fixed window: the launch rate where no Redis counts."""

    __tablename__ = "launch_windows"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    window_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds
    launches: Mapped[int] = mapped_column(Integer)
