"""With RabbitMQ as the broker and Redis beside it (``NETRAVEN_REDIS_URL``): the worker says it
tracks through the Redis stream, and launch, tracking, retry, cancel, the SIGKILL of a pool child
and exactly-once mail work as they do on Redis, through the real API and worker."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
import requests

from netraven_tasks.auth import issue_token
from netraven_tasks.db import session_factory
from netraven_tasks.users import create_user
from tests.conftest import eventually

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.fixture
def owner(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with session_factory(settings).begin() as session:
        user = create_user(session, "rabbit-owner", "rabbit-owner@example.test", "rabbit-owner-pass-1")
        return {"Authorization": f"Bearer {issue_token(user, settings)}"}


def _launch(rabbit, owner, job_type: str, arguments: dict[str, Any]) -> int:  # type: ignore[no-untyped-def]
    answer = requests.post(
        f"{rabbit.api_url}/jobs/{job_type}/runs", json=arguments, headers=owner, timeout=10
    )
    assert answer.status_code == 202, answer.text
    return int(answer.json()["job_log_id"])


def _run(rabbit, owner, job_log_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = requests.get(f"{rabbit.api_url}/job-logs/{job_log_id}", headers=owner, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _until(rabbit, owner, job_log_id: int, statuses: set[str], timeout: float = 60) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return eventually(
        lambda: (run := _run(rabbit, owner, job_log_id))["status"] in statuses and run,
        timeout,
        f"run {job_log_id} to be one of {sorted(statuses)}",
    )


def test_the_worker_tracks_through_the_redis_stream_beside_rabbitmq(rabbit, owner):
    assert "tracking through the Redis stream (NETRAVEN_REDIS_URL; broker: amqp)" in rabbit.worker.log()
    job = _until(
        rabbit, owner, _launch(rabbit, owner, "test_flaky", {"succeed_on_attempt": 2}), {"completed"}
    )
    assert job["attempts"] == 2
    events = [entry["event"] for entry in job["entries"]]
    assert events[0] == "queued" and "retry_scheduled" in events and events[-1] == "succeeded", events


def test_cancel_and_a_killed_child_on_rabbitmq(rabbit, owner, tmp_path):
    slow = _launch(rabbit, owner, "test_slow_once", {"marker": str(tmp_path / "cancel"), "seconds": 60})
    _until(rabbit, owner, slow, {"running"})
    canceled = requests.post(f"{rabbit.api_url}/job-logs/{slow}/cancel", headers=owner, timeout=10)
    assert canceled.status_code == 202, canceled.text
    assert _until(rabbit, owner, slow, {"canceled"}, timeout=30)["status"] == "canceled"

    marker = tmp_path / "killed"
    killed = _launch(rabbit, owner, "test_slow_once", {"marker": str(marker), "seconds": 60})
    _until(rabbit, owner, killed, {"running"})
    eventually(marker.exists, 10, "the first run to start")
    for pid in rabbit.worker.child_pids():
        os.kill(pid, signal.SIGKILL)
    # RabbitMQ gives the unacknowledged message back at once: the run starts again and completes.
    job = _until(rabbit, owner, killed, {"completed", "failed"}, timeout=90)
    assert job["status"] == "completed" and job["result"] == {"run": "again"}, job
    assert rabbit.worker.process.poll() is None


def test_a_failure_mails_its_owner_exactly_once_on_rabbitmq(rabbit, owner, mail):
    broken = _until(rabbit, owner, _launch(rabbit, owner, "test_broken", {}), {"failed"})
    # A second run's mail is the sentinel: the first one's duplicates had as long to arrive.
    later = _until(
        rabbit, owner, _launch(rabbit, owner, "test_flaky", {"succeed_on_attempt": 1}), {"completed"}
    )
    received = mail.wait_for(2, address="rabbit-owner@example.test")
    subjects = [message.subject for message in mail.to("rabbit-owner@example.test")]
    assert sum(s.startswith("NetRaven job failed: test_broken") for s in subjects) == 1, subjects
    assert len(received) == 2 and later["status"] == "completed" and broken["status"] == "failed"
