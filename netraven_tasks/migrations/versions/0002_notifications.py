"""Notifications: the outbox and pending digest items.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
IS_JOB = sa.text("kind = 'job'")
IS_DIGEST = sa.text("kind = 'digest'")
IS_DUE = sa.text("state IN ('pending', 'sending')")
IS_PENDING_ITEM = sa.text("outbox_id IS NULL")


def _partial(where: sa.TextClause) -> dict[str, Any]:
    return {"postgresql_where": where, "sqlite_where": where}


def upgrade() -> None:
    op.create_table(
        "notification_outbox",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("job_log_id", BigId, sa.ForeignKey("job_logs.id", ondelete="SET NULL")),
        sa.Column("event", sa.String(16)),
        sa.Column("period", sa.String(8)),
        sa.Column("period_start", Timestamp),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text),
        sa.Column("payload", JSONType),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("state", sa.String(8), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", Timestamp, nullable=False, server_default=sa.func.now()),
        sa.Column("claim_token", sa.String(36)),
        sa.Column("claimed_until", Timestamp),
        sa.Column("last_error", sa.Text),
        sa.Column("provider_message_id", sa.String(255)),
        sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", Timestamp),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed')", name="ck_notification_outbox_state"
        ),
        sa.CheckConstraint("kind IN ('job', 'digest')", name="ck_notification_outbox_kind"),
        sa.CheckConstraint(
            "(kind = 'job' AND job_log_id IS NOT NULL AND event IS NOT NULL) OR "
            "(kind = 'job' AND job_log_id IS NULL) OR "
            "(kind = 'digest' AND period IS NOT NULL AND period_start IS NOT NULL)",
            name="ck_notification_outbox_key",
        ),
    )
    op.create_index(
        "uq_notification_outbox_job",
        "notification_outbox",
        ["user_id", "channel", "job_log_id", "event"],
        unique=True,
        **_partial(IS_JOB),
    )
    op.create_index(
        "uq_notification_outbox_digest",
        "notification_outbox",
        ["user_id", "channel", "period", "period_start"],
        unique=True,
        **_partial(IS_DIGEST),
    )
    op.create_index(
        "ix_notification_outbox_due", "notification_outbox", ["next_attempt_at"], **_partial(IS_DUE)
    )
    op.create_index("ix_notification_outbox_user_created", "notification_outbox", ["user_id", "created_at"])

    op.create_table(
        "notification_digest_items",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_log_id", BigId, sa.ForeignKey("job_logs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
        sa.Column("outbox_id", BigId, sa.ForeignKey("notification_outbox.id", ondelete="SET NULL")),
        sa.CheckConstraint("period IN ('hourly', 'daily')", name="ck_notification_digest_items_period"),
    )
    op.create_index(
        "uq_notification_digest_items",
        "notification_digest_items",
        ["user_id", "job_log_id", "event"],
        unique=True,
    )
    op.create_index(
        "ix_notification_digest_items_pending",
        "notification_digest_items",
        ["period", "user_id", "created_at"],
        **_partial(IS_PENDING_ITEM),
    )


def downgrade() -> None:
    op.drop_table("notification_digest_items")
    op.drop_table("notification_outbox")
