"""Job rollups summed per UTC day, so long statistics windows read days instead of hours.

A 90-day window read ~13,000 hourly ``job_rollups`` rows twice (totals and series) per request;
whole days now come from ``job_rollups_daily`` (24 times fewer rows) and only the partial days at
the window's ends from the hourly table. The table is filled here from the hourly rows, and kept by
the rollup job from then on (it re-sums every day an hour of which it re-rolls).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROMETHEUS_BUCKET_COUNT = 14  # as in 0005
ADDITIVE = ("jobs", "retried", "extra_attempts", "timed", "duration_sum",
            *[f"le_{i}" for i in range(PROMETHEUS_BUCKET_COUNT)])  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "job_rollups_daily",
        sa.Column("owner_key", sa.Integer, primary_key=True),
        sa.Column("day_start", sa.BigInteger, primary_key=True),
        sa.Column("job_type", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("jobs", sa.Integer, nullable=False),
        sa.Column("retried", sa.Integer, nullable=False),
        sa.Column("extra_attempts", sa.Integer, nullable=False),
        sa.Column("timed", sa.Integer, nullable=False),
        sa.Column("duration_sum", sa.Float, nullable=False),
        sa.Column("duration_min", sa.Float),
        sa.Column("duration_max", sa.Float),
        *[sa.Column(f"le_{i}", sa.Integer, nullable=False) for i in range(PROMETHEUS_BUCKET_COUNT)],
    )
    # Column names are this file's constants; no input reaches this statement.
    columns, sums = ", ".join(ADDITIVE), ", ".join(f"SUM({name})" for name in ADDITIVE)
    day = "hour_start / 86400 * 86400"
    op.execute(
        f"INSERT INTO job_rollups_daily (owner_key, day_start, job_type, status, {columns}, "  # noqa: S608
        f"duration_min, duration_max) SELECT owner_key, {day}, job_type, status, {sums}, "
        f"MIN(duration_min), MAX(duration_max) FROM job_rollups GROUP BY owner_key, {day}, job_type, status"
    )


def downgrade() -> None:
    op.drop_table("job_rollups_daily")
