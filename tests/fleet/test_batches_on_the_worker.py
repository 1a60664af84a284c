"""Fleet runs on the real worker: a batch with refusing devices ends ``partial``, tells its owner
once (one summary per channel, no message per device) and re-runs its failed devices; a canceled
batch cancels what has not started, lets the running finish, and is summed up once too."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from tests.conftest import eventually
from tests.fleet.test_batch_api import launch

pytestmark = pytest.mark.usefixtures("worker")

OPEN, REFUSING = 27, 3


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port that accepts on 127.0.0.1 to 127.0.0.27 and is closed on 127.0.0.28 to .30."""
    first = socket.create_server(("127.0.0.1", 0))
    port = first.getsockname()[1]
    listeners = [first] + [socket.create_server((f"127.0.0.{i}", port)) for i in range(2, OPEN + 1)]
    yield port
    for listener in listeners:
        listener.close()


def batch(client, user, batch_id):  # type: ignore[no-untyped-def]
    response = client.get(f"/batches/{batch_id}", headers=user.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def settled(client, user, batch_id, timeout=60):  # type: ignore[no-untyped-def]
    return eventually(
        lambda: (body := batch(client, user, batch_id))["status"] != "running" and body,
        timeout=timeout,
        message=lambda: f"batch {batch_id} to settle: {batch(client, user, batch_id)}",
    )


def recount(settings, batch_id: int) -> dict[str, int]:
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog

    with session_factory(settings)() as session:
        rows = session.execute(
            select(JobLog.status, func.count()).where(JobLog.batch_id == batch_id).group_by(JobLog.status)
        )
        return {status: count for status, count in rows}


def summaries(mail, user) -> list:  # type: ignore[no-untyped-def,type-arg]
    return mail.to(f"{user.username}@example.test")


def test_refusing_devices_make_a_partial_batch_and_rerun_failed_launches_them_alone(
    client, users, add_devices, listening_port, settings, mail, http_receiver
):
    channels = {"slack_webhook_url": http_receiver.url("/slack"), "webhook_url": http_receiver.url("/hook")}
    put = client.patch("/users/me/notification-preferences", json=channels, headers=users.alice.headers)
    assert put.status_code == 200, put.get_json()
    names = add_devices([(f"dev-{i:02d}", f"127.0.0.{i}") for i in range(1, OPEN + REFUSING + 1)])
    response = launch(client, users.alice, {"tags": ["core"]}, {"port": listening_port, "timeout": 5})
    assert response.status_code == 202, response.get_json()
    batch_id = response.get_json()["batch_id"]

    body = settled(client, users.alice, batch_id)
    assert body["status"] == "partial", body
    assert body["counts"] == {"queued": 0, "running": 0, "retrying": 0, "completed": OPEN, "failed": REFUSING,
                              "canceled": 0}  # fmt: skip
    assert body["failed_devices"] == names[OPEN:]
    assert body["progress"] == 1 and body["finished_at"] is not None
    assert recount(settings, batch_id) == {"completed": OPEN, "failed": REFUSING}

    # One summary per channel: the mail names the failed devices and their errors, the webhook
    # carries them as JSON, Slack lists them.
    first = mail.wait_for(1, address="alice@example.test")[0].message
    assert (
        first["Subject"]
        == f"NetRaven: reachability_check on {OPEN + REFUSING} devices: 27 completed, 3 failed"
    )
    text = first.get_body(("plain",)).get_content()
    for name in names[OPEN:]:
        assert f"- {name}: ConnectionRefusedError:" in text, text
    assert f"/ui/batches/{batch_id}" in text and "Slowest devices" in text
    hooks = {r["path"]: r["json"] for r in http_receiver.wait_for(2)}
    assert hooks["/hook"]["event"] == "batch.finished" and hooks["/hook"]["status"] == "partial"
    assert hooks["/hook"]["counts"]["completed"] == OPEN and hooks["/hook"]["total"] == OPEN + REFUSING
    assert [d["device"] for d in hooks["/hook"]["failed_devices"]] == names[OPEN:]
    assert hooks["/hook"]["failed_devices_omitted"] == 0
    assert all(name in hooks["/slack"]["blocks"][0]["text"]["text"] for name in names[OPEN:])

    rerun = client.post(f"/batches/{batch_id}/rerun", json={"only": "failed"}, headers=users.alice.headers)
    assert rerun.status_code == 202, rerun.get_json()
    again = rerun.get_json()
    assert again["total"] == REFUSING
    body = settled(client, users.alice, again["batch_id"])
    assert body["rerun_of"] == batch_id and body["status"] == "failed"
    assert body["failed_devices"] == names[OPEN:]
    # The re-run's summary came after every message the first batch planned, so by now a
    # per-device message of either batch would be here too: there are exactly the two summaries.
    second = eventually(lambda: len(summaries(mail, users.alice)) >= 2 and summaries(mail, users.alice))
    assert [m.message["Subject"] for m in second] == [
        first["Subject"],
        f"NetRaven: reachability_check on {REFUSING} devices: 3 failed",
    ]
    assert len(http_receiver.wait_for(4)) == 4  # two summaries, each on Slack and the webhook


def test_canceling_a_running_batch_cancels_the_queued_and_lets_the_running_finish(
    client, users, add_devices, settings, mail
):
    add_devices([(f"nap-{i:02d}", f"127.0.0.{i}") for i in range(1, 13)])
    response = launch(client, users.alice, {"site": "FRA"}, {"seconds": 2}, job_type="test_nap")
    assert response.status_code == 202, response.get_json()
    batch_id = response.get_json()["batch_id"]
    eventually(
        lambda: batch(client, users.alice, batch_id)["counts"]["running"] >= 1, message="a child running"
    )

    canceled = client.post(f"/batches/{batch_id}/cancel", headers=users.alice.headers)
    assert canceled.status_code == 202, canceled.get_json()
    assert canceled.get_json()["canceled"] >= 1

    body = settled(client, users.alice, batch_id)
    assert body["status"] == "canceled"
    counts = body["counts"]
    assert counts["canceled"] == canceled.get_json()["canceled"]
    assert counts["completed"] >= 1  # the running ones finished
    assert counts["completed"] + counts["canceled"] == 12
    assert recount(settings, batch_id) == {k: v for k, v in counts.items() if v}
    again = client.post(f"/batches/{batch_id}/cancel", headers=users.alice.headers)
    assert again.status_code == 409
    told = mail.wait_for(1, address="alice@example.test")
    assert len(told) == 1, [m.message["Subject"] for m in told]
    assert told[0].message["Subject"] == (
        f"NetRaven: test_nap on 12 devices: {counts['completed']} completed, {counts['canceled']} canceled"
    )
