"""Backup tables: one compressed blob per distinct content, one version row per stored backup.

A version belongs to a namespace: the shared device history (``namespace_owner_id`` NULL) written
by admins and operator runs, or the private history of the non-admin user who launched it, so no
user's run can change what another user, or the shared history, shows for a device.
The schema is made by the Alembic migration ``0003_security``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from netraven_tasks.models import Base, BigId, UTCDateTime, utcnow


class ConfigBlob(Base):
    __tablename__ = "config_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    compressed: Mapped[bytes] = mapped_column(LargeBinary)  # zlib
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConfigBackup(Base):
    __tablename__ = "config_backups"
    __table_args__ = (
        Index("ix_config_backups_device", "device", "namespace_owner_id", "id"),
        Index("ix_config_backups_task_id", "task_id"),  # a fleet run's changes (0016)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device: Mapped[str] = mapped_column(String(255))
    namespace_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    launched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sha256: Mapped[str] = mapped_column(ForeignKey("config_blobs.sha256"))
    changed: Mapped[bool] = mapped_column(Boolean)  # after normalisation (backups/normalise.py)
    # Lines added and removed against the previous version, after normalisation (0016; NULL for
    # the first version and for versions stored before).
    lines_added: Mapped[int | None] = mapped_column(Integer)
    lines_removed: Mapped[int | None] = mapped_column(Integer)
    driver: Mapped[str] = mapped_column(String(16))
    task_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
