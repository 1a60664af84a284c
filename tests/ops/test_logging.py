"""Log lines carry the job-log id and task id: JSON for containers, readable text in a terminal."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator

import pytest

from netraven_tasks.logging_setup import JobContextFilter, JsonFormatter, TextFormatter
from tests import conftest
from tests.conftest import WorkerProcess, start_worker, stop_process
from tests.ops.logging_jobs import QUEUE


def _record(name: str, msg: str, args: object = ()) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]


def test_celery_lines_about_a_task_get_its_ids_in_json():
    context = JobContextFilter(lambda task_id, name: 42 if name == "netraven.jobs.config_backup" else None)
    record = _record(
        "celery.app.trace",
        "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
        ({"id": "t-1", "name": "netraven.jobs.config_backup", "runtime": 0.5, "return_value": "{}"},),
    )
    assert context.filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["task_id"] == "t-1"
    assert line["job_log_id"] == 42
    assert line["message"] == "Task netraven.jobs.config_backup[t-1] succeeded in 0.5s: {}"
    assert line["level"] == "INFO" and line["logger"] == "celery.app.trace"
    assert line["time"].endswith("+00:00")


def test_lines_outside_a_task_have_no_job_context_and_a_failing_lookup_drops_nothing():
    def broken_lookup(task_id: str, name: str | None) -> int:
        raise RuntimeError("database away")

    context = JobContextFilter(broken_lookup)
    plain = _record("netraven_tasks.tracking.stream", "recorder leads")
    assert context.filter(plain)
    assert TextFormatter().format(plain).endswith("netraven_tasks.tracking.stream: recorder leads")
    assert "task_id" not in json.loads(JsonFormatter().format(plain))

    about_task = _record(
        "celery.worker.strategy", "Task %(name)s[%(id)s] received", ({"id": "t-2", "name": "x"},)
    )
    assert context.filter(about_task)  # the lookup failed; the line still goes out with its task id
    assert TextFormatter().format(about_task).endswith("received [job_log=- task=t-2]")


def test_exceptions_are_one_json_field():
    try:
        raise ValueError("bad template")
    except ValueError:
        record = logging.LogRecord("netraven", logging.ERROR, __file__, 1, "failed", (), sys_exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError: bad template" in line["exception"]


def sys_exc_info():  # type: ignore[no-untyped-def]
    import sys

    return sys.exc_info()


@pytest.fixture
def json_worker(monkeypatch, tmp_path, database_url, redis_client) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    """A second worker, logging JSON, that alone consumes the queue of the chatty job type."""
    monkeypatch.setitem(conftest.TEST_ENV, "NETRAVEN_LOG_FORMAT", "json")
    monkeypatch.setitem(
        conftest.TEST_ENV, "NETRAVEN_JOB_MODULES", "tests.support.jobs,tests.ops.logging_jobs"
    )
    worker = start_worker("opslog", tmp_path / "json-worker.log", ["-Q", QUEUE])
    yield worker
    stop_process(worker.process)


def _publish_chatty(marker: str) -> str:
    """What launch_job does, on the chatty job's own queue (this process does not declare it)."""
    from netraven_tasks.celery_app import app, integration
    from netraven_tasks.tracking.events import EventKind, TrackingEvent

    task_id = str(uuid.uuid4())
    args = {"host": "lab-sw-09", "marker": marker}
    integration.recorder().record(
        TrackingEvent(
            kind=EventKind.QUEUED, task_id=task_id, job_type="ops_chatty", device="lab-sw-09", args=args
        )
    )
    app.send_task("netraven.jobs.ops_chatty", kwargs=args, task_id=task_id, queue=QUEUE)
    return task_id


def _job_log_id(settings, task_id: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog

    with session_factory(settings)() as session:
        return session.scalar(select(JobLog.id).where(JobLog.task_id == task_id))


@pytest.mark.usefixtures("clean_db")
def test_json_worker_writes_every_line_of_a_job_with_its_job_log_id_and_task_id(
    settings, json_worker, wait_for_job
):
    marker = uuid.uuid4().hex
    task_id = _publish_chatty(marker)
    job_log_id = _job_log_id(settings, task_id)
    job = wait_for_job(job_log_id)
    assert job.status == "completed", job.error_message
    stop_process(json_worker.process)  # flush everything it had to say

    lines = [line for line in json_worker.log().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]  # every log line is one JSON object
    assert any(entry["message"].endswith("ready.") for entry in entries)
    about_job = [entry for entry in entries if marker in entry["message"] or task_id in entry["message"]]
    messages = [entry["message"] for entry in about_job]
    assert any("received" in message for message in messages), messages
    assert any(f"module logger line {marker} for lab-sw-09" == message for message in messages)
    assert any(f"task logger line {marker}" == message for message in messages)
    assert any(f"warning line {marker}" == message for message in messages)
    assert any("succeeded" in message for message in messages), messages
    for entry in about_job:
        assert entry["task_id"] == task_id, entry
        assert entry["job_log_id"] == job_log_id, entry
    assert {entry["task_name"] for entry in about_job} == {"netraven.jobs.ops_chatty"}


@pytest.mark.usefixtures("clean_db")
def test_text_worker_lines_about_a_job_end_with_its_ids(settings, worker, wait_for_job):
    from netraven_tasks.jobs.launch import launch_job

    launched = launch_job(settings, "test_flaky", {"succeed_on_attempt": 2}, None)
    assert wait_for_job(launched.job_log_id).status == "completed"

    suffix = f"[job_log={launched.job_log_id} task={launched.task_id}]"
    lines = [line for line in worker.log().splitlines() if launched.task_id in line]
    assert lines
    assert all(line.endswith(suffix) for line in lines), lines
    assert any(re.search(r"retry: Retry in", line) for line in lines), lines
    assert any("succeeded in" in line for line in lines), lines


def test_processes_celery_does_not_set_up_log_json_too(tmp_path):
    """configure_logging(): the same format for the API and scripts."""
    import os
    import subprocess
    import sys

    code = (
        "import logging; from netraven_tasks.settings import get_settings; "
        "from netraven_tasks.logging_setup import configure_logging; "
        "configure_logging(get_settings()); configure_logging(get_settings()); "
        "logging.getLogger('api.jobs').info('launched %s', 'reachability_check')"
    )
    env = {**os.environ, **conftest.TEST_ENV, "NETRAVEN_LOG_FORMAT": "json"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=conftest.ROOT, env=env, capture_output=True, text=True, check=True
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1  # configured twice, one handler
    entry = json.loads(lines[0])
    assert entry["message"] == "launched reachability_check" and entry["logger"] == "api.jobs"
