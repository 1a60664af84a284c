"""Compliance results: one row per ``compliance_check`` run, with every rule's outcome.

A failed run keeps no ``result`` in its job log, so the job writes this row before it fails; the
latest row of a device (in a history: shared, or a user's own) is one read of
``ix_compliance_results_device``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "compliance_results",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("device", sa.String(255), nullable=False),
        sa.Column("namespace_owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("task_id", sa.String(64)),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("backup_sha256", sa.String(64), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("rules", JSONType, nullable=False),
    )
    op.create_index(
        "ix_compliance_results_device", "compliance_results", ["device", "namespace_owner_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("compliance_results")
