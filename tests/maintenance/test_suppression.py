"""Inside a maintenance window nothing is sent about the devices it covers (each held-back message
is recorded, visible on the run and in the user's notifications); when it ends, a device still
failing gets exactly one alert. On the session's real worker, with the real SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from tests.conftest import eventually


def runner(client, user, wait_for_job, settings) -> Callable[[str, bool], int]:  # type: ignore[no-untyped-def]
    """Launch test_flaky on a device (succeeding or failing) and wait until its outcome has been
    planned (counted in its alert streak, in the transaction that enqueued or suppressed)."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.schedules.models import AlertStreak

    def run(device: str, succeeds: bool) -> int:
        body = {"host": device, "succeed_on_attempt": 1 if succeeds else 0}
        launched = client.post("/jobs/test_flaky/runs", json=body, headers=user.headers).get_json()
        job = wait_for_job(launched["job_log_id"])
        assert job.status == ("completed" if succeeds else "failed")

        def counted() -> bool:
            with session_factory(settings)() as session:
                return any(s.last_job_log_id == job.id for s in session.query(AlertStreak))

        eventually(counted, message=f"run {job.id} planned")
        return int(job.id)

    return run


def end_and_handle(client, users, window_id: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """End the window now (PATCH) and run the beat task on the worker twice, as two beats would."""
    from netraven_tasks.celery_app import app
    from netraven_tasks.maintenance.tasks import END_WINDOWS_TASK

    path = f"/maintenance-windows/{window_id}"
    ended = client.patch(path, json={"ends_at": datetime.now(UTC).isoformat()}, headers=users.admin.headers)
    assert ended.status_code == 200, ended.get_json()
    app.send_task(END_WINDOWS_TASK)
    app.send_task(END_WINDOWS_TASK)

    def handled() -> dict | None:  # type: ignore[type-arg]
        window = client.get(path, headers=users.admin.headers).get_json()
        return window if window["ended_handled_at"] else None

    return dict(eventually(handled, message=f"the end of window {window_id} handled"))


def test_failing_twice_then_recovering_inside_a_window_sends_nothing_and_records_two(
    worker, client, users, set_preferences, add_device, open_window, mail, wait_for_job, settings
):
    set_preferences(users.alice.id, notify_on="state_changes")
    add_device("fra-sw-01", site="FRA")
    window = open_window({"sites": ["FRA"]})
    run = runner(client, users.alice, wait_for_job, settings)
    first, second, recovered = run("fra-sw-01", False), run("fra-sw-01", False), run("fra-sw-01", True)

    sentinel = run("ams-sw-01", False)  # not covered: its first failure is told at once
    [told] = mail.wait_for(1)
    assert "ams-sw-01" in told.subject or str(sentinel) in told.part("plain"), told.subject

    def held(job_log_id: int) -> list[tuple[str, int]]:
        detail = client.get(f"/job-logs/{job_log_id}", headers=users.alice.headers).get_json()
        return [(item["event"], item["window_id"]) for item in detail["suppressed"]]

    assert held(first) == [("failed", window["id"])]
    assert held(second) == []  # a second failure alerts nobody anyway
    assert held(recovered) == [("recovered", window["id"])]
    detail = client.get(f"/job-logs/{first}", headers=users.alice.headers).get_json()
    assert detail["suppressed"][0]["reason"] == "core upgrade CHG-1"
    assert client.get(f"/job-logs/{first}", headers=users.bob.headers).status_code == 404

    def history() -> list[tuple[str, int | None, str | None]] | None:
        items = client.get("/users/me/notifications", headers=users.alice.headers).get_json()
        return [(i["state"], i["job_log_id"], i["event"]) for i in items] if len(items) == 3 else None

    listed = eventually(history, message="two suppressed items and the sentinel's sent one")
    assert sorted(listed) == [
        ("sent", sentinel, "failed"), ("suppressed", first, "failed"), ("suppressed", recovered, "recovered")
    ]  # fmt: skip
    assert (
        client.get(f"/maintenance-windows/{window['id']}", headers=users.bob.headers).get_json()["suppressed"]
        == 2
    )

    end_and_handle(client, users, window["id"])  # it recovered during the window: nothing to tell
    run("ams-sw-02", False)  # a second sentinel, after the end was handled
    mail.wait_for(2)
    assert len(mail.received) == 2 and all("fra-sw-01" not in m.subject for m in mail.received)


def test_a_device_still_failing_when_the_window_ends_gets_exactly_one_alert(
    worker, client, users, set_preferences, add_device, open_window, mail, wait_for_job, settings, outbox
):
    from netraven_tasks.db import session_factory
    from netraven_tasks.maintenance.ending import end_windows
    from netraven_tasks.models import utcnow
    from netraven_tasks.notifications.tasks import renderer

    set_preferences(users.alice.id, notify_on="state_changes")
    add_device("fra-sw-02", site="FRA", tags=["core"])
    window = open_window({"tags": ["core"]})
    run = runner(client, users.alice, wait_for_job, settings)
    run("fra-sw-02", False)
    last = run("fra-sw-02", False)
    end_and_handle(client, users, window["id"])
    # A third pass, in this process, finds the window handled: nothing more is enqueued.
    assert end_windows(session_factory(settings), renderer(settings), settings.mail_from, utcnow()) == []

    [alert] = mail.wait_for(1)
    assert f"still failing after maintenance window #{window['id']}" in alert.subject, alert.subject
    assert "core upgrade CHG-1" in alert.part("plain") and f"/ui/job-logs/{last}" in alert.part("plain")
    sentinel = run("ams-sw-03", False)
    mail.wait_for(2)
    assert len(mail.received) == 2, [m.subject for m in mail.received]
    events = sorted((row.job_log_id, row.event) for row in outbox(users.alice.id) if row.channel == "email")
    assert events == [(last, "failed"), (sentinel, "failed")]
