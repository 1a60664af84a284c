"""Statistics read from rollups (plus the raw edge) equal statistics read from raw rows alone.

Random job histories (hypothesis) are written, rolled up, then changed: new runs in old hours,
status changes of runs that crossed an hour boundary, the same change written twice, a change
written late with an older ``updated_at`` and an older state written after a newer one. After each
step the counts must be identical to the raw truth, on PostgreSQL and on SQLite, and p50/p95 within
5 % of ``percentile_cont``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog, User
from netraven_tasks.rollups.recompute import roll_up
from netraven_tasks.rollups.schema import ROLLUP_TABLES, job_rollups, job_rollups_daily
from netraven_tasks.rollups.settled_cache import settled_cache
from netraven_tasks.statistics import compute_statistics, make_window

BASE = datetime(2025, 5, 1, tzinfo=UTC)
T0 = datetime(2025, 6, 1, tzinfo=UTC)  # when the rows are written (updated_at)
LATENESS = timedelta(hours=1)
STATUSES = ["queued", "running", "retrying", "completed", "failed", "canceled"]
OWNERS = [1, 2, None]
WINDOWS = [
    {"since": BASE + timedelta(minutes=30), "until": BASE + timedelta(hours=5, minutes=20)},  # partial ends
    {"since": BASE, "until": BASE + timedelta(hours=6)},  # whole hours
    {"since": BASE + timedelta(minutes=30), "until": BASE + timedelta(hours=5, minutes=20), "owner_id": 1},
    {"since": BASE, "until": BASE + timedelta(hours=6), "job_type": "config_backup"},
    {"since": BASE - timedelta(days=2), "until": BASE + timedelta(days=3)},  # daily buckets
]

run_state = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "attempts": st.integers(1, 4),
        "duration_seconds": st.one_of(st.none(), st.floats(0.01, 5000.0)),
    }
)
run = st.fixed_dictionaries(
    {
        "queued_at": st.integers(0, 6 * 3600 - 1).map(lambda s: BASE + timedelta(seconds=s)),
        "job_type": st.sampled_from(["config_backup", "reachability_check"]),
        "device": st.sampled_from(["sw-1", "sw-2", "rtr-1", None]),
        "owner_id": st.sampled_from(OWNERS),
        "state": run_state,
    }
)
history = st.fixed_dictionaries(
    {
        "runs": st.lists(run, min_size=1, max_size=40),
        "late_runs": st.lists(run, max_size=10),  # new runs in hours already rolled
        "changes": st.lists(st.tuples(st.integers(0, 39), run_state), max_size=20),
        "late_changes": st.lists(st.tuples(st.integers(0, 39), run_state), max_size=5),
    }
)


def _write(session: Session, runs: list[dict[str, Any]], start: int, updated_at: datetime) -> None:
    for i, r in enumerate(runs):
        state = r["state"]
        session.execute(
            sa.insert(JobLog.__table__).values(
                task_id=f"task-{start + i}", job_type=r["job_type"], device=r["device"],
                owner_id=r["owner_id"], queued_at=r["queued_at"], updated_at=updated_at, **state,
            )
        )  # fmt: skip


def _change(session: Session, runs: list[dict[str, Any]], changes: list[Any], updated_at: datetime) -> None:
    for index, state in changes:
        task_id = f"task-{index % len(runs)}"
        table = JobLog.__table__
        session.execute(
            sa.update(table).where(table.c.task_id == task_id).values(updated_at=updated_at, **state)
        )


def assert_same_as_raw(session: Session) -> None:
    for where in WINDOWS:
        window = make_window(T0, None, where["since"], where["until"], job_type=where.get("job_type"),
                             owner_id=where.get("owner_id"))  # fmt: skip
        rolled = compute_statistics(session, window)
        raw = compute_statistics(session, window, use_rollups=False)
        rolled_durations, raw_durations = rolled.pop("duration_seconds"), raw.pop("duration_seconds")
        rolled_types, raw_types = rolled.pop("job_types"), raw.pop("job_types")
        assert rolled == raw, where
        for job_type, figures in raw_types.items():
            assert rolled_types[job_type].pop("avg_duration") == pytest.approx(figures.pop("avg_duration"))
            assert rolled_types[job_type] == figures
        assert rolled_types.keys() == raw_types.keys()
        assert rolled_durations["avg"] == pytest.approx(raw_durations["avg"])
        assert rolled_durations["max"] == raw_durations["max"]
        for name in ("p50", "p95"):
            if raw_durations[name] is None:
                assert rolled_durations[name] is None
            else:
                assert rolled_durations[name] == pytest.approx(raw_durations[name], rel=0.05), name


def check_history(engine: sa.Engine, case: dict[str, Any]) -> bool:
    """Write, roll, change, roll again; compare after every step. Returns whether rollups took part."""
    runs = case["runs"]
    with Session(engine) as session:
        session.execute(sa.delete(JobLog.__table__))
        for table in ROLLUP_TABLES:
            session.execute(sa.delete(table))
        _write(session, runs, 0, T0 + timedelta(minutes=1))
        session.commit()
        roll_up(session, T0 + timedelta(minutes=2), LATENESS)
        assert_same_as_raw(session)
        used = bool(session.scalar(sa.select(sa.func.count()).select_from(job_rollups)))

        # Changes after the watermark: exact at once (raw edge), and again once rolled.
        _write(session, case["late_runs"], len(runs), T0 + timedelta(minutes=3))
        _change(session, runs, case["changes"], T0 + timedelta(minutes=3))
        _change(session, runs, case["changes"][:3], T0 + timedelta(minutes=3))  # the same, twice
        session.commit()
        assert_same_as_raw(session)
        roll_up(session, T0 + timedelta(minutes=4), LATENESS)
        assert_same_as_raw(session)

        # Written late with an updated_at before the watermark: the lateness margin re-rolls them.
        _change(session, runs, case["late_changes"], T0 + timedelta(minutes=3, seconds=30))
        session.commit()
        roll_up(session, T0 + timedelta(minutes=5), LATENESS)
        assert_same_as_raw(session)
        return used


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    from netraven_tasks.db import make_engine
    from netraven_tasks.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('rollups') / 'rollups.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add_all([User(id=i, username=f"u{i}", email=f"u{i}@example.test") for i in (1, 2)])
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(settings, clean_db) -> sa.Engine:  # type: ignore[no-untyped-def]
    from netraven_tasks.db import get_engine

    engine = get_engine(settings)
    with Session(engine) as session, session.begin():
        session.add_all([User(id=i, username=f"u{i}", email=f"u{i}@example.test") for i in (1, 2)])
    return engine


SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(case=history)
def test_rollups_match_raw_rows_on_postgresql(postgres_engine, case):
    check_history(postgres_engine, case)


@pytest.mark.slow  # a property run of a few hundred histories: the full suite runs it
@SETTINGS
@given(case=history)
def test_rollups_match_raw_rows_on_sqlite(sqlite_engine, case):
    check_history(sqlite_engine, case)


def test_a_rolled_window_is_read_from_rollups(sqlite_engine):
    """Guard against a vacuous pass: with rolled hours the planner does use the rollups."""
    from netraven_tasks.rollups.sources import WindowFilter, plan_sources

    case = {"runs": [{"queued_at": BASE + timedelta(hours=2, minutes=5), "job_type": "config_backup",
                      "device": "sw-1", "owner_id": 1,
                      "state": {"status": "failed", "attempts": 2, "duration_seconds": 3.0}}],
            "late_runs": [], "changes": [], "late_changes": []}  # fmt: skip
    assert check_history(sqlite_engine, case)
    with Session(sqlite_engine) as session:
        sources = plan_sources(session, WindowFilter(BASE, BASE + timedelta(hours=6)), 3600)
        assert sources.rolled == [(int(BASE.timestamp()), int(BASE.timestamp()) + 6 * 3600)]


def test_whole_days_are_read_from_the_daily_table(sqlite_engine):
    """The 5-day window reads the run's day from ``job_rollups_daily``: with the hourly rows of that
    day gone, the totals and the daily series still count it (and the hour window no longer does)."""
    case = {"runs": [{"queued_at": BASE + timedelta(hours=2, minutes=5), "job_type": "config_backup",
                      "device": "sw-1", "owner_id": 1,
                      "state": {"status": "completed", "attempts": 1, "duration_seconds": 3.0}}],
            "late_runs": [], "changes": [], "late_changes": []}  # fmt: skip
    assert check_history(sqlite_engine, case)
    with Session(sqlite_engine) as session:
        day = int(BASE.timestamp())
        daily = session.execute(
            sa.select(job_rollups_daily.c.jobs).where(
                job_rollups_daily.c.day_start == day, job_rollups_daily.c.owner_key == -1
            )
        ).scalars()
        assert list(daily) == [1]
        session.execute(sa.delete(job_rollups))
        settled_cache.clear()  # rollup rows deleted by hand, under the same watermark
        days = compute_statistics(session, make_window(T0, None, **WINDOWS[4]))
        hours = compute_statistics(session, make_window(T0, None, **WINDOWS[1]))
    assert days["total_jobs"] == 1 and days["completed_jobs"] == 1
    assert [bucket["completed"] for bucket in days["series"] if bucket["total"]] == [1]
    assert hours["total_jobs"] == 0  # the hour window reads hourly rows: proof the day came from daily
