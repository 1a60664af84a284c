"""Jobs launched through the API run on the real worker; their logs are listed, filtered and shown.

Completed, failed and retried runs come from the session worker (tests/support/jobs.py); the
exact pagination and filter checks use rows inserted with known times.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest


def launch(client, user, job_type: str, arguments: dict | None = None):  # type: ignore[no-untyped-def, type-arg]
    return client.post(f"/jobs/{job_type}/runs", json=arguments or {}, headers=user.headers)


@pytest.mark.usefixtures("worker")
class TestLaunchedOnTheWorker:
    def test_launch_answers_202_with_location_and_the_run_completes(self, client, users, wait_for_job):
        response = launch(client, users.alice, "test_flaky", {"succeed_on_attempt": 1, "host": "sw-a"})
        assert response.status_code == 202
        body = response.get_json()
        assert body["status"] == "queued" and body["task_id"]
        assert response.headers["Location"] == f"/job-logs/{body['job_log_id']}"
        wait_for_job(body["job_log_id"])
        detail = client.get(response.headers["Location"], headers=users.alice.headers).get_json()
        assert detail["status"] == "completed" and detail["attempts"] == 1
        assert detail["owner_id"] == users.alice.id and detail["owner"] == "alice"
        assert detail["device"] == "sw-a" and detail["args"] == {"host": "sw-a", "succeed_on_attempt": 1}
        assert [entry["event"] for entry in detail["entries"]] == ["queued", "started", "succeeded"]
        assert detail["worker"].startswith("test@") and detail["duration_seconds"] >= 0

    def test_retried_then_failed_run_shows_every_attempt(self, client, users, wait_for_job):
        body = launch(client, users.alice, "test_flaky", {"host": "sw-b"}).get_json()
        wait_for_job(body["job_log_id"])
        detail = client.get(f"/job-logs/{body['job_log_id']}", headers=users.alice.headers).get_json()
        assert detail["status"] == "failed" and detail["attempts"] == 3
        assert detail["error_type"] == "ConnectionError" and "sw-b" in detail["error_message"]
        events = [entry["event"] for entry in detail["entries"]]
        assert (
            events.count("started") == 3 and events.count("retry_scheduled") == 2 and events[-1] == "failed"
        )

    def test_runs_of_each_outcome_are_listed_filtered_and_scoped_by_owner(self, client, users, wait_for_job):
        launched = {
            "completed": launch(client, users.alice, "test_flaky", {"succeed_on_attempt": 2}).get_json(),
            "failed": launch(client, users.alice, "test_broken", {"host": "sw-x"}).get_json(),
            "bob": launch(client, users.bob, "test_flaky", {"succeed_on_attempt": 1}).get_json(),
        }
        for body in launched.values():
            wait_for_job(body["job_log_id"])
        alice_ids = {launched["completed"]["job_log_id"], launched["failed"]["job_log_id"]}

        mine = client.get("/job-logs", headers=users.alice.headers)
        assert {row["id"] for row in mine.get_json()} == alice_ids
        assert json.loads(mine.headers["X-Pagination"])["total"] == 2
        retried = client.get("/job-logs?status=completed", headers=users.alice.headers).get_json()
        assert [(row["id"], row["attempts"]) for row in retried] == [(launched["completed"]["job_log_id"], 2)]
        failed = client.get("/job-logs?status=failed&device=sw-x", headers=users.alice.headers).get_json()
        assert [row["job_type"] for row in failed] == ["test_broken"]

        everyone = client.get("/job-logs", headers=users.admin.headers).get_json()
        assert len(everyone) == 3
        bobs = client.get(f"/job-logs?owner={users.bob.id}", headers=users.admin.headers).get_json()
        assert [row["id"] for row in bobs] == [launched["bob"]["job_log_id"]]

        bob_job = f"/job-logs/{launched['bob']['job_log_id']}"
        assert client.get(bob_job, headers=users.alice.headers).status_code == 404
        assert client.get(bob_job, headers=users.admin.headers).status_code == 200
        # the owner filter narrows what alice may see (her teams' runs): none of bob's here
        assert client.get(f"/job-logs?owner={users.bob.id}", headers=users.alice.headers).get_json() == []
        assert client.get(f"/job-logs?owner={users.alice.id}", headers=users.alice.headers).status_code == 200

    def test_active_lists_a_running_job_with_elapsed_time_and_worker(
        self, client, users, wait_for_job, tmp_path
    ):
        marker = tmp_path / "marker"
        body = launch(client, users.alice, "test_slow_once", {"marker": str(marker), "seconds": 3}).get_json()
        job_id = body["job_log_id"]
        wait_for_job(job_id, statuses={"running"}, timeout=20)
        active = client.get("/job-logs/active", headers=users.alice.headers)
        rows = {row["id"]: row for row in active.get_json()}
        assert rows[job_id]["status"] == "running" and rows[job_id]["worker"].startswith("test@")
        assert rows[job_id]["elapsed_seconds"] >= 0 and rows[job_id]["running_seconds"] >= 0
        assert rows[job_id]["attempts"] == 1
        assert client.get("/job-logs/active", headers=users.bob.headers).get_json() == []
        assert job_id in {
            row["id"] for row in client.get("/job-logs/active", headers=users.admin.headers).get_json()
        }
        wait_for_job(job_id, timeout=20)
        assert client.get("/job-logs/active", headers=users.alice.headers).get_json() == []


def test_job_types_are_listed_with_their_retry_policy(client, users):
    response = client.get("/jobs", headers=users.alice.headers)
    assert response.status_code == 200
    types = {job["name"]: job for job in response.get_json()}
    assert {"config_backup", "reachability_check", "test_flaky"} <= set(types)
    flaky = types["test_flaky"]
    assert flaky["retry_policy"]["max_attempts"] == 3
    assert flaky["retry_policy"]["retry_on"] == ["builtins.ConnectionError", "builtins.TimeoutError"]
    assert {argument["name"] for argument in flaky["arguments"]} == {"host", "succeed_on_attempt"}
    marker = next(a for a in types["test_slow_once"]["arguments"] if a["name"] == "marker")
    assert marker["required"] is True


def test_unknown_job_type_is_404_naming_the_known_ones(client, users):
    response = launch(client, users.alice, "no_such_job", {})
    assert response.status_code == 404
    assert "reachability_check" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("job_type", "arguments", "field"),
    [
        ("reachability_check", {"host": "10.0.0.1", "port": "ssh"}, "port"),
        ("reachability_check", {"port": 22}, "host"),
        ("test_slow_once", {}, "marker"),
        ("test_flaky", {"host": "a", "colour": "blue"}, "colour"),
    ],
)
def test_invalid_arguments_are_422_naming_the_field_and_launch_nothing(
    client, users, settings, job_type, arguments, field
):
    response = launch(client, users.alice, job_type, arguments)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert field in body["errors"]["json"] and field in body["message"]
    assert client.get("/job-logs", headers=users.admin.headers).get_json() == []


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "{broken"])
def test_a_body_that_is_not_a_json_object_is_rejected(client, users, body):
    response = client.post(
        "/jobs/test_flaky/runs", data=body, content_type="application/json", headers=users.alice.headers
    )
    assert response.status_code in {400, 422}
    assert response.get_json()["code"] == response.status_code


def test_launch_needs_a_token(client):
    assert client.post("/jobs/test_flaky/runs", json={}).status_code == 401


@pytest.fixture
def many_rows(users, insert_job_logs):  # type: ignore[no-untyped-def]
    base = datetime(2025, 5, 1, tzinfo=UTC)
    rows = [
        {
            "queued_at": base + timedelta(minutes=i),
            "owner_id": users.alice.id if i % 2 else users.bob.id,
            "status": ["completed", "failed", "running"][i % 3],
            "job_type": "config_backup" if i % 4 else "reachability_check",
            "device": f"sw-{i % 5}",
        }
        for i in range(45)
    ]
    ids = insert_job_logs(rows)
    return base, list(zip(ids, rows, strict=True))


def test_pages_are_newest_first_with_totals_in_the_header(client, users, many_rows):
    _, rows = many_rows
    newest_first = [job_id for job_id, _ in sorted(rows, key=lambda pair: pair[1]["queued_at"], reverse=True)]
    seen = []
    for page in (1, 2, 3):
        response = client.get(f"/job-logs?page={page}&page_size=20", headers=users.admin.headers)
        meta = json.loads(response.headers["X-Pagination"])
        assert meta["total"] == 45 and meta["total_pages"] == 3 and meta["page"] == page
        seen += [row["id"] for row in response.get_json()]
    assert seen == newest_first
    beyond = client.get("/job-logs?page=99&page_size=20", headers=users.admin.headers)
    assert beyond.status_code == 200 and beyond.get_json() == []


@pytest.mark.parametrize(
    "query", ["page_size=101", "page_size=0", "page=0", "status=done", "owner=0", "since=soon"]
)
def test_invalid_list_parameters_are_422(client, users, query):
    response = client.get(f"/job-logs?{query}", headers=users.admin.headers)
    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["message"]


def test_filters_combine(client, users, many_rows):
    base, rows = many_rows
    since, until = base + timedelta(minutes=10), base + timedelta(minutes=30)
    query = {
        "status": ["completed", "failed"],
        "job_type": "config_backup",
        "device": "sw-2",
        "since": since.isoformat(),
        "until": until.isoformat(),
        "page_size": 100,
    }
    expected = {
        job_id
        for job_id, row in rows
        if row["status"] in {"completed", "failed"} and row["job_type"] == "config_backup"
        and row["device"] == "sw-2" and since <= row["queued_at"] < until
    }  # fmt: skip
    got = client.get("/job-logs", query_string=query, headers=users.admin.headers).get_json()
    assert expected and {row["id"] for row in got} == expected
    mine = client.get("/job-logs", query_string=query, headers=users.alice.headers).get_json()
    assert {row["id"] for row in mine} == {
        i for i, row in rows if i in expected and row["owner_id"] == users.alice.id
    }


def test_since_must_be_before_until(client, users):
    response = client.get(
        "/job-logs?since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", headers=users.alice.headers
    )
    assert response.status_code == 422 and "until" in response.get_json()["errors"]["query"]


@pytest.mark.parametrize(
    "path", ["/job-logs/0", "/job-logs/999999", "/job-logs/99999999999999999999999", "/job-logs/x"]
)
def test_missing_or_malformed_ids_are_404(client, users, path):
    response = client.get(path, headers=users.admin.headers)
    assert response.status_code == 404 and response.get_json()["code"] == 404


def test_active_and_statistics_are_never_taken_for_an_id(client, users):
    assert isinstance(client.get("/job-logs/active", headers=users.alice.headers).get_json(), list)
    assert "total_jobs" in client.get("/job-logs/statistics", headers=users.alice.headers).get_json()


def _dumped(settings, schema, ids):  # type: ignore[no-untyped-def]
    """What marshmallow makes of these runs: the contract the lean list rows must equal."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog

    with session_factory(settings)() as session:
        query = select(JobLog).where(JobLog.id.in_(ids)).options(selectinload(JobLog.owner))
        return {row["id"]: row for row in schema.dump(list(session.scalars(query)))}


def test_list_rows_equal_the_schemas_dump(client, users, many_rows, settings):
    from api.job_logs import ActiveJobLogSchema, JobLogSchema

    listed = client.get("/job-logs?page_size=100", headers=users.admin.headers).get_json()
    assert len(listed) == 45
    assert {row["id"]: row for row in listed} == _dumped(
        settings, JobLogSchema(many=True), [r["id"] for r in listed]
    )
    active = client.get("/job-logs/active", headers=users.admin.headers).get_json()
    assert {row["status"] for row in active} == {"running"} and len(active) == 15
    expected = _dumped(settings, ActiveJobLogSchema(many=True), [row["id"] for row in active])
    for row in active:
        assert row.pop("elapsed_seconds") > 0 and row.pop("running_seconds") is None  # no started_at
        assert {k: v for k, v in row.items()} == {
            k: v for k, v in expected[row["id"]].items() if k not in {"elapsed_seconds", "running_seconds"}
        }
    assert [row["queued_at"] for row in active] == sorted(row["queued_at"] for row in active)


def test_unfiltered_total_of_a_big_table_is_the_estimate_and_says_so(
    client, users, many_rows, settings, monkeypatch
):
    from sqlalchemy import text

    from api import job_log_queries
    from netraven_tasks.db import get_engine

    exact = client.get("/job-logs", headers=users.admin.headers)
    assert json.loads(exact.headers["X-Pagination"])["total"] == 45
    assert "X-Total-Estimated" not in exact.headers
    with get_engine(settings).connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE job_logs"))
        estimate = connection.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'job_logs'"))
    monkeypatch.setattr(job_log_queries, "ESTIMATE_ABOVE", 10)
    estimated = client.get("/job-logs", headers=users.admin.headers)
    meta = json.loads(estimated.headers["X-Pagination"])
    assert estimated.headers["X-Total-Estimated"] == "true" and meta["total"] == int(estimate)
    assert set(meta) >= {"total", "total_pages", "first_page", "last_page", "page"}
    filtered = client.get("/job-logs?status=failed", headers=users.admin.headers)
    assert json.loads(filtered.headers["X-Pagination"])["total"] == 15
    assert "X-Total-Estimated" not in filtered.headers
    mine = client.get("/job-logs", headers=users.alice.headers)  # an owner filter: counted exactly
    assert json.loads(mine.headers["X-Pagination"])["total"] == 22 and "X-Total-Estimated" not in mine.headers
