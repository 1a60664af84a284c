"""Tracking: one fence row per tracking stream (partition), so two recorders never both write.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracking_fences",
        sa.Column("stream", sa.String(200), primary_key=True),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("last_entry", sa.String(48)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("tracking_fences")
