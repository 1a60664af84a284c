"""A fleet run is one digest item: ``notification_digest_items.batch_id``.

A digest lists a finished batch as one line (its counts and failed devices), not one line per
device; such an item has ``batch_id`` set and no ``job_log_id``. One item per (recipient, batch).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HAS_BATCH = sa.text("batch_id IS NOT NULL")


def upgrade() -> None:
    # batch_alter_table: plain ALTERs on PostgreSQL, a copied table on SQLite (which cannot alter).
    with op.batch_alter_table("notification_digest_items") as table:
        table.alter_column("job_log_id", existing_type=BigId, nullable=True)
        table.add_column(sa.Column("batch_id", BigId))
        table.create_foreign_key(
            "fk_notification_digest_items_batch_id", "batches", ["batch_id"], ["id"], ondelete="CASCADE"
        )
    op.create_index(
        "uq_notification_digest_items_batch",
        "notification_digest_items",
        ["batch_id", "user_id"],
        unique=True,
        postgresql_where=HAS_BATCH,
        sqlite_where=HAS_BATCH,
    )


def downgrade() -> None:
    op.execute("DELETE FROM notification_digest_items WHERE batch_id IS NOT NULL")
    op.drop_index("uq_notification_digest_items_batch", table_name="notification_digest_items")
    with op.batch_alter_table("notification_digest_items") as table:
        table.drop_constraint("fk_notification_digest_items_batch_id", type_="foreignkey")
        table.drop_column("batch_id")
        table.alter_column("job_log_id", existing_type=BigId, nullable=False)
