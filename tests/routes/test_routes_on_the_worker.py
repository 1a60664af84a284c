"""Routes through the session's real worker: a scheduled check of a device of site FRA fails twice
and recovers; the FRA routes' Slack, PagerDuty and Opsgenie servers (on loopback, checking the
payloads as the real APIs document them) hear of the failure once and of the recovery once, with
one incident key; the AMS route hears of nothing but its own sentinel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import eventually
from tests.routes.conftest import OPSGENIE_KEY, PAGERDUTY_KEY

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def inventory(settings, clean_db) -> None:  # type: ignore[no-untyped-def]
    from netraven_tasks.db import session_factory
    from netraven_tasks.devices.models import Device

    with session_factory(settings).begin() as session:
        session.add(Device(name="fra-sw-01", address="10.1.0.1", platform="cisco_ios", site="FRA"))
        session.add(Device(name="ams-sw-01", address="10.2.0.1", platform="cisco_ios", site="AMS"))


def make_route(client, admin, **route: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = client.post("/routes", json=route, headers=admin.headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()  # type: ignore[no-any-return]


def test_a_failing_then_recovering_fra_check_tells_the_fra_routes_once_each(
    inventory, client, users, settings, wait_for_job, http_receiver, pagerduty, opsgenie
):
    from netraven_tasks.db import session_factory
    from netraven_tasks.jobs.launch import launch_job
    from netraven_tasks.models import JobLog
    from netraven_tasks.schedules.launcher import launch_schedule
    from netraven_tasks.schedules.models import Schedule

    admin = users.admin
    fra = {"sites": ["FRA"], "job_types": ["test_outcome"]}
    slack = make_route(
        client, admin, name="noc-fra", channel="slack", target=http_receiver.url("/fra"), match=fra
    )
    make_route(client, admin, name="fra pager", channel="pagerduty", target=PAGERDUTY_KEY, match=fra)
    make_route(client, admin, name="fra genie", channel="opsgenie", target=OPSGENIE_KEY, match=fra)
    make_route(client, admin, name="noc-ams", channel="slack", target=http_receiver.url("/ams"),
               match={"sites": ["AMS"]})  # fmt: skip

    body = {
        "job_type": "test_outcome",
        "arguments": {"host": "fra-sw-01", "fail": True},
        "interval_seconds": 3600,
    }
    created = client.post("/schedules", json=body, headers=admin.headers)
    assert created.status_code == 201, created.get_json()
    schedule_id = created.get_json()["id"]
    sessions = session_factory(settings)
    with sessions() as session:
        first = session.get_one(Schedule, schedule_id).next_run_at

    def run_slot(slot) -> Any:  # type: ignore[no-untyped-def]
        launched = lambda: launch_schedule(settings, sessions, schedule_id, slot + timedelta(seconds=1))  # noqa: E731
        eventually(launched, message=f"the slot {slot} launched")
        with sessions() as session:
            run_id = session.scalar(select(JobLog.id).where(JobLog.scheduled_for == slot))
        return wait_for_job(run_id)

    def to(path: str) -> list[dict[str, Any]]:
        return [r for r in http_receiver.requests if r["path"] == path]

    failed = run_slot(first)
    assert failed.status == "failed"
    assert run_slot(first + timedelta(hours=1)).status == "failed"
    changed = client.patch(f"/schedules/{schedule_id}", json={"arguments": {"host": "fra-sw-01"}},
                           headers=admin.headers)  # fmt: skip
    assert changed.status_code == 200, changed.get_json()
    recovered = run_slot(first + timedelta(hours=2))
    assert recovered.status == "completed"
    eventually(lambda: len(to("/fra")) >= 2 and len(pagerduty.accepted) >= 2 and len(opsgenie.accepted) >= 2,
               message="the FRA routes' failure and recovery")  # fmt: skip

    # The sentinel: a later failure on AMS through the same planning, outbox and worker. Once the AMS
    # route has it, anything else the FRA runs planned has had as long to arrive.
    sentinel = launch_job(settings, "test_outcome", {"host": "ams-sw-01", "fail": True}, admin.id)
    wait_for_job(sentinel.job_log_id)
    eventually(lambda: len(to("/ams")) >= 1, message="the AMS sentinel")

    assert [r["json"]["text"] for r in to("/ams")] == ["NetRaven job failed: test_outcome on ams-sw-01"]
    assert [r["json"]["text"] for r in to("/fra")] == [
        "NetRaven job failed: test_outcome on fra-sw-01",
        "NetRaven: test_outcome on fra-sw-01 recovered",
    ]
    key = f"netraven:schedule:{schedule_id}"
    trigger, resolve = pagerduty.accepted
    assert pagerduty.refused == [] and opsgenie.refused == []
    assert (trigger["event_action"], trigger["dedup_key"], trigger["routing_key"]) == (
        "trigger",
        key,
        PAGERDUTY_KEY,
    )
    assert trigger["payload"]["source"] == "fra-sw-01" and trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["group"] == "FRA" and trigger["payload"]["component"] == "test_outcome"
    assert trigger["links"][0]["href"].endswith(f"/ui/job-logs/{failed.id}")
    assert resolve == {"event_action": "resolve", "dedup_key": key, "routing_key": PAGERDUTY_KEY}
    create, close = opsgenie.accepted
    assert (create["request"], create["body"]["alias"], create["body"]["priority"]) == ("create", key, "P2")
    assert create["body"]["message"] == "NetRaven job failed: test_outcome on fra-sw-01"
    assert (close["request"], close["alias"]) == ("close", key)

    # The delivery history, and the run page's "routes told", come from the same outbox rows.
    history = client.get(f"/routes/{slack['id']}/deliveries", headers=admin.headers).get_json()
    assert [(d["event"], d["state"]) for d in history] == [("recovered", "sent"), ("failed", "sent")]
    client.set_cookie("netraven_session", admin.token)
    page = client.get(f"/ui/job-logs/{failed.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Routes told" in text and "noc-fra" in text and "fra pager" in text and "noc-ams" not in text


def test_a_maintenance_window_holds_the_fra_routes_and_its_end_tells_them_the_device_still_fails(
    inventory, client, users, settings, wait_for_job, http_receiver, pagerduty
):
    from datetime import UTC, datetime

    from netraven_tasks.celery_app import app as celery_app
    from netraven_tasks.db import session_factory
    from netraven_tasks.jobs.launch import launch_job
    from netraven_tasks.maintenance.ending import end_windows
    from netraven_tasks.models import utcnow
    from netraven_tasks.notifications.tasks import renderer, wake_delivery

    admin = users.admin
    fra = {"sites": ["FRA"], "job_types": ["test_outcome"]}
    slack = make_route(
        client, admin, name="noc-fra", channel="slack", target=http_receiver.url("/fra"), match=fra
    )
    pager = make_route(client, admin, name="fra pager", channel="pagerduty", target=PAGERDUTY_KEY, match=fra)
    make_route(client, admin, name="noc-ams", channel="slack", target=http_receiver.url("/ams"),
               match={"sites": ["AMS"]})  # fmt: skip
    now = datetime.now(UTC)
    body = {
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "match": {"sites": ["FRA"]},
        "reason": "CHG-7 core upgrade",
    }
    opened = client.post("/maintenance-windows", json=body, headers=admin.headers)
    assert opened.status_code == 201, opened.get_json()
    window = opened.get_json()

    def fail_on(host: str) -> int:
        launched = launch_job(settings, "test_outcome", {"host": host, "fail": True}, admin.id)
        assert wait_for_job(launched.job_log_id).status == "failed"
        return launched.job_log_id

    def to(path: str) -> list[dict[str, Any]]:
        return [r for r in http_receiver.requests if r["path"] == path]

    first, second = fail_on("fra-sw-01"), fail_on("fra-sw-01")
    fail_on("ams-sw-01")  # not covered: the AMS route is told at once; the sentinel of the held ones
    eventually(lambda: len(to("/ams")) >= 1, message="the AMS sentinel")
    assert to("/fra") == [] and pagerduty.accepted == []

    def routes_held(job_log_id: int) -> list[tuple[int, str]]:
        held = client.get(f"/job-logs/{job_log_id}", headers=admin.headers).get_json()["suppressed"]
        return sorted((item["route_id"], item["event"]) for item in held if item["route_id"] is not None)

    assert routes_held(first) == sorted([(slack["id"], "failed"), (pager["id"], "failed")])
    assert routes_held(second) == []  # a second failure is no new incident

    end_now = {"ends_at": datetime.now(UTC).isoformat()}
    ended = client.patch(f"/maintenance-windows/{window['id']}", json=end_now, headers=admin.headers)
    assert ended.status_code == 200, ended.get_json()
    ids = end_windows(session_factory(settings), renderer(settings), settings.mail_from, utcnow())
    assert end_windows(session_factory(settings), renderer(settings), settings.mail_from, utcnow()) == []
    wake_delivery(celery_app, ids)  # as the beat task does: the worker sends them
    eventually(lambda: len(to("/fra")) >= 1 and len(pagerduty.accepted) >= 1, message="the end's alert")
    # A second sentinel, ams-sw-01's recovery: anything more about fra-sw-01 had as long to arrive.
    recovered = launch_job(settings, "test_outcome", {"host": "ams-sw-01", "fail": False}, admin.id)
    assert wait_for_job(recovered.job_log_id).status == "completed"
    eventually(lambda: len(to("/ams")) >= 2, message="the second AMS sentinel")
    [told] = to("/fra")
    assert f"still failing after maintenance window #{window['id']}" in told["json"]["text"], told["json"]
    [trigger] = pagerduty.accepted
    assert (trigger["event_action"], trigger["dedup_key"]) == (
        "trigger",
        "netraven:device:fra-sw-01:test_outcome",
    )
