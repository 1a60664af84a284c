"""Maintenance windows, the notifications they suppressed and the schedule slots they skipped.

``suppressed_notifications.route_id`` is a plain integer: routes live in a table of their own
that this migration does not know about.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def _partial(where: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade() -> None:
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("match", JSONType, nullable=False),
        sa.Column("skip_runs", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("ended_handled_at", TIMESTAMP),
    )
    op.create_index("ix_maintenance_windows_span", "maintenance_windows", ["starts_at", "ends_at"])
    op.create_index(
        "ix_maintenance_windows_unhandled",
        "maintenance_windows",
        ["ends_at"],
        **_partial("ended_handled_at IS NULL"),
    )
    op.create_table(
        "suppressed_notifications",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "window_id",
            sa.Integer,
            sa.ForeignKey("maintenance_windows.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("job_log_id", BigId, sa.ForeignKey("job_logs.id", ondelete="CASCADE")),
        sa.Column("schedule_id", sa.Integer, sa.ForeignKey("schedules.id", ondelete="SET NULL")),
        sa.Column("device", sa.String(255)),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("route_id", sa.Integer),
        sa.Column("record_key", sa.String(400), nullable=False, unique=True),
        sa.Column("at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_suppressed_notifications_window", "suppressed_notifications", ["window_id", "event"])
    op.create_index(
        "ix_suppressed_notifications_job_log",
        "suppressed_notifications",
        ["job_log_id"],
        **_partial("job_log_id IS NOT NULL"),
    )
    op.create_index("ix_suppressed_notifications_user_at", "suppressed_notifications", ["user_id", "at"])
    op.create_table(
        "skipped_slots",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "window_id",
            sa.Integer,
            sa.ForeignKey("maintenance_windows.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "schedule_id", sa.Integer, sa.ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("scheduled_for", TIMESTAMP, nullable=False),
        sa.Column("device", sa.String(255)),
        sa.Column("at", TIMESTAMP, nullable=False),
    )
    op.create_index(
        "uq_skipped_slots_slot",
        "skipped_slots",
        ["schedule_id", "scheduled_for"],
        unique=True,
        **_partial("device IS NULL"),
    )
    op.create_index(
        "uq_skipped_slots_device",
        "skipped_slots",
        ["schedule_id", "scheduled_for", "device"],
        unique=True,
        **_partial("device IS NOT NULL"),
    )
    op.create_index("ix_skipped_slots_window", "skipped_slots", ["window_id"])


def downgrade() -> None:
    op.drop_table("skipped_slots")
    op.drop_table("suppressed_notifications")
    op.drop_table("maintenance_windows")
