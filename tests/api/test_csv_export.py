"""CSV exports of the job-log list and the statistics: the same filters and visibility as the JSON,
every matching row (not one page), cells a spreadsheet would run as formulas escaped, and a
Download link on the dashboard's list pages."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from api.csv_export import CHUNK_ROWS

HOSTILE = {
    "device": "=cmd|' /C calc'!A0",
    "error_message": "+SUM(A1:A9)",
    "error_type": "@import",
    "args": {"note": "-2+3"},
}


def _csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv" and response.is_streamed
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_has_every_row_the_json_lists_with_formulas_escaped(client, users, insert_job_logs):
    now = datetime.now(UTC)
    insert_job_logs(
        [
            {"queued_at": now - timedelta(minutes=3), "owner_id": users.alice.id, "status": "failed",
             **HOSTILE},
            {"queued_at": now - timedelta(minutes=2), "owner_id": users.alice.id, "status": "completed",
             "device": "sw-1", "duration_seconds": 1.5},
            {"queued_at": now - timedelta(minutes=1), "owner_id": users.bob.id, "status": "failed",
             "device": "bob-sw"},
        ]
    )  # fmt: skip
    listed = client.get("/job-logs?status=failed&page_size=100", headers=users.alice.headers).get_json()
    exported = _csv(client.get("/job-logs?status=failed&format=csv", headers=users.alice.headers))
    assert [int(row["id"]) for row in exported] == [row["id"] for row in listed]
    assert len(exported) == 1  # alice's failed run only: bob's is not hers to see
    row, expected = exported[0], listed[0]
    assert row["device"] == "'" + HOSTILE["device"] and row["error_message"] == "'+SUM(A1:A9)"
    assert row["error_type"] == "'@import" and json.loads(row["args"]) == HOSTILE["args"]
    for name in ("id", "job_type", "status", "owner", "queued_at"):
        assert row[name] == str(expected[name]), name

    accepted = client.get("/job-logs", headers={**users.admin.headers, "Accept": "text/csv"})
    assert {row["device"] for row in _csv(accepted)} >= {"sw-1", "bob-sw"}  # admins: everyone's

    wrong = client.get("/job-logs?format=xml", headers=users.alice.headers)
    assert wrong.status_code == 422 and "format" in wrong.get_json()["errors"]["query"]


def test_the_csv_is_every_matching_row_not_one_page(client, users, insert_job_logs):
    now = datetime.now(UTC)
    count = CHUNK_ROWS * 2 + 7  # more than one chunk of the stream, more than the largest page
    insert_job_logs(
        [
            {"queued_at": now - timedelta(seconds=n), "owner_id": users.alice.id, "device": f"d{n}"}
            for n in range(count)
        ]
    )
    rows = _csv(client.get("/job-logs?format=csv", headers=users.alice.headers))
    assert len(rows) == count and rows[0]["device"] == "d0" and rows[-1]["device"] == f"d{count - 1}"


def test_the_statistics_series_as_csv_matches_the_json(client, users, insert_job_logs):
    now = datetime.now(UTC)
    insert_job_logs(
        [{"queued_at": now - timedelta(hours=n), "owner_id": users.alice.id, "duration_seconds": 2.0,
          "status": "failed" if n % 3 == 0 else "completed"} for n in range(10)]
    )  # fmt: skip
    stats = client.get("/job-logs/statistics?time_period=day", headers=users.alice.headers).get_json()
    rows = _csv(client.get("/job-logs/statistics?time_period=day&format=csv", headers=users.alice.headers))
    assert len(rows) == len(stats["series"])
    assert sum(int(r["failed"]) for r in rows) == stats["failed_jobs"] == 4
    assert sum(int(r["total"]) for r in rows) == stats["total_jobs"] == 10


def test_the_list_pages_link_their_csv_with_the_same_filters(client, users, insert_job_logs):
    insert_job_logs([{"queued_at": datetime.now(UTC), "owner_id": users.alice.id, "status": "failed"}])
    page = client.get("/ui/job-logs?status=failed&period=day", headers=users.alice.headers)
    text = page.get_data(as_text=True)
    assert 'id="download-csv"' in text and "/job-logs?status=failed&amp;since=" in text
    assert "format=csv" in text
    statistics = client.get("/ui/statistics?period=week", headers=users.alice.headers).get_data(as_text=True)
    assert "/job-logs/statistics?time_period=week&amp;format=csv" in statistics
