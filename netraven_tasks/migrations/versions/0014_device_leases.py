"""Per-device leases on the embedded default (no Redis): ``device_leases``, one row per holder.

A job holds a row (device, task id, expiry) while it runs; a device has at most its limit of
unexpired rows. With Redis the leases live there instead (``devices/leases.py``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_leases",
        sa.Column("device", sa.String(255), primary_key=True),
        sa.Column("holder", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("device_leases")
