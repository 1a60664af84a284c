"""The device inventory: ``devices`` and their tags in ``device_tags`` (one row per device and tag).

Selection by site, platform and tags is one indexed query on PostgreSQL and SQLite alike: a
composite index per filter column on ``devices`` and ``(tag, device_id)`` on ``device_tags``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(253), nullable=False, unique=True),
        sa.Column("address", sa.String(253), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("site", sa.String(64)),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", Timestamp, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", Timestamp, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_devices_site_platform", "devices", ["site", "platform", "name"])
    op.create_index("ix_devices_platform", "devices", ["platform", "name"])
    op.create_table(
        "device_tags",
        sa.Column(
            "device_id",
            sa.Integer,
            sa.ForeignKey("devices.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_device_tags_tag", "device_tags", ["tag", "device_id"])


def downgrade() -> None:
    op.drop_table("device_tags")
    op.drop_table("devices")
