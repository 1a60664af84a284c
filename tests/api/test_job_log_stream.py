"""``GET /job-logs/stream``: Server-Sent Events of job-log changes, scoped to the caller, resumable."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import redis

from api.stream import job_events
from netraven_tasks.access.policy import Viewer
from netraven_tasks.tracking.live import LiveFeed
from tests.api.test_jobs_and_job_logs import launch


class Watching:
    """A CallerWatch stand-in for the generator's own tests: the caller, unchanged."""

    def __init__(self, caller: Viewer):
        self.caller = caller

    def current(self) -> Viewer:
        return self.caller


@pytest.fixture
def feed(redis_client: redis.Redis):
    name = f"test:live:{uuid.uuid4().hex[:8]}"
    yield LiveFeed(redis_client, stream=name)
    redis_client.delete(name)


def _events(text: str) -> list[dict]:  # type: ignore[type-arg]
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines.get("event") == "job":
            found.append({"id": lines["id"], "row": json.loads(lines["data"])})
    return found


def test_a_user_gets_only_their_rows_an_admin_all_with_heartbeats_and_an_end(feed):
    start = feed.last_id()
    feed.publish([{"id": 1, "owner_id": 7, "status": "queued"}, {"id": 2, "owner_id": 8, "status": "queued"}])
    feed.publish([{"id": 1, "owner_id": 7, "status": "completed"}])

    began = time.monotonic()
    mine = "".join(job_events(feed, Watching(Viewer(7, False)), start, time.monotonic() + 0.6, heartbeat=0.2))
    assert time.monotonic() - began < 3  # the stream ends by itself
    assert [(e["row"]["id"], e["row"]["status"]) for e in _events(mine)] == [(1, "queued"), (1, "completed")]
    assert mine.startswith("retry: 1000\n") and ": heartbeat\n\n" in mine
    assert mine.endswith(": stream closed, reconnect with Last-Event-ID\n\n")

    everything = "".join(
        job_events(feed, Watching(Viewer(1, True)), start, time.monotonic() + 0.3, heartbeat=0.1)
    )
    assert [e["row"]["id"] for e in _events(everything)] == [1, 2, 1]


def test_resuming_after_an_id_skips_what_was_seen(feed):
    start = feed.last_id()
    feed.publish([{"id": n, "owner_id": 7, "status": "queued"} for n in (1, 2, 3)])
    first = _events("".join(job_events(feed, Watching(Viewer(7, False)), start, time.monotonic() + 0.2, 0.1)))
    rest = "".join(job_events(feed, Watching(Viewer(7, False)), first[0]["id"], time.monotonic() + 0.2, 0.1))
    assert [e["row"]["id"] for e in _events(rest)] == [2, 3]


@pytest.mark.usefixtures("worker")
def test_the_stream_pushes_a_launched_jobs_changes_to_its_owner(client, users):
    response = client.get("/job-logs/stream", headers=users.alice.headers, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry:")
    launched = launch(client, users.alice, "test_flaky", {"succeed_on_attempt": 1}).get_json()
    statuses: list[str] = []
    deadline = time.monotonic() + 30
    while "completed" not in statuses and time.monotonic() < deadline:
        for event in _events(next(chunks).decode()):
            assert event["row"]["owner_id"] == users.alice.id
            if event["row"]["id"] == launched["job_log_id"]:
                statuses.append(event["row"]["status"])
    response.close()
    assert statuses[-1] == "completed" and statuses[0] in ("queued", "running")


def test_the_stream_needs_a_caller(client):
    assert client.get("/job-logs/stream").status_code == 401


@pytest.mark.slow  # the one slow stream test: it has to be quiet for longer than a socket timeout
def test_a_quiet_stream_stays_open_with_heartbeats_between_two_events_20_s_apart(client, users, redis_client):
    """redis-py's default socket timeout (5 s) must not end a stream that has nothing to say."""
    live = LiveFeed(redis_client)
    response = client.get("/job-logs/stream", headers=users.alice.headers, buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry:")
    live.publish([{"id": 1, "owner_id": users.alice.id, "status": "queued"}])
    published = [time.monotonic()]
    # The second event, 20 s later, is the sentinel the quiet period ends with.
    later = threading.Timer(
        20, lambda: live.publish([{"id": 1, "owner_id": users.alice.id, "status": "completed"}])
    )
    seen: list[tuple[float, str]] = []
    text = ""
    try:
        later.start()
        while len(seen) < 2 and time.monotonic() - published[0] < 40:
            chunk = next(chunks).decode()
            text += chunk
            seen += [(time.monotonic(), e["row"]["status"]) for e in _events(chunk)]
            assert "unavailable" not in chunk, text
    finally:
        later.cancel()
        response.close()
    assert [status for _, status in seen] == ["queued", "completed"], text
    assert seen[1][0] - seen[0][0] >= 19
    assert text.count(": heartbeat") == 1, text  # one every 15 s of silence, not one per read
