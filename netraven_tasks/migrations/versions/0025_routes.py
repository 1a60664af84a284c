"""Routes: shared destinations matched by job type, site, tag and event; their outbox rows.

An outbox row is now a person's (``user_id``) or a route's (``route_id``, no person); a route's
rows are unique per (route, ``alert_key``).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
HAS_ROUTE = sa.text("route_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "routes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="CASCADE")),
        sa.Column("match", JSONType, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_routes_team", "routes", ["team_id"])
    # batch_alter_table: plain ALTERs on PostgreSQL, a copied table on SQLite (which cannot alter).
    with op.batch_alter_table("notification_outbox") as table:
        table.add_column(sa.Column("route_id", sa.Integer))
        table.create_foreign_key(
            "fk_notification_outbox_route_id", "routes", ["route_id"], ["id"], ondelete="CASCADE"
        )
        table.alter_column("user_id", existing_type=sa.Integer, nullable=True)
        table.create_check_constraint(
            "ck_notification_outbox_recipient", "user_id IS NOT NULL OR route_id IS NOT NULL"
        )
    op.create_index(
        "uq_notification_outbox_route",
        "notification_outbox",
        ["route_id", "alert_key"],
        unique=True,
        postgresql_where=HAS_ROUTE,
        sqlite_where=HAS_ROUTE,
    )


def downgrade() -> None:
    op.drop_index("uq_notification_outbox_route", table_name="notification_outbox")
    op.execute("DELETE FROM notification_outbox WHERE user_id IS NULL")  # routes' rows have no person
    with op.batch_alter_table("notification_outbox") as table:
        table.drop_constraint("ck_notification_outbox_recipient", type_="check")
        table.alter_column("user_id", existing_type=sa.Integer, nullable=False)
        table.drop_constraint("fk_notification_outbox_route_id", type_="foreignkey")
        table.drop_column("route_id")
    op.drop_index("ix_routes_team", table_name="routes")
    op.drop_table("routes")
