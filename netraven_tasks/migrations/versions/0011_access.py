"""Access: signed-out tokens, launch counters, and why a schedule was paused.

``revoked_tokens`` holds the id (``jti``) of every token signed out before it expired, so a
copied session cookie stops working at sign-out, not hours later. ``launch_windows`` counts a
user's launches per fixed window when there is no Redis to count them (the embedded default).
``schedules.paused_reason`` says why the system paused a schedule (its owner was deactivated).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])
    op.create_table(
        "launch_windows",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("window_seconds", sa.Integer, primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True),
        sa.Column("launches", sa.Integer, nullable=False),
    )
    op.add_column("schedules", sa.Column("paused_reason", sa.String(200)))


def downgrade() -> None:
    op.drop_column("schedules", "paused_reason")  # SQLite >= 3.35 drops columns natively
    op.drop_table("launch_windows")
    op.drop_index("ix_revoked_tokens_expires_at", table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
