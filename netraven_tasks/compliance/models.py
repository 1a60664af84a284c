"""``compliance_results``: one row per compliance run (made by migration ``0017``).

The job writes its row in a transaction of its own *before* it fails a non-compliant run, so a
failed run, which has no ``result`` in its job log, still shows every rule's outcome. Like
backups, a row belongs to a history: the shared one (``namespace_owner_id`` NULL) for admins and
operator runs, a non-admin's own otherwise (the history whose backup it checked).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from netraven_tasks.models import Base, BigId, UTCDateTime, utcnow

# A JSON list, so not models.JSONType: that instance is tied to MutableDict (users' preferences),
# which SQLAlchemy applies to every column of the same type object, and a list is no dict.
JSONList = JSON().with_variant(JSONB(), "postgresql")


class ComplianceResult(Base):
    __tablename__ = "compliance_results"
    # The latest result of a device in a history: one index range read, newest id first.
    __table_args__ = (Index("ix_compliance_results_device", "device", "namespace_owner_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device: Mapped[str] = mapped_column(String(255))  # the inventory name, as backups are kept
    namespace_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    task_id: Mapped[str | None] = mapped_column(String(64))  # the run's job log
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    platform: Mapped[str] = mapped_column(String(32))
    backup_sha256: Mapped[str] = mapped_column(String(64))  # the version checked
    passed: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(Text)  # "2 of 5 rules failed: …"
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONList)  # RuleResult.as_dict() each
