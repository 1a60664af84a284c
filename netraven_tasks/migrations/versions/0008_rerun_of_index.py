"""Job logs: an index on ``rerun_of``, so deleting job logs does not scan the table per row.

``rerun_of`` references ``job_logs`` with ON DELETE SET NULL: without an index, PostgreSQL looks
for the re-runs of every deleted row with a sequential scan of ``job_logs``, and one retention
batch of 2,000 rows over a million job logs took minutes instead of milliseconds. Partial: only
re-runs have the column set.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONLY_RERUNS = sa.text("rerun_of IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_job_logs_rerun_of",
        "job_logs",
        ["rerun_of"],
        postgresql_where=ONLY_RERUNS,
        sqlite_where=ONLY_RERUNS,
    )


def downgrade() -> None:
    op.drop_index("ix_job_logs_rerun_of", table_name="job_logs")
