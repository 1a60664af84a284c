"""examples/netmiko_style: another team's Celery app, tracked with ``track()``, on a real worker of its own.

Its worker (``celery -A examples.netmiko_style.app worker``) runs beside the session's NetRaven
worker on the session's Redis db, each on its own queue. This process publishes through the
example app's own ``delay()``, as the team's code would, and reads everything back through
NetRaven's API and the SMTP server its notifications go to.
"""

from __future__ import annotations

import importlib
import socket
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select

from examples.netmiko_style.fake_device import CONFIG, FakeDevice
from netraven_tasks.db import session_factory
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.models import JobLog
from tests.conftest import REDIS_URL, WorkerProcess, eventually, start_process, stop_process

pytestmark = pytest.mark.usefixtures("clean_db", "worker")

BACKUP = "netmiko_style.backup_config"
REACHABILITY = "netmiko_style.check_reachability"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The example app's module in this process, and a worker of that app beside the session's."""
    folder = tmp_path_factory.mktemp("netmiko_style")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NETMIKO_STYLE_BROKER_URL", REDIS_URL)
        patch.setenv("NETMIKO_STYLE_BACKUP_DIR", str(folder / "backups"))
        module = importlib.import_module("examples.netmiko_style.app")
        args = [
            sys.executable, "-m", "celery", "-A", "examples.netmiko_style.app", "worker",
            "--loglevel", "info", "--pool", "prefork", "--concurrency", "2",
            "-n", "example@%h", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        log_path = folder / "worker.log"
        process = start_process("example worker", args, log_path, "ready.")
    module.worker = WorkerProcess(process, log_path, args)  # type: ignore[attr-defined]
    yield module
    stop_process(process)


@pytest.fixture
def device() -> Iterator[FakeDevice]:
    server = FakeDevice().start()
    yield server
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:  # a port that was free a moment ago refuses connections
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rows_of(settings: Any, task_id: str) -> list[JobLog]:
    with session_factory(settings)() as session:
        rows = session.scalars(select(JobLog).where(JobLog.task_id == task_id)).all()
        for row in rows:
            row.entries  # noqa: B018 - load them before the session closes
        return list(rows)


def finished_run(client: Any, headers: dict[str, str], task_id: str) -> dict[str, Any]:
    """The run of ``task_id`` as GET /job-logs/{id} shows it, once it is completed or failed."""

    def settled() -> dict[str, Any] | None:
        listed = client.get("/job-logs?page_size=100", headers=headers).get_json()
        found = [job for job in listed if job["task_id"] == task_id]
        if not found or found[0]["status"] not in ("completed", "failed"):
            return None
        detail: dict[str, Any] = client.get(f"/job-logs/{found[0]['id']}", headers=headers).get_json()
        return detail

    return eventually(settled, 60, f"the run of task {task_id} to finish")


def test_the_example_apps_runs_are_tracked_like_built_in_jobs(
    example, device, settings, client, users, mail, wait_for_job, worker
):
    # A second track() of the same tasks, as a re-imported module would make: nothing twice.
    example.track(example.app, tasks=[BACKUP, REACHABILITY], device_arg="host")
    admin = users.admin.headers  # the runs have no NetRaven owner: the admins hear of them

    backup = example.backup_config.delay("127.0.0.1", port=device.port)  # positional, as callers do
    [queued] = rows_of(settings, backup.id)  # at publish time, before any worker saw it
    assert (queued.job_type, queued.device, queued.args) == (
        BACKUP,
        "127.0.0.1",
        {"host": "127.0.0.1", "port": device.port},
    )
    refused_port = closed_port()
    refused = example.check_reachability.delay(host="127.0.0.1", port=refused_port)

    done = finished_run(client, admin, backup.id)
    assert done["status"] == "completed", done
    assert done["job_type"] == BACKUP and done["device"] == "127.0.0.1" and done["attempts"] == 1
    assert done["result"]["lines"] == len(CONFIG.splitlines())
    assert done["worker"].startswith("example@")
    assert [entry["event"] for entry in done["entries"]] == ["queued", "started", "succeeded"]

    failed = finished_run(client, admin, refused.id)
    assert failed["status"] == "failed" and failed["attempts"] == 1  # refused is an answer: no retry
    assert failed["error_type"] == "ConnectionRefusedError"
    assert failed["error_message"] == f"127.0.0.1:{refused_port} refused the connection"
    assert [entry["event"] for entry in failed["entries"]] == ["queued", "started", "failed"]

    subject = f"NetRaven job failed: {REACHABILITY} on 127.0.0.1"
    [failure_mail] = eventually(
        lambda: [m for m in mail.to("root@example.test") if m.subject == subject], 60, "the failure mail"
    )
    assert f"127.0.0.1:{refused_port} refused the connection" in failure_mail.part("plain")
    assert f"/ui/job-logs/{failed['id']}" in failure_mail.part("plain")

    statistics = client.get(f"/job-logs/statistics?time_period=day&job_type={REACHABILITY}", headers=admin)
    assert statistics.status_code == 200
    assert statistics.get_json()["job_types"][REACHABILITY]["failed"] == 1
    everything = client.get("/job-logs/statistics?time_period=day", headers=admin).get_json()
    assert everything["job_types"][BACKUP]["completed"] == 1

    types = {job["name"]: job for job in client.get("/jobs", headers=admin).get_json()}
    assert types[BACKUP]["description"] == "Fetch the running configuration of a device and keep it on disk."
    assert [(a["name"], a["type"], a["required"]) for a in types[BACKUP]["arguments"]] == [
        ("host", "String", True), ("port", "Integer", False), ("timeout", "Float", False),
    ]  # fmt: skip
    assert types[REACHABILITY]["device_argument"] == "host"
    assert types[REACHABILITY]["retry_policy"]["retry_on"] == ["builtins.TimeoutError"]
    assert types[BACKUP]["tracked_task"] == BACKUP and types["reachability_check"]["tracked_task"] is None

    # NetRaven launches none of them, re-runs none, and leaves canceling to their app.
    launched = client.post(f"/jobs/{BACKUP}/runs", json={"host": "127.0.0.1"}, headers=admin)
    assert launched.status_code == 403, launched.get_json()
    assert "launched by its own Celery app" in launched.get_json()["message"]
    assert client.post(f"/job-logs/{failed['id']}/rerun", headers=admin).status_code == 403
    waiting = example.backup_config.apply_async(("127.0.0.1",), queue="netmiko_style_unserved")
    [queued_only] = rows_of(settings, waiting.id)
    canceled = client.post(f"/job-logs/{queued_only.id}/cancel", headers=admin)
    assert canceled.status_code == 409, canceled.get_json()
    assert "cancel it there" in canceled.get_json()["message"]
    assert rows_of(settings, waiting.id)[0].status == "queued"


def test_only_the_named_tasks_are_tracked_and_the_session_worker_is_unaffected(
    example, device, settings, wait_for_job, worker
):
    untracked = example.rotate_logs.delay()
    assert rows_of(settings, untracked.id) == []
    eventually(
        lambda: f"rotate_logs[{untracked.id}] succeeded" in example.worker.log(),
        30,
        lambda: f"the untracked task to run:\n{example.worker.log()[-3000:]}",
    )
    # A tracked run published after it, through the same app, worker, stream and recorder, is
    # recorded: the untracked task's events, had there been any, were recorded before.
    sentinel = example.check_reachability.delay("127.0.0.1", device.port)
    eventually(
        lambda: [row for row in rows_of(settings, sentinel.id) if row.status == "completed"],
        60,
        "the sentinel run to complete",
    )
    assert rows_of(settings, untracked.id) == []

    # NetRaven's own job types still run on NetRaven's worker, and neither worker saw the other's.
    own = launch_job(settings, "reachability_check", {"host": "127.0.0.1", "port": device.port}, None)
    finished = wait_for_job(own.job_log_id)
    assert finished.status == "completed" and finished.worker.startswith("test@")
    assert [entry.event for entry in finished.entries] == ["queued", "started", "succeeded"]
    assert "netmiko_style" not in worker.log()
    assert "netraven.jobs." not in example.worker.log()
