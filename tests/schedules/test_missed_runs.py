"""A schedule whose runs do not start goes ``late``, then ``missed``; its owner hears about it
once per incident (email, SMS, inbox) and once more when runs start again.

The runs cannot start because no beat runs (the check lives in the session worker's recorder,
not in beat); the incident ends when a beat is started and its next run starts on the worker.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import eventually, stop_process
from tests.schedules.conftest import start_beat

pytestmark = pytest.mark.slow
INTERVAL, GRACE = 4, 1


def states_seen(client, user, schedule_id: int, until: str, timeout: float) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def reached() -> bool:
        state = client.get(f"/schedules/{schedule_id}", headers=user.headers).get_json()["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        return bool(state == until)

    eventually(reached, timeout, lambda: f"schedule {schedule_id} to become {until}: {seen}", interval=0.1)
    return seen


def alert_rows(outbox, user_id: int) -> Counter[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return Counter(
        (row.event, row.channel) for row in outbox(user_id) if row.event in ("missed", "recovered")
    )


def test_late_then_missed_then_recovered_with_exactly_one_alert_each(
    worker, client, users, outbox, set_preferences, mail, sms_api, tmp_path, settings
):
    set_preferences(
        users.alice.id, sms_number="+4915112345678", sms_on_job_failure=True, inapp_notifications=True
    )
    body = {
        "job_type": "test_flaky",
        "arguments": {"host": "core-rtr-01", "succeed_on_attempt": 1},
        "interval_seconds": INTERVAL,
        "grace_seconds": GRACE,
        "description": "nightly backup",
    }
    created = client.post("/schedules", json=body, headers=users.alice.headers).get_json()
    assert created["state"] == "ok"
    first_slot = datetime.fromisoformat(created["next_run_at"])

    seen = states_seen(client, users.alice, created["id"], "missed", timeout=3 * INTERVAL + 5)
    assert seen == ["ok", "late", "missed"], seen
    eventually(lambda: alert_rows(outbox, users.alice.id)[("missed", "email")] == 1, message="missed alert")
    time.sleep(INTERVAL + 1)  # another slot passes unstarted: still one incident, one alert
    missed = {("missed", channel): 1 for channel in ("email", "sms", "inapp")}
    assert alert_rows(outbox, users.alice.id) == missed

    beat = start_beat(tmp_path / "beat.log")
    try:
        seen += states_seen(client, users.alice, created["id"], "ok", timeout=3 * INTERVAL + 10)[1:]
        eventually(
            lambda: alert_rows(outbox, users.alice.id)[("recovered", "email")] == 1, message="recovered"
        )
        time.sleep(INTERVAL + 1)  # as long as another alert could take: none may come
    finally:
        stop_process(beat.process)
    rows = alert_rows(outbox, users.alice.id)
    assert rows == {**missed, **{("recovered", channel): 1 for channel in ("email", "sms", "inapp")}}, rows

    sent = mail.wait_for(2)
    subjects = sorted(message.subject for message in sent)
    assert len(sent) == 2 and "missed its run of" in subjects[0] and "runs again" in subjects[1], subjects
    assert f"{first_slot:%Y-%m-%d %H:%M:%S}" in subjects[0] and "nightly backup" in subjects[0]
    texts = eventually(lambda: len(sms_api.messages) >= 2 and sms_api.messages, message="two SMS")
    assert sorted(m["Body"] for m in texts) == sorted(subjects)  # one line each: the subject
    assert {(m["To"], m["From"]) for m in texts} == {("+4915112345678", settings.sms_from)}
    assert sms_api.refused == []

    inbox = client.get("/users/me/inbox", headers=users.alice.headers).get_json()
    assert inbox["unread"] == 2 and [item["event"] for item in inbox["items"]] == ["recovered", "missed"]
    assert inbox["items"][1]["link"].endswith(f"/schedules/{created['id']}")
    first = inbox["items"][1]["id"]
    read = client.post(f"/users/me/inbox/{first}/read", headers=users.alice.headers)
    assert read.status_code == 200 and read.get_json()["read"] is True
    assert client.get("/users/me/inbox", headers=users.alice.headers).get_json()["unread"] == 1
    assert client.post(f"/users/me/inbox/{first}/read", headers=users.bob.headers).status_code == 404
    assert client.get("/users/me/inbox?unread=true", headers=users.alice.headers).get_json()["total"] == 1
    print(f"missed-run test: states {seen}; alerts {dict(rows)}; {len(sent)} mails, {len(texts)} SMS")


def test_judge_sees_late_missed_and_ok_by_slot_and_grace():
    from netraven_tasks.schedules.models import WatchState
    from netraven_tasks.schedules.timing import Timing
    from netraven_tasks.schedules.watch import judge

    hourly, grace = Timing(interval_seconds=3600), timedelta(minutes=10)
    start = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    never = lambda slot: False  # noqa: E731
    at = lambda minutes: start + timedelta(minutes=minutes)  # noqa: E731
    assert judge(hourly, grace, start, at(5), never).state is WatchState.OK  # within grace
    assert judge(hourly, grace, start, at(11), never) == judge(hourly, grace, start, at(59), never)
    assert judge(hourly, grace, start, at(11), never).state is WatchState.LATE
    assert judge(hourly, grace, start, at(61), never).state is WatchState.MISSED
    assert judge(hourly, grace, start, at(61), lambda slot: slot == start).state is WatchState.OK
    assert judge(hourly, grace, at(60), at(61), never).state is WatchState.OK  # before its first slot
