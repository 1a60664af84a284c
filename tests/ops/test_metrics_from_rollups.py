"""``/metrics`` job figures read from the rollups equal the raw truth, before and after rolling.

The rows are written directly (known hours, statuses, attempts and durations), rolled up, then
changed and added to after the watermark: every scrape must say exactly what the rows say.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from netraven_tasks.metrics import DURATION_BUCKETS
from netraven_tasks.models import JobLog
from netraven_tasks.rollups.recompute import roll_up

STATUSES = ["queued", "running", "retrying", "completed", "failed", "canceled"]
TERMINAL = {"completed", "failed", "canceled"}
JOB_TYPES = ["config_backup", "reachability_check"]
START = datetime(2025, 1, 1, tzinfo=UTC)


def make_rows(count: int, seed: int, first_id: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        status = rng.choice(STATUSES)
        rows.append({
            "task_id": f"metrics-{first_id + i}",
            "job_type": rng.choice(JOB_TYPES),
            "status": status,
            "attempts": rng.choice([1, 1, 2, 3]),
            "queued_at": START + timedelta(minutes=rng.randrange(0, 60 * 24 * 40)),
            "duration_seconds": round(rng.uniform(0.01, 4000), 3) if rng.random() < 0.8 else None,
        })  # fmt: skip
    return rows


def scrape_jobs(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[no-untyped-def]
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
        if sample.name.startswith(("netraven_jobs", "netraven_job_"))
    }


def expected(rows: list[dict[str, Any]]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    truth: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    by = Counter((r["job_type"], r["status"]) for r in rows)
    for job_type in JOB_TYPES:
        mine = [r for r in rows if r["job_type"] == job_type]
        truth[("netraven_jobs_launched_total", (("job_type", job_type),))] = len(mine)
        truth[("netraven_job_retries_total", (("job_type", job_type),))] = sum(
            r["attempts"] - 1 for r in mine
        )
        for status in STATUSES:
            name = "netraven_jobs_total" if status in TERMINAL else "netraven_jobs_active"
            truth[(name, (("job_type", job_type), ("status", status)))] = by[(job_type, status)]
        timed = [
            r["duration_seconds"]
            for r in mine
            if r["status"] in TERMINAL and r["duration_seconds"] is not None
        ]
        for bound in DURATION_BUCKETS:
            labels = (("job_type", job_type), ("le", str(float(bound))))
            truth[("netraven_job_duration_seconds_bucket", labels)] = sum(1 for d in timed if d <= bound)
        truth[("netraven_job_duration_seconds_bucket", (("job_type", job_type), ("le", "+Inf")))] = len(timed)
        truth[("netraven_job_duration_seconds_count", (("job_type", job_type),))] = len(timed)
        truth[("netraven_job_duration_seconds_sum", (("job_type", job_type),))] = sum(timed)
    return truth


def assert_scrape_is_truth(client, rows: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    scraped = scrape_jobs(client)
    for key, number in expected(rows).items():
        assert abs(scraped[key] - number) <= 1e-6 * max(1.0, abs(number)), (key, scraped[key], number)


def test_metrics_from_rollups_equal_the_raw_rows(settings, clean_db):
    from api import create_app
    from netraven_tasks.db import get_engine

    client = create_app(settings).test_client()
    engine = get_engine(settings)
    table = JobLog.__table__
    rows = make_rows(300, 7, 0)
    written = START + timedelta(days=50)
    with Session(engine) as session:
        session.execute(sa.insert(table), [{**r, "updated_at": written} for r in rows])
        session.commit()
        assert_scrape_is_truth(client, rows)  # never rolled: raw rows
        roll_up(session, written + timedelta(minutes=1), timedelta(hours=1))
        assert_scrape_is_truth(client, rows)  # all from rollups

        # After the watermark: finished runs change status, late runs land in rolled hours.
        later = written + timedelta(minutes=2)
        for row in rows[:40]:
            row.update(status="failed", attempts=row["attempts"] + 1, duration_seconds=12.5)
            session.execute(
                sa.update(table)
                .where(table.c.task_id == row["task_id"])
                .values(status="failed", attempts=row["attempts"], duration_seconds=12.5, updated_at=later)
            )
        late = make_rows(30, 8, 1000)
        session.execute(sa.insert(table), [{**r, "updated_at": later} for r in late])
        session.commit()
        rows += late
        assert_scrape_is_truth(client, rows)  # rollups corrected by the changed hours' raw rows
        roll_up(session, later + timedelta(minutes=1), timedelta(hours=1))
        assert_scrape_is_truth(client, rows)
