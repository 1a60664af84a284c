"""Fleet runs: ``batches`` (one row per launch over many devices, with per-status counters),
``job_logs.batch_id`` (its children, found through a partial index on ``(batch_id, status)``) and
``schedules.targets`` (a schedule that launches one batch per slot).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
COUNTERS = ("queued", "running", "retrying", "completed", "failed", "canceled")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("job_type", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in COUNTERS),
        sa.Column("arguments", JSONType, nullable=False),
        sa.Column("targets", JSONType, nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("schedule_id", sa.Integer, sa.ForeignKey("schedules.id", ondelete="SET NULL")),
        sa.Column("scheduled_for", Timestamp),
        sa.Column("rerun_of", BigId, sa.ForeignKey("batches.id", ondelete="SET NULL")),
        sa.Column("canceled_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_batches_owner_created", "batches", ["owner_id", "created_at"])
    op.create_index("ix_batches_created", "batches", ["created_at"])
    op.create_index("uq_batches_schedule_slot", "batches", ["schedule_id", "scheduled_for"], unique=True)
    op.add_column("job_logs", sa.Column("batch_id", BigId))
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot add a constraint to a table
        op.create_foreign_key(
            "fk_job_logs_batch_id", "job_logs", "batches", ["batch_id"], ["id"], ondelete="SET NULL"
        )
    op.add_column("schedules", sa.Column("targets", JSONType))
    where = sa.text("batch_id IS NOT NULL")
    op.create_index(
        "ix_job_logs_batch_status",
        "job_logs",
        ["batch_id", "status"],
        postgresql_where=where,
        sqlite_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_job_logs_batch_status", table_name="job_logs")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_job_logs_batch_id", "job_logs", type_="foreignkey")
    op.drop_column("job_logs", "batch_id")
    op.drop_table("batches")
    op.drop_column("schedules", "targets")
