"""Teams and their members; runs, batches and schedules may belong to a team.

A deleted team leaves its runs, batches and schedules with their owners (``team_id`` set NULL).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEAM_OWNED = ("job_logs", "batches", "schedules")


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_team_members_user", "team_members", ["user_id", "team_id"])
    sqlite = op.get_bind().dialect.name == "sqlite"  # SQLite cannot add a constraint to a table
    for table in TEAM_OWNED:
        op.add_column(table, sa.Column("team_id", sa.Integer))
        if not sqlite:
            op.create_foreign_key(
                f"fk_{table}_team_id", table, "teams", ["team_id"], ["id"], ondelete="SET NULL"
            )
        where = sa.text("team_id IS NOT NULL")
        op.create_index(f"ix_{table}_team", table, ["team_id"], postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TEAM_OWNED:
        op.drop_index(f"ix_{table}_team", table_name=table)
        if not sqlite:
            op.drop_constraint(f"fk_{table}_team_id", table, type_="foreignkey")
        op.drop_column(table, "team_id")
    op.drop_index("ix_team_members_user", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
