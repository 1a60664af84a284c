"""Security: configuration backups in the database, and token revocation per user.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "config_blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("compressed", sa.LargeBinary, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "config_backups",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("device", sa.String(255), nullable=False),
        sa.Column("namespace_owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("launched_by_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("config_blobs.sha256"), nullable=False),
        sa.Column("changed", sa.Boolean, nullable=False),
        sa.Column("driver", sa.String(16), nullable=False),
        sa.Column("task_id", sa.String(64)),
        sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_config_backups_device", "config_backups", ["device", "namespace_owner_id", "id"])
    # Tokens issued before this instant are refused (set on password change and deactivation).
    op.add_column("users", sa.Column("tokens_valid_after", Timestamp))


def downgrade() -> None:
    op.drop_column("users", "tokens_valid_after")  # SQLite >= 3.35 drops columns natively
    op.drop_index("ix_config_backups_device", table_name="config_backups")
    op.drop_table("config_backups")
    op.drop_table("config_blobs")
