"""``GET /schedules/preview``: the next five runs of a timing, as beat will launch them, and a 422
naming the field for a timing that creating a schedule would refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest


def preview(client, user, **query):  # type: ignore[no-untyped-def]
    return client.get("/schedules/preview", query_string=query, headers=user.headers)


def test_a_cron_preview_lists_five_runs_in_its_zone_and_the_first_is_the_schedules_next_run(client, users):
    response = preview(client, users.alice, cron="0  2 * * *", timezone="Europe/Berlin")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["description"] == "every day at 02:00 (Europe/Berlin)" and body["timezone"] == "Europe/Berlin"
    runs = [datetime.fromisoformat(run["at"]) for run in body["runs"]]
    local = [datetime.fromisoformat(run["local"]) for run in body["runs"]]
    assert len(runs) == 5 and runs == sorted(runs) and runs[0] > datetime.now(UTC)
    assert all(at == shown for at, shown in zip(runs, local, strict=True))  # the same instants
    berlin = [at.astimezone(ZoneInfo("Europe/Berlin")) for at in runs]
    assert {(at.hour, at.minute) for at in berlin} == {(2, 0)} and [at.hour for at in local] == [2] * 5
    assert all(later - earlier <= timedelta(hours=25) for earlier, later in pairwise(runs))

    created = client.post(
        "/schedules",
        json={"job_type": "test_flaky", "cron": "0 2 * * *", "timezone": "Europe/Berlin"},
        headers=users.alice.headers,
    ).get_json()
    assert datetime.fromisoformat(created["next_run_at"]) == runs[0]


def test_an_interval_preview_is_aligned_to_the_epoch_as_beat_launches_it(client, users):
    body = preview(client, users.alice, interval_seconds="3600").get_json()
    runs = [datetime.fromisoformat(run["at"]) for run in body["runs"]]
    assert body["description"] == "every hour"
    assert all(at.minute == 0 and at.second == 0 for at in runs)
    assert [later - earlier for earlier, later in pairwise(runs)] == [timedelta(hours=1)] * 4
    assert preview(client, users.alice, interval_seconds="5400").get_json()["description"] == (
        "every 1 hour 30 minutes"
    )


@pytest.mark.parametrize(
    ("query", "field", "fragment"),
    [
        ({"cron": "0 2 * *"}, "cron", "five fields"),
        ({"cron": "61 2 * * *"}, "cron", "not a valid cron"),
        ({"cron": "0 0 31 2 *"}, "cron", "never fires"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"cron": "0 2 * * *", "interval_seconds": "60"}, "interval_seconds", "exactly one"),
        ({}, "interval_seconds", "exactly one"),
        ({"interval_seconds": "0"}, "interval_seconds", "greater than or equal to 1"),
        ({"interval_seconds": "often"}, "interval_seconds", "integer"),
        ({"cron": "0 2 * * *", "zone": "UTC"}, "zone", "Unknown field"),
    ],
)
def test_a_timing_creating_would_refuse_is_a_422_naming_the_field(client, users, query, field, fragment):
    response = preview(client, users.alice, **query)
    assert response.status_code == 422, response.get_json()
    messages = response.get_json()["errors"]["query"][field]
    assert fragment in " ".join(messages), messages


def test_the_preview_needs_a_signed_in_caller(client):
    assert client.get("/schedules/preview?cron=0+2+*+*+*").status_code == 401
