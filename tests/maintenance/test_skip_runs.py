"""With ``skip_runs``, beat records the slots a window covers as skipped: not launched, not late,
no missed alert; a fleet slot leaves out only the devices the window covers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from tests.conftest import eventually

INTERVAL, GRACE = 600, 60


def test_covered_slots_are_skipped_not_launched_and_never_missed(
    worker, client, users, add_device, open_window, outbox, settings, wait_for_job
):
    from netraven_tasks.db import session_factory
    from netraven_tasks.maintenance.models import SkippedSlot
    from netraven_tasks.models import JobLog
    from netraven_tasks.notifications.tasks import renderer
    from netraven_tasks.schedules.launcher import launch_due
    from netraven_tasks.schedules.watch import check_schedules

    add_device("fra-core-01", site="FRA", tags=["core"])
    add_device("fra-edge-01", site="FRA")

    def schedule(**fields) -> dict:  # type: ignore[no-untyped-def,type-arg]
        body = {"job_type": "test_flaky", "interval_seconds": INTERVAL, "grace_seconds": GRACE, **fields}
        response = client.post("/schedules", json=body, headers=users.alice.headers)
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json())

    skipped = schedule(arguments={"host": "sw-skip", "succeed_on_attempt": 1})
    control = schedule(arguments={"host": "sw-run", "succeed_on_attempt": 1})  # the sentinel
    fleet = schedule(arguments={"succeed_on_attempt": 1}, targets={"devices": ["fra-core-01", "fra-edge-01"]})
    window = open_window({"devices": ["sw-skip"], "tags": ["core"]}, skip_runs=True)
    first = datetime.fromisoformat(skipped["next_run_at"])
    sessions = session_factory(settings)
    for slot in range(3):  # beat's ticks at three slots, in the window (an hour long)
        launch_due(settings, sessions, first + timedelta(seconds=slot * INTERVAL + 1))

    def runs(schedule_id: int) -> list[JobLog]:
        with sessions() as session:
            return list(session.scalars(select(JobLog).where(JobLog.schedule_id == schedule_id)))

    eventually(lambda: len(runs(control["id"])) == 3, message="the control schedule's three runs")
    assert runs(skipped["id"]) == []
    with sessions() as session:
        rows = session.execute(
            select(SkippedSlot.schedule_id, SkippedSlot.device, SkippedSlot.window_id)
        ).all()
        children = session.scalars(select(JobLog.device).where(JobLog.batch_id.is_not(None))).all()
    assert sorted(rows, key=str) == sorted(
        [(skipped["id"], None, window["id"])] * 3 + [(fleet["id"], "fra-core-01", window["id"])] * 3, key=str
    )
    assert sorted(children) == ["fra-edge-01"] * 3  # the fleet's slots ran on the device not covered
    with sessions() as session:
        launched = session.scalars(select(JobLog.id)).all()
    for job_log_id in launched:  # every launched slot started (else it would be missed, rightly)
        wait_for_job(job_log_id)

    # The missed-run check just after the fourth slot: the third, not started, would make it missed.
    judged_at = first + timedelta(seconds=3 * INTERVAL + GRACE // 2)
    check_schedules(sessions, renderer(settings), settings.mail_from, judged_at)
    state = client.get(f"/schedules/{skipped['id']}", headers=users.alice.headers).get_json()["state"]
    assert state == "ok"
    assert [row for row in outbox(users.alice.id) if row.event == "missed"] == []
    seen = client.get(f"/maintenance-windows/{window['id']}", headers=users.alice.headers).get_json()
    assert seen["skipped_slots"] == 6
