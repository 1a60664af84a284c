"""How a batch's messages go out: in chunks, one broker round trip each, and when the broker fails,
every child not yet published is ``failed`` at once and the launch answers 503.

The launches here publish through a Celery app of their own (configured as the real one), whose
broker is the spare Redis db behind a proxy the test can cut: no session worker reads it, so every
message a launch published is still in its queue to be counted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis

from netraven_tasks.batches import launch
from tests.conftest import SPARE_REDIS_URL
from tests.support.tcp_proxy import TcpProxy

CHUNK = 2


@pytest.fixture
def fleet(add_devices):  # type: ignore[no-untyped-def]
    return add_devices([(f"r{i:02d}", f"127.0.0.{i}") for i in range(1, 6)])


@pytest.fixture
def proxy(spare_redis: redis.Redis) -> Iterator[TcpProxy]:
    """A proxy in front of the spare db's server: ``block()`` is the broker going away."""
    running = TcpProxy(urlsplit(SPARE_REDIS_URL).port or 6379).start()
    yield running
    running.stop()


@pytest.fixture
def broker(proxy, settings, monkeypatch):  # type: ignore[no-untyped-def]
    """The process's launches publish through an app like the real one, to the spare db via the
    proxy, ``CHUNK`` messages per round trip."""
    from netraven_tasks import celery_app

    url = urlsplit(SPARE_REDIS_URL)._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
    app = celery_app.create_celery_app(settings.model_copy(update={"broker_url": url}))
    app.conf.broker_connection_timeout = 1
    monkeypatch.setattr(celery_app.integration, "app", app)
    monkeypatch.setattr(launch, "PUBLISH_CHUNK", CHUNK)
    return app


def queued_task_ids(client: redis.Redis) -> list[str]:
    """The task ids of the messages waiting in the default queue, oldest first."""
    return [json.loads(raw)["headers"]["id"] for raw in reversed(client.lrange("celery", 0, -1))]


def task_events(subscription: redis.client.PubSub, task_ids: set[str]) -> list[list[tuple[str, str]]]:
    """The Celery events of ``task_ids`` published, message by message, until one of each is seen:
    each message (a kombu envelope) holds one event, or a ``task.multi`` list of them; each event as
    (type, task id). Pub/sub is the whole Redis server's, so other sessions' events (their workers'
    heartbeats, their tasks) are passed over."""
    messages: list[list[tuple[str, str]]] = []
    while sum(map(len, messages)) < len(task_ids) and (message := subscription.get_message(timeout=5)):
        body = json.loads(base64.b64decode(json.loads(message["data"])["body"]))
        events = body if isinstance(body, list) else [body]
        ours = [(event["type"], event["uuid"]) for event in events if event.get("uuid") in task_ids]
        if ours:
            messages.append(ours)
    return messages


def post(client, user):  # type: ignore[no-untyped-def]
    body = {"targets": {"site": "FRA"}, "arguments": {"port": 9}}
    return client.post("/jobs/reachability_check/batches", json=body, headers=user.headers)


def children(client, user) -> dict[str, dict]:  # type: ignore[no-untyped-def, type-arg]
    """The children of the caller's only batch, by device, and that batch."""
    [batch] = client.get("/batches", headers=user.headers).get_json()
    rows = client.get(f"/job-logs?batch_id={batch['id']}", headers=user.headers).get_json()
    return {row["device"]: row for row in rows}


def test_children_go_out_in_chunks_the_first_before_the_last_is_sent(
    client, users, fleet, broker, spare_redis, monkeypatch
):
    """Each chunk is in the broker before the next one is built, and its children's task-sent
    events (what Flower reads) went out with it, in one message."""
    in_broker_when_sent: list[int] = []
    send = launch.ChildSender.send

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        in_broker_when_sent.append(spare_redis.llen("celery"))
        send(*args, **kwargs)

    monkeypatch.setattr(launch.ChildSender, "send", counting)
    events = spare_redis.pubsub()
    events.psubscribe("*celeryev*")
    events.get_message(timeout=5)  # the subscription's confirmation

    response = post(client, users.alice)

    assert response.status_code == 202, response.get_json()
    assert in_broker_when_sent == [0, 0, 2, 2, 4]  # chunks of CHUNK, each flushed before the next
    rows = children(client, users.alice)
    assert queued_task_ids(spare_redis) == [rows[name]["task_id"] for name in fleet]
    sent = [("task-sent", rows[name]["task_id"]) for name in fleet]
    assert task_events(events, {task_id for _, task_id in sent}) == [sent[0:2], sent[2:4], sent[4:]]
    events.close()


def test_a_broker_that_is_down_fails_every_child_at_once_and_answers_503(
    client, users, fleet, broker, proxy, spare_redis
):
    proxy.block()

    response = post(client, users.alice)

    assert response.status_code == 503 and response.headers["Retry-After"], response.get_json()
    assert "5 of the batch's 5 runs could not be queued" in response.get_json()["message"]
    rows = children(client, users.alice)
    assert {row["status"] for row in rows.values()} == {"failed"}
    assert {row["error_type"] for row in rows.values()} == {launch.PUBLISH_ERROR_TYPE}
    [batch] = client.get("/batches", headers=users.alice.headers).get_json()
    assert batch["status"] == "failed" and batch["counts"]["failed"] == 5
    proxy.unblock()
    assert queued_task_ids(spare_redis) == []


def test_a_broker_lost_after_the_first_chunk_fails_only_the_children_not_published(
    client, users, fleet, broker, proxy, spare_redis, monkeypatch
):
    """The first chunk is out (its children stay queued, their messages wait in the broker); the
    broker goes away while the second is built: its children and the rest are failed, in one go."""
    send = launch.ChildSender.send
    sent: list[str] = []

    def cut_after_the_first_chunk(*args, **kwargs):  # type: ignore[no-untyped-def]
        if len(sent) == CHUNK:
            proxy.block()
        sent.append("one")
        send(*args, **kwargs)

    monkeypatch.setattr(launch.ChildSender, "send", cut_after_the_first_chunk)

    response = post(client, users.alice)

    assert response.status_code == 503, response.get_json()
    assert "3 of the batch's 5 runs could not be queued" in response.get_json()["message"]
    rows = children(client, users.alice)
    assert {name: row["status"] for name, row in rows.items()} == {
        "r01": "queued",
        "r02": "queued",
        "r03": "failed",
        "r04": "failed",
        "r05": "failed",
    }
    proxy.unblock()
    assert queued_task_ids(spare_redis) == [rows["r01"]["task_id"], rows["r02"]["task_id"]]
    [batch] = client.get("/batches", headers=users.alice.headers).get_json()
    assert (batch["status"], batch["counts"]["queued"], batch["counts"]["failed"]) == ("running", 2, 3)
