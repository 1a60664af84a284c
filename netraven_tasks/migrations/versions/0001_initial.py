"""Users, job logs and their entries.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
ACTIVE = sa.text("status IN ('queued', 'running', 'retrying')")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(150), nullable=False, unique=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column(
            "notification_preferences",
            JSONType,
            nullable=False,
            server_default=sa.text(
                '\'{"email_notifications": true, "email_on_job_completion": true, '
                '"email_on_job_failure": true, "notification_frequency": "immediate"}\''
            ),
        ),
        sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
    )
    if op.get_context().dialect.name == "postgresql":
        op.create_index(
            "ix_users_notification_preferences",
            "users",
            ["notification_preferences"],
            postgresql_using="gin",
        )

    op.create_table(
        "job_logs",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("task_id", sa.String(64), nullable=False, unique=True),
        sa.Column("job_type", sa.String(100), nullable=False),
        sa.Column("device", sa.String(255)),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("celery_retries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("args", JSONType),
        sa.Column("queued_at", Timestamp, nullable=False),
        sa.Column("started_at", Timestamp),
        sa.Column("finished_at", Timestamp),
        sa.Column("next_retry_at", Timestamp),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("result", JSONType),
        sa.Column("error_type", sa.String(255)),
        sa.Column("error_message", sa.Text),
        sa.Column("worker", sa.String(255)),
        sa.Column("updated_at", Timestamp, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'retrying', 'completed', 'failed', 'canceled')",
            name="ck_job_logs_status",
        ),
    )
    # What the API asks: newest first over a time range, per owner, per job type, per device,
    # and the few rows still active (partial index: it stays tiny however many jobs finished).
    op.create_index("ix_job_logs_queued_at", "job_logs", ["queued_at"])
    op.create_index("ix_job_logs_owner_queued_at", "job_logs", ["owner_id", "queued_at"])
    op.create_index("ix_job_logs_job_type_queued_at", "job_logs", ["job_type", "queued_at"])
    op.create_index("ix_job_logs_device", "job_logs", ["device"])
    op.create_index(
        "ix_job_logs_active",
        "job_logs",
        ["status", "queued_at"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )

    op.create_table(
        "job_log_entries",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "job_log_id",
            BigId,
            sa.ForeignKey("job_logs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("details", JSONType),
    )
    op.create_index("ix_job_log_entries_job_log_id", "job_log_entries", ["job_log_id", "id"])


def downgrade() -> None:
    op.drop_table("job_log_entries")
    op.drop_table("job_logs")
    op.drop_table("users")
