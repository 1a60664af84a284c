"""Per-user quotas: schedules kept, launches per minute (counted across API processes), batch size;
over one answers 429 JSON with Retry-After. And ``GET /schedules`` comes a page at a time."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from netraven_tasks.db import session_factory
from netraven_tasks.quotas import DatabaseLaunchCounter, QuotaExceeded, ensure_batch_size, ensure_launch_rate
from tests.api.test_jobs_and_job_logs import launch

HOURLY = {"job_type": "test_flaky", "interval_seconds": 3600, "arguments": {"succeed_on_attempt": 1}}
TIGHT = {"max_schedules_per_user": 3, "launch_rate_limit": "2 per minute"}


@pytest.fixture(scope="module")
def tight_apps(settings):  # type: ignore[no-untyped-def]
    """Two API processes' apps (each its own counter and Redis client) with tight quotas."""
    from api import create_app

    apps = [create_app(settings.model_copy(update=TIGHT)) for _ in range(2)]
    for app in apps:
        app.testing = True
    return apps


@pytest.fixture
def fresh_minute(redis_client) -> None:  # type: ignore[no-untyped-def]
    """No launch counted yet (user ids restart with each test), and not at a minute's very end."""
    for key in redis_client.scan_iter("netraven:launches:*"):
        redis_client.delete(key)
    if time.time() % 60 > 55:
        time.sleep(60 - time.time() % 60)


def _is_429(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.get_json()
    assert response.is_json and response.get_json()["code"] == 429
    return int(response.headers["Retry-After"])


def test_a_user_over_the_schedule_quota_gets_429_and_an_admin_does_not(tight_apps, users):
    client = tight_apps[0].test_client()
    made = [client.post("/schedules", json=HOURLY, headers=users.alice.headers) for _ in range(3)]
    assert [response.status_code for response in made] == [201, 201, 201]
    over = client.post("/schedules", json=HOURLY, headers=users.alice.headers)
    assert _is_429(over) > 0 and "NETRAVEN_MAX_SCHEDULES_PER_USER=3" in over.get_json()["message"]
    assert (
        client.delete(f"/schedules/{made[0].get_json()['id']}", headers=users.alice.headers).status_code
        == 204
    )
    assert client.post("/schedules", json=HOURLY, headers=users.alice.headers).status_code == 201
    assert client.post("/schedules", json=HOURLY, headers=users.bob.headers).status_code == 201  # per user
    admins = [client.post("/schedules", json=HOURLY, headers=users.admin.headers) for _ in range(4)]
    assert {response.status_code for response in admins} == {201}


@pytest.mark.usefixtures("worker", "fresh_minute")
def test_launches_over_the_rate_get_429_counted_across_api_processes(tight_apps, users):
    first, second = (app.test_client() for app in tight_apps)
    assert launch(first, users.alice, "test_flaky", {"succeed_on_attempt": 1}).status_code == 202
    assert launch(second, users.alice, "test_flaky", {"succeed_on_attempt": 1}).status_code == 202
    over = launch(first, users.alice, "test_flaky", {"succeed_on_attempt": 1})
    assert 0 < _is_429(over) <= 60 and "NETRAVEN_LAUNCH_RATE_LIMIT" in over.get_json()["message"]
    assert launch(first, users.bob, "test_flaky", {"succeed_on_attempt": 1}).status_code == 202  # per user
    admin = [launch(second, users.admin, "test_flaky", {"succeed_on_attempt": 1}) for _ in range(3)]
    assert {response.status_code for response in admin} == {202}


def test_the_database_counts_launches_where_there_is_no_redis(settings, users):
    counter = DatabaseLaunchCounter(session_factory(settings))
    assert [counter.hit(users.alice.id, 60, 600) for _ in range(3)] == [1, 2, 3]
    assert counter.hit(users.bob.id, 60, 600) == 1
    assert counter.hit(users.alice.id, 60, 660) == 1  # a new window; the old one is dropped
    tight = settings.model_copy(update=TIGHT)
    ensure_launch_rate(counter, users.bob.id, False, tight, now=1200.0)
    ensure_launch_rate(counter, users.bob.id, False, tight, now=1210.0)
    with pytest.raises(QuotaExceeded) as over:
        ensure_launch_rate(counter, users.bob.id, False, tight, now=1215.5)
    assert over.value.retry_after == 45
    with session_factory(settings)() as session:
        from netraven_tasks.access.models import LaunchWindow

        windows = {(w.user_id, w.window_start, w.launches) for w in session.query(LaunchWindow)}
    assert windows == {(users.alice.id, 660, 1), (users.bob.id, 1200, 3)}


def test_a_batch_above_the_device_limit_is_refused_for_users_not_admins():
    limits = SimpleNamespace(max_batch_devices=500)
    ensure_batch_size(500, False, limits)  # type: ignore[arg-type]
    ensure_batch_size(5000, True, limits)  # type: ignore[arg-type]
    with pytest.raises(QuotaExceeded, match="NETRAVEN_MAX_BATCH_DEVICES"):
        ensure_batch_size(501, False, limits)  # type: ignore[arg-type]


def test_schedules_are_listed_a_page_at_a_time_with_the_total(client, users):
    ids = [
        client.post("/schedules", json=HOURLY, headers=users.alice.headers).get_json()["id"] for _ in range(5)
    ]
    first = client.get("/schedules?page_size=2", headers=users.alice.headers)
    assert [s["id"] for s in first.get_json()] == ids[:2]
    paging = json.loads(first.headers["X-Pagination"])
    assert (paging["total"], paging["total_pages"], paging["next_page"]) == (5, 3, 2)
    last = client.get("/schedules?page_size=2&page=3", headers=users.alice.headers)
    assert [s["id"] for s in last.get_json()] == ids[4:]
    assert len(client.get("/schedules", headers=users.alice.headers).get_json()) == 5  # 20 a page by default
    assert client.get("/schedules?page_size=101", headers=users.alice.headers).status_code == 422
    assert client.get("/schedules", headers=users.bob.headers).get_json() == []
