"""Retention deletes exactly the expired finished runs (with their entries), in batches, and the
statistics of a year stay as they were: the purged hours are still in the rollups."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog, JobLogEntry, utcnow
from netraven_tasks.retention import keep_raw_from, purge_expired
from netraven_tasks.rollups.recompute import roll_up
from netraven_tasks.rollups.schema import job_rollup_totals, job_rollups
from netraven_tasks.statistics import compute_statistics, make_window


def test_purge_deletes_exactly_the_expired_rows_and_statistics_keep_them(settings, clean_db):
    from netraven_tasks.db import get_engine, session_factory

    settings = settings.model_copy(update={"retention_days": 90, "rollup_retention_days": 730})
    now = utcnow()
    sessions = session_factory(settings)
    ages = {  # task id -> (age, status)
        **{f"old-done-{i}": (timedelta(days=100, hours=i), "completed") for i in range(25)},
        **{f"old-failed-{i}": (timedelta(days=95, minutes=7 * i), "failed") for i in range(6)},
        "old-running": (timedelta(days=120), "running"),  # not finished: the reaper's business, kept
        "edge-kept": (timedelta(days=89, hours=23), "completed"),
        **{f"recent-{i}": (timedelta(days=i, hours=1), "completed") for i in range(5)},
        "ancient": (timedelta(days=800), "completed"),  # its rollup goes too (730 days)
    }
    with sessions.begin() as session:
        for task_id, (age, status) in ages.items():
            job = JobLog(task_id=task_id, job_type="test_flaky", status=status, attempts=1, device="sw-1",
                         queued_at=now - age, duration_seconds=2.0, updated_at=now - age)  # fmt: skip
            job.entries.append(JobLogEntry(at=now - age, level="info", event="queued", message="queued"))
            session.add(job)
    with sessions() as session:
        roll_up(session, now, timedelta(hours=1))
    year = make_window(now, "year", job_type="test_flaky")
    with sessions() as session:
        before = compute_statistics(session, year)
        totals_before = session.execute(sa.select(job_rollup_totals)).all()
    assert before["total_jobs"] == len(ages) - 1  # "ancient" is outside a year

    report = purge_expired(settings, sessions, now, batch_size=7)

    expired = {t for t, (age, status) in ages.items() if age > timedelta(days=90) and status != "running"}
    with sessions() as session:
        left = set(session.scalars(sa.select(JobLog.task_id)))
        entries = session.scalar(sa.select(sa.func.count()).select_from(JobLogEntry))
        assert left == set(ages) - expired
        assert entries == len(left)
        assert report.job_logs == len(expired) and report.batches == -(-len(expired) // 7)
        # The rollup of "ancient" is gone, the totals (counters of /metrics) are not.
        oldest = session.scalar(sa.select(sa.func.min(job_rollups.c.hour_start)))
        assert oldest is not None and oldest >= int((now - timedelta(days=730)).timestamp()) - 3600
        assert session.execute(sa.select(job_rollup_totals)).all() == totals_before

        # A later roll-up leaves the purged hours alone, even when a kept row in them changes.
        session.execute(
            sa.update(JobLog).where(JobLog.task_id == "old-running").values(status="failed", updated_at=now)
        )
        session.commit()
        roll_up(session, now + timedelta(minutes=1), timedelta(hours=1), keep_raw_from(settings, now))
        after = compute_statistics(session, year)
    assert after["total_jobs"] == before["total_jobs"]
    assert after["completed_jobs"] == before["completed_jobs"]
    assert after["failed_jobs"] == before["failed_jobs"]
    assert after["series"] == before["series"]
    assert [d["failed"] for d in after["top_failing_devices"]] == [
        d["failed"] for d in before["top_failing_devices"]
    ]
    get_engine(settings)  # the session fixture's engine stays usable for the next tests
    with Session(get_engine(settings)) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(JobLog)) == len(left)
