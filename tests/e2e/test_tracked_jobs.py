"""Job runs on the real worker are tracked from queued to their final status."""

from __future__ import annotations

import socket
import threading

import pytest

from netraven_tasks.jobs.launch import launch_job

pytestmark = pytest.mark.usefixtures("clean_db", "worker")


@pytest.fixture
def listening_port():  # type: ignore[no-untyped-def]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def _events(job) -> list[str]:  # type: ignore[no-untyped-def]
    return [entry.event for entry in job.entries]


def test_reachability_check_of_open_port_goes_queued_running_completed(
    settings, wait_for_job, listening_port
):
    launched = launch_job(settings, "reachability_check", {"host": "127.0.0.1", "port": listening_port}, None)
    assert launched.status == "queued"
    job = wait_for_job(launched.job_log_id)
    assert job.status == "completed"
    assert job.attempts == 1
    assert _events(job) == ["queued", "started", "succeeded"]
    assert job.result["port"] == listening_port
    assert job.result["latency_ms"] >= 0
    assert job.device == "127.0.0.1"
    assert job.started_at >= job.queued_at and job.finished_at >= job.started_at
    assert job.duration_seconds == pytest.approx((job.finished_at - job.started_at).total_seconds(), abs=1e-3)
    assert job.worker.startswith("test@")


def test_refused_connection_fails_at_once_without_retry(settings, wait_for_job):
    with socket.socket() as probe:  # a port that was free a moment ago refuses connections
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    launched = launch_job(settings, "reachability_check", {"host": "127.0.0.1", "port": port}, None)
    job = wait_for_job(launched.job_log_id)
    assert job.status == "failed"
    assert job.attempts == 1
    assert job.error_type == "ConnectionRefusedError"
    assert _events(job) == ["queued", "started", "failed"]
    assert "Traceback" in job.entries[-1].details["traceback"]


def test_config_backup_from_file_stores_hash_and_size(settings, wait_for_job, backup_root):
    config = backup_root / "core-sw-01.cfg"
    config.write_text("hostname core-sw-01\ninterface Gi0/1\n description uplink\n")
    launched = launch_job(settings, "config_backup", {"host": "core-sw-01", "source": str(config)}, None)
    job = wait_for_job(launched.job_log_id)
    assert job.status == "completed", job.error_message
    import hashlib

    assert job.result["sha256"] == hashlib.sha256(config.read_bytes()).hexdigest()
    assert job.result["size_bytes"] == len(config.read_bytes())
    assert job.result["lines"] == 3
    assert job.device == "core-sw-01"


def test_config_backup_of_missing_file_fails_with_the_path(settings, wait_for_job, backup_root):
    launched = launch_job(
        settings, "config_backup", {"host": "r9", "source": str(backup_root / "nope.cfg")}, None
    )
    job = wait_for_job(launched.job_log_id)
    assert job.status == "failed"
    assert job.error_type == "FileNotFoundError"
    assert "nope.cfg" in job.error_message
    assert job.attempts == 1


def test_failing_retryable_job_is_retried_with_backoff_then_marked_failed(settings, wait_for_job):
    launched = launch_job(settings, "test_flaky", {"host": "lab-sw-01"}, None)
    job = wait_for_job(launched.job_log_id)
    assert job.status == "failed"
    assert job.attempts == 3
    assert job.error_type == "ConnectionError"
    assert _events(job) == [
        "queued",
        "started", "retry_scheduled",
        "started", "retry_scheduled",
        "started", "failed",
    ]  # fmt: skip
    starts = [e.at for e in job.entries if e.event == "started"]
    retries = [e for e in job.entries if e.event == "retry_scheduled"]
    # Backoff 0.2 s then 0.4 s (+-10 % jitter): each start waits at least that long.
    assert (starts[1] - starts[0]).total_seconds() >= 0.2 * 0.9
    assert (starts[2] - starts[1]).total_seconds() >= 0.4 * 0.9
    assert all("next_retry_at" in e.details for e in retries)


def test_flaky_job_that_recovers_completes_on_a_later_attempt(settings, wait_for_job):
    launched = launch_job(settings, "test_flaky", {"succeed_on_attempt": 2}, None)
    job = wait_for_job(launched.job_log_id)
    assert job.status == "completed"
    assert job.attempts == 2
    assert job.result == {"attempt": 2}
    assert job.error_type is None


def test_non_retryable_error_fails_after_one_attempt(settings, wait_for_job):
    launched = launch_job(settings, "test_broken", {}, None)
    job = wait_for_job(launched.job_log_id)
    assert job.status == "failed"
    assert job.attempts == 1
    assert job.error_type == "ValueError"
    assert "retry_scheduled" not in _events(job)


def test_owner_is_recorded_from_the_launch(settings, wait_for_job, db_session):
    from netraven_tasks.users import create_user

    user = create_user(db_session, "alice", "alice@example.net", "alice-password")
    db_session.commit()
    launched = launch_job(settings, "test_flaky", {"succeed_on_attempt": 1}, user.id)
    job = wait_for_job(launched.job_log_id)
    assert job.owner_id == user.id
