"""Hourly rollups of job logs, their watermark, and the indexes of queries at scale.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# Prometheus duration buckets (netraven_tasks.metrics.DURATION_BUCKETS when this was written).
PROMETHEUS_BUCKET_COUNT = 14
ACTIVE = sa.text("status IN ('queued', 'running', 'retrying')")
HAS_JOB_LOG = sa.text("job_log_id IS NOT NULL")


def _measures() -> list[sa.Column[Any]]:
    """The additive figures every rollup row carries."""
    return [
        sa.Column("jobs", sa.Integer, nullable=False),
        sa.Column("retried", sa.Integer, nullable=False),
        sa.Column("extra_attempts", sa.Integer, nullable=False),
        sa.Column("timed", sa.Integer, nullable=False),
        sa.Column("duration_sum", sa.Float, nullable=False),
        sa.Column("duration_min", sa.Float),
        sa.Column("duration_max", sa.Float),
        *[sa.Column(f"le_{i}", sa.Integer, nullable=False) for i in range(PROMETHEUS_BUCKET_COUNT)],
    ]


def _group_key(period_start: str, *extra: str) -> list[sa.Column[Any]]:
    return [
        sa.Column("owner_key", sa.Integer, primary_key=True),
        sa.Column(period_start, sa.BigInteger, primary_key=True),
        *[sa.Column(name, sa.String(255), primary_key=True) for name in extra],
        sa.Column("job_type", sa.String(100), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "job_rollups",
        sa.Column("owner_key", sa.Integer, primary_key=True),
        sa.Column("hour_start", sa.BigInteger, primary_key=True),
        sa.Column("job_type", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        *_measures(),
    )
    # Histograms and device failures per hour, and the same summed per UTC day (a month's
    # percentiles read ~30 days, not ~720 hours).
    for suffix, period_start in (("", "hour_start"), ("_daily", "day_start")):
        op.create_table(
            f"job_rollup_durations{suffix}",
            *_group_key(period_start),
            sa.Column("counts", JSONType, nullable=False),
        )
        op.create_table(
            f"job_rollup_device_failures{suffix}",
            *_group_key(period_start, "device"),
            sa.Column("failed", sa.Integer, nullable=False),
        )
    op.create_table(
        "job_rollup_totals",
        sa.Column("job_type", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        *_measures(),
    )
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("watermark", Timestamp),
    )
    # Dirty hours are found from recent changes; a device's runs are read newest first.
    op.create_index("ix_job_logs_updated_at", "job_logs", ["updated_at"])
    op.drop_index("ix_job_logs_device", table_name="job_logs")
    op.create_index("ix_job_logs_device_queued_at", "job_logs", ["device", "queued_at"])
    # The active list is read oldest first: an index in that order answers a page without a sort.
    op.create_index(
        "ix_job_logs_active_queued_at",
        "job_logs",
        ["queued_at", "id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    # Purging a job log sets its outbox rows' job_log_id to NULL and deletes its digest items:
    # without these indexes every deleted row would scan both tables.
    op.create_index(
        "ix_notification_outbox_job_log_id",
        "notification_outbox",
        ["job_log_id"],
        postgresql_where=HAS_JOB_LOG,
        sqlite_where=HAS_JOB_LOG,
    )
    op.create_index("ix_notification_digest_items_job_log_id", "notification_digest_items", ["job_log_id"])


def downgrade() -> None:
    op.drop_index("ix_notification_digest_items_job_log_id", table_name="notification_digest_items")
    op.drop_index("ix_notification_outbox_job_log_id", table_name="notification_outbox")
    op.drop_index("ix_job_logs_active_queued_at", table_name="job_logs")
    op.drop_index("ix_job_logs_device_queued_at", table_name="job_logs")
    op.create_index("ix_job_logs_device", "job_logs", ["device"])
    op.drop_index("ix_job_logs_updated_at", table_name="job_logs")
    for table in (
        "rollup_state",
        "job_rollup_totals",
        "job_rollup_device_failures_daily",
        "job_rollup_durations_daily",
        "job_rollup_device_failures",
        "job_rollup_durations",
        "job_rollups",
    ):
        op.drop_table(table)
