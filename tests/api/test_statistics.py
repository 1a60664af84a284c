"""GET /job-logs/statistics against numbers the test computes itself from the rows it inserted.

The same rows are counted by PostgreSQL (through the API) and by SQLite (through
``netraven_tasks.statistics`` on an Alembic-migrated SQLite file), and both must agree with
the test's own arithmetic, percentiles (``statistics.quantiles``, inclusive) and series buckets.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

STATUSES = ["queued", "running", "retrying", "completed", "failed", "canceled"]
FINISHED = {"completed", "failed", "canceled"}
SINCE = datetime(2025, 3, 10, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=1)


def make_rows(alice: int, bob: int) -> list[dict[str, Any]]:
    """60 runs inside the window and a few just outside it, with known times and durations."""
    rng = random.Random(20250310)
    rows: list[dict[str, Any]] = []
    weights = [1, 1, 1, 6, 3, 1]
    for i in range(60):
        status = rng.choices(STATUSES, weights)[0]
        row: dict[str, Any] = {
            "queued_at": SINCE + timedelta(seconds=rng.randrange(0, 24 * 3600)),
            "status": status,
            "job_type": rng.choice(["config_backup", "reachability_check"]),
            "device": rng.choice(["sw-1", "sw-2", "sw-3", "rtr-1", None]),
            "owner_id": alice if i % 3 else bob,
            "attempts": rng.choice([1, 1, 1, 2, 3]),
        }
        if (status in FINISHED and status != "canceled") or (status == "canceled" and i % 2):
            row["duration_seconds"] = round(rng.uniform(0.05, 120.0), 3)
        rows.append(row)
    rows.append(
        {
            "queued_at": SINCE,
            "status": "failed",
            "job_type": "config_backup",
            "device": "sw-1",
            "owner_id": alice,
            "attempts": 3,
            "duration_seconds": 7.5,
        }
    )  # first instant: inside
    rows.append(
        {
            "queued_at": UNTIL,
            "status": "failed",
            "job_type": "config_backup",
            "device": "sw-9",
            "owner_id": alice,
            "attempts": 1,
            "duration_seconds": 999.0,
        }
    )  # until is exclusive
    rows.append(
        {
            "queued_at": SINCE - timedelta(microseconds=1),
            "status": "completed",
            "job_type": "config_backup",
            "device": "sw-9",
            "owner_id": bob,
            "duration_seconds": 500.0,
        }
    )
    return rows  # fmt: skip


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def rate(completed: int, finished: int) -> float | None:
    return round(100 * completed / finished, 2) if finished else None


def expected_statistics(
    rows: list[dict[str, Any]], since: datetime, until: datetime, width: int, **where: Any
):
    """What the statistics must say, computed here in Python from the inserted rows."""
    chosen = [
        r for r in rows
        if since <= r["queued_at"] < until and all(r.get(key) == value for key, value in where.items())
    ]  # fmt: skip
    count = Counter(r["status"] for r in chosen)
    durations = sorted(r["duration_seconds"] for r in chosen if r.get("duration_seconds") is not None)
    job_types = {}
    for job_type in sorted({r["job_type"] for r in chosen}):
        of_type = [r for r in chosen if r["job_type"] == job_type]
        c = Counter(r["status"] for r in of_type)
        typed = [r["duration_seconds"] for r in of_type if r.get("duration_seconds") is not None]
        job_types[job_type] = {
            "total": len(of_type),
            "completed": c["completed"],
            "failed": c["failed"],
            "success_rate": rate(c["completed"], sum(c[s] for s in FINISHED)),
            "avg_duration": sum(typed) / len(typed) if typed else None,
        }
    devices = Counter(r["device"] for r in chosen if r["device"] is not None)
    failing = Counter(r["device"] for r in chosen if r["device"] is not None and r["status"] == "failed")
    top = sorted(failing.items(), key=lambda item: (-item[1], item[0]))[:10]
    series = []
    start = int(since.timestamp()) // width * width
    while start < until.timestamp():
        in_bucket = Counter(
            r["status"] for r in chosen if start <= r["queued_at"].timestamp() < start + width
        )
        series.append({
            "start": datetime.fromtimestamp(start, UTC).isoformat(),
            "end": datetime.fromtimestamp(start + width, UTC).isoformat(),
            "total": sum(in_bucket.values()),
            **{status: in_bucket[status] for status in STATUSES},
        })  # fmt: skip
        start += width
    return {
        "total_jobs": len(chosen),
        "completed_jobs": count["completed"],
        "failed_jobs": count["failed"],
        "canceled_jobs": count["canceled"],
        "running_jobs": count["queued"] + count["running"] + count["retrying"],
        "retried_jobs": sum(1 for r in chosen if r.get("attempts", 1) > 1),
        "success_rate": rate(count["completed"], sum(count[s] for s in FINISHED)),
        "duration_seconds": {
            "avg": sum(durations) / len(durations) if durations else None,
            "p50": percentile(durations, 0.5),
            "p95": percentile(durations, 0.95),
            "max": max(durations) if durations else None,
        },
        "job_types": job_types,
        "top_failing_devices": [{"device": d, "failed": n, "total": devices[d]} for d, n in top],
        "series": series,
    }


def assert_matches(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if key == "duration_seconds":
            for name, number in value.items():
                if number is None:
                    assert actual[key][name] is None, name
                else:
                    assert actual[key][name] == pytest.approx(number, rel=1e-9, abs=1e-9), name
        elif key == "job_types":
            assert set(actual[key]) == set(value)
            for job_type, figures in value.items():
                for name, number in figures.items():
                    assert actual[key][job_type][name] == (
                        number if number is None else pytest.approx(number)
                    )
        else:
            assert actual[key] == value, key


@pytest.fixture
def rows(users, insert_job_logs) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    rows = make_rows(users.alice.id, users.bob.id)
    insert_job_logs([dict(row) for row in rows])
    return rows


def get_statistics(client, user, **params: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get("/job-logs/statistics", query_string=params, headers=user.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


WINDOW = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}


def test_admin_gets_every_figure_of_every_job_in_the_window(client, users, rows):
    actual = get_statistics(client, users.admin, **WINDOW)
    expected = expected_statistics(rows, SINCE, UNTIL, 3600)
    assert expected["total_jobs"] == 61 and expected["duration_seconds"]["p95"] is not None
    assert actual["time_period"] == "custom" and actual["bucket_seconds"] == 3600
    assert len(actual["series"]) == 24
    assert_matches(actual, expected)


def test_a_user_gets_statistics_of_their_own_jobs_only(client, users, rows):
    actual = get_statistics(client, users.alice, **WINDOW)
    assert_matches(actual, expected_statistics(rows, SINCE, UNTIL, 3600, owner_id=users.alice.id))
    assert actual["total_jobs"] < expected_statistics(rows, SINCE, UNTIL, 3600)["total_jobs"]


def test_admin_may_narrow_to_one_owner_a_user_may_not_ask_for_another(client, users, rows):
    actual = get_statistics(client, users.admin, owner=users.bob.id, **WINDOW)
    assert_matches(actual, expected_statistics(rows, SINCE, UNTIL, 3600, owner_id=users.bob.id))
    response = client.get(
        "/job-logs/statistics", query_string={"owner": users.bob.id, **WINDOW}, headers=users.alice.headers
    )
    assert response.status_code == 403


@pytest.mark.parametrize("where", [{"job_type": "config_backup"}, {"device": "sw-1"}, {"device": "nowhere"}])
def test_job_type_and_device_filters(client, users, rows, where):
    actual = get_statistics(client, users.admin, **where, **WINDOW)
    assert_matches(actual, expected_statistics(rows, SINCE, UNTIL, 3600, **where))


def test_a_shorter_window_has_five_minute_buckets(client, users, rows):
    since, until = SINCE + timedelta(hours=6), SINCE + timedelta(hours=7, minutes=30)
    actual = get_statistics(client, users.admin, since=since.isoformat(), until=until.isoformat())
    assert actual["bucket_seconds"] == 300 and len(actual["series"]) == 18
    assert_matches(actual, expected_statistics(rows, since, until, 300))


def test_a_long_window_has_daily_buckets(client, users, rows):
    since, until = SINCE - timedelta(days=20), UNTIL + timedelta(days=9)
    actual = get_statistics(client, users.admin, since=since.isoformat(), until=until.isoformat())
    assert actual["bucket_seconds"] == 86400 and len(actual["series"]) == 30
    assert_matches(actual, expected_statistics(rows, since, until, 86400))


def test_the_same_numbers_on_sqlite(users, rows, tmp_path):
    """The embedded default: window functions instead of percentile_cont, strftime instead of extract."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from netraven_tasks.migrate import upgrade
    from netraven_tasks.models import JobLog, User
    from netraven_tasks.statistics import compute_statistics, make_window

    url = f"sqlite:///{tmp_path / 'stats.db'}"
    upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        for user_id in (users.alice.id, users.bob.id):
            session.add(User(id=user_id, username=f"u{user_id}", email=f"u{user_id}@example.test"))
        session.flush()
        for i, row in enumerate(rows):
            session.add(JobLog(task_id=f"t{i}", **row))
    with Session(engine) as session:
        for where in ({}, {"owner_id": users.alice.id}, {"device": "sw-2"}):
            window = make_window(datetime.now(UTC), None, SINCE, UNTIL, **where)
            actual = compute_statistics(session, window)
            actual["series"] = [
                {**b, "start": b["start"].isoformat(), "end": b["end"].isoformat()} for b in actual["series"]
            ]
            assert_matches(actual, expected_statistics(rows, SINCE, UNTIL, 3600, **where))
    engine.dispose()


@pytest.mark.parametrize(
    ("period", "expected_total", "bucket_seconds"),
    [
        ("hour", 1, 300),
        ("day", 2, 3600),
        (None, 2, 3600),
        ("week", 3, 86400),
        ("month", 4, 86400),
        ("year", 5, 604800),
    ],
)
def test_time_periods_end_now(client, users, insert_job_logs, period, expected_total, bucket_seconds):
    now = datetime.now(UTC)
    ages = [
        timedelta(minutes=30),
        timedelta(hours=3),
        timedelta(days=3),
        timedelta(days=20),
        timedelta(days=200),
    ]
    insert_job_logs(
        [{"queued_at": now - age, "owner_id": users.alice.id, "duration_seconds": 1.0} for age in ages]
    )
    actual = get_statistics(client, users.alice, **({"time_period": period} if period else {}))
    assert actual["time_period"] == (period or "day")
    assert actual["total_jobs"] == expected_total
    assert actual["bucket_seconds"] == bucket_seconds
    assert sum(bucket["total"] for bucket in actual["series"]) == expected_total
    assert all(b["end"] == n["start"] for b, n in zip(actual["series"], actual["series"][1:], strict=False))


def test_nothing_finished_means_no_rate_and_no_durations(client, users, insert_job_logs):
    insert_job_logs(
        [{"queued_at": SINCE + timedelta(hours=1), "status": "running", "owner_id": users.alice.id}]
    )
    actual = get_statistics(client, users.alice, **WINDOW)
    assert actual["total_jobs"] == 1 and actual["running_jobs"] == 1
    assert actual["success_rate"] is None
    assert actual["duration_seconds"] == {"avg": None, "p50": None, "p95": None, "max": None}
    assert actual["job_types"]["test_flaky"]["success_rate"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"time_period": "decade"}, "time_period"),
        ({"since": "yesterday"}, "since"),
        ({"since": UNTIL.isoformat(), "until": SINCE.isoformat()}, "until"),
        ({"since": SINCE.isoformat(), "until": SINCE.isoformat()}, "until"),
        ({"since": (UNTIL - timedelta(days=401)).isoformat(), "until": UNTIL.isoformat()}, "since"),
        ({"owner": "x"}, "owner"),
    ],
)
def test_invalid_statistics_queries_are_422_naming_the_parameter(client, users, params, field):
    response = client.get("/job-logs/statistics", query_string=params, headers=users.alice.headers)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert field in body["errors"]["query"] and field in body["message"]


def test_statistics_need_a_token(client):
    assert client.get("/job-logs/statistics").status_code == 401
