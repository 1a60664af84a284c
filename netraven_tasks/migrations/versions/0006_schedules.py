"""Schedules, their runs' slots, state-change streaks, the in-app inbox and alert keys in the outbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
HAS_ALERT_KEY = sa.text("alert_key IS NOT NULL")
IS_ENABLED = sa.text("enabled")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_type", sa.String(100), nullable=False),
        sa.Column("arguments", JSONType, nullable=False),
        sa.Column("interval_seconds", sa.Integer),
        sa.Column("cron", sa.String(100)),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("grace_seconds", sa.Integer, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("next_run_at", Timestamp, nullable=False),
        sa.Column("slots_from", Timestamp, nullable=False),
        sa.Column("watch_state", sa.String(8), nullable=False, server_default="ok"),
        sa.Column("incident_slot", Timestamp),
        sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", Timestamp, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "(interval_seconds IS NULL) <> (cron IS NULL)", name="ck_schedules_interval_or_cron"
        ),
        sa.CheckConstraint("watch_state IN ('ok', 'late', 'missed')", name="ck_schedules_watch_state"),
    )
    op.create_index("ix_schedules_owner", "schedules", ["owner_id"])
    op.create_index(
        "ix_schedules_due", "schedules", ["next_run_at"], postgresql_where=IS_ENABLED, sqlite_where=IS_ENABLED
    )

    op.add_column("job_logs", sa.Column("schedule_id", sa.Integer))
    op.add_column("job_logs", sa.Column("scheduled_for", Timestamp))
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot add a constraint to a table
        op.create_foreign_key(
            "fk_job_logs_schedule_id", "job_logs", "schedules", ["schedule_id"], ["id"], ondelete="SET NULL"
        )
    # The run's identity: one run per schedule and slot, whoever launches it and however often.
    op.create_index("uq_job_logs_schedule_slot", "job_logs", ["schedule_id", "scheduled_for"], unique=True)

    op.create_table(
        "alert_streaks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(400), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failing_since", Timestamp),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_alert_at", Timestamp),
        sa.Column("last_job_log_id", BigId),
        sa.Column("updated_at", Timestamp, nullable=False, server_default=sa.func.now()),
    )

    op.create_table(
        "inbox_items",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("event", sa.String(16)),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", Timestamp),
    )
    op.create_index("ix_inbox_items_user", "inbox_items", ["user_id", "id"])

    op.add_column("notification_outbox", sa.Column("alert_key", sa.String(200)))
    op.create_index(
        "uq_notification_outbox_alert",
        "notification_outbox",
        ["user_id", "channel", "alert_key"],
        unique=True,
        postgresql_where=HAS_ALERT_KEY,
        sqlite_where=HAS_ALERT_KEY,
    )


def downgrade() -> None:
    op.drop_index("uq_notification_outbox_alert", table_name="notification_outbox")
    op.drop_column("notification_outbox", "alert_key")
    op.drop_table("inbox_items")
    op.drop_table("alert_streaks")
    op.drop_index("uq_job_logs_schedule_slot", table_name="job_logs")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_job_logs_schedule_id", "job_logs", type_="foreignkey")
    op.drop_column("job_logs", "scheduled_for")
    op.drop_column("job_logs", "schedule_id")
    op.drop_table("schedules")
