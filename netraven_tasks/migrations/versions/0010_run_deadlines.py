"""Job logs: ``deadline_at``, the deadline a running attempt's worker renews with each heartbeat.

The reaper settles a ``running`` row only once this deadline (or, before the first heartbeat,
the attempt's start plus NETRAVEN_DEADLINE_SECONDS) has passed: a long job without a time limit
is never reaped while its worker lives. No index: only the few running rows are ever read by it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("job_logs", sa.Column("deadline_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("job_logs", "deadline_at")
