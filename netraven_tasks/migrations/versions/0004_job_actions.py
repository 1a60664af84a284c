"""Job actions from the dashboard: which run a re-run repeats, and who canceled a run.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _is_postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    op.add_column("job_logs", sa.Column("rerun_of", BigId))
    op.add_column("job_logs", sa.Column("canceled_by", sa.Integer))
    # SQLite cannot add a foreign key to an existing table without rebuilding it; the embedded
    # default does without the two constraints (they only say what happens on delete).
    if _is_postgresql():
        op.create_foreign_key(
            "fk_job_logs_rerun_of", "job_logs", "job_logs", ["rerun_of"], ["id"], ondelete="SET NULL"
        )
        op.create_foreign_key(
            "fk_job_logs_canceled_by", "job_logs", "users", ["canceled_by"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    if _is_postgresql():
        op.drop_constraint("fk_job_logs_canceled_by", "job_logs", type_="foreignkey")
        op.drop_constraint("fk_job_logs_rerun_of", "job_logs", type_="foreignkey")
    op.drop_column("job_logs", "canceled_by")
    op.drop_column("job_logs", "rerun_of")
