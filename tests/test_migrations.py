"""The schema is made by Alembic alone and migrates up and down on PostgreSQL and SQLite."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from netraven_tasks.migrate import downgrade, upgrade
from netraven_tasks.models import Base
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def empty_postgres():
    name = f"netraven_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return request.getfixturevalue("empty_postgres")


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_creates_every_model_table_and_downgrade_removes_them(empty_database):
    import netraven_tasks.celery_app  # noqa: F401 - every model module is imported

    upgrade(empty_database)
    assert _tables(empty_database) == set(Base.metadata.tables)
    downgrade(empty_database, "base")
    assert _tables(empty_database) == set()
    upgrade(empty_database)  # and up again: downgrade left nothing behind
    assert _tables(empty_database) == set(Base.metadata.tables)


def test_postgres_has_jsonb_preferences_and_the_partial_active_index(empty_postgres):
    upgrade(empty_postgres)
    engine = sa.create_engine(empty_postgres)
    with engine.connect() as connection:
        kind = connection.execute(
            sa.text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'users' AND column_name = 'notification_preferences'"
            )
        ).scalar_one()
        indexes = dict(
            connection.execute(
                sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('users', 'job_logs')")
            ).all()
        )
    engine.dispose()
    assert kind == "jsonb"
    assert "USING gin" in indexes["ix_users_notification_preferences"]
    assert "WHERE" in indexes["ix_job_logs_active"] and "queued" in indexes["ix_job_logs_active"]


def test_models_match_the_migrated_schema(database_url):
    """No drift: autogenerate finds nothing to add, drop or change after the migrations ran:
    tables, columns, indexes (partial and unique ones too), constraints and types."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import netraven_tasks.celery_app  # noqa: F401

    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_0009_sums_existing_hourly_rollups_into_days(empty_database):
    """Upgrading a database that has hourly rollups fills the daily table from them: two hours of
    one day become one row with summed counts and the min/max of their durations."""
    upgrade(empty_database, "0008")
    day = 20_000 * 86_400
    engine = sa.create_engine(empty_database)
    le = {f"le_{i}": i for i in range(14)}
    rows = [
        {"owner_key": -1, "hour_start": day + 3600, "job_type": "x", "status": "completed", "jobs": 2,
         "retried": 1, "extra_attempts": 1, "timed": 2, "duration_sum": 3.0, "duration_min": 1.0,
         "duration_max": 2.0, **le},
        {"owner_key": -1, "hour_start": day + 7200, "job_type": "x", "status": "completed", "jobs": 3,
         "retried": 0, "extra_attempts": 0, "timed": 3, "duration_sum": 6.0, "duration_min": 0.5,
         "duration_max": 4.0, **le},
    ]  # fmt: skip
    columns = ", ".join(rows[0])
    values = ", ".join(f":{name}" for name in rows[0])
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"INSERT INTO job_rollups ({columns}) VALUES ({values})"), rows)
        upgrade(empty_database)
        with engine.connect() as connection:
            daily = connection.execute(sa.text("SELECT * FROM job_rollups_daily")).mappings().all()
    finally:
        engine.dispose()
    assert len(daily) == 1
    assert daily[0]["day_start"] == day and daily[0]["jobs"] == 5 and daily[0]["retried"] == 1
    assert (daily[0]["duration_sum"], daily[0]["duration_min"], daily[0]["duration_max"]) == (9.0, 0.5, 4.0)
    assert daily[0]["le_13"] == 26
