"""Test messages: the outbox takes rows of kind ``test`` (POST /users/me/notifications/test).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_BEFORE = (
    "(kind = 'job' AND job_log_id IS NOT NULL AND event IS NOT NULL) OR "
    "(kind = 'job' AND job_log_id IS NULL) OR "
    "(kind = 'digest' AND period IS NOT NULL AND period_start IS NOT NULL)"
)
KEY_AFTER = f"{KEY_BEFORE} OR (kind = 'test' AND event IS NOT NULL)"


def _constraints(kinds: str, key: str) -> None:
    with op.batch_alter_table("notification_outbox") as table:
        table.drop_constraint("ck_notification_outbox_kind", type_="check")
        table.drop_constraint("ck_notification_outbox_key", type_="check")
        table.create_check_constraint("ck_notification_outbox_kind", f"kind IN ({kinds})")
        table.create_check_constraint("ck_notification_outbox_key", key)


def upgrade() -> None:
    _constraints("'job', 'digest', 'test'", KEY_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM notification_outbox WHERE kind = 'test'")
    _constraints("'job', 'digest'", KEY_BEFORE)
