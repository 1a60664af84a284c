"""Configuration changes: each backup version keeps its +/- line counts against the previous one
(after normalisation), and versions are found by the run that made them (``task_id``), so a
fleet run's summary lists its devices' changes without a scan.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("config_backups", sa.Column("lines_added", sa.Integer))
    op.add_column("config_backups", sa.Column("lines_removed", sa.Integer))
    op.create_index("ix_config_backups_task_id", "config_backups", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_config_backups_task_id", table_name="config_backups")
    with op.batch_alter_table("config_backups") as table:
        table.drop_column("lines_removed")
        table.drop_column("lines_added")
