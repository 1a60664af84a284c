"""``GET /metrics`` reports what the database holds: jobs run on the real worker, the outbox, lag."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netraven_tasks.jobs.launch import launch_job

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client, headers: dict[str, str] | None = None) -> Samples:  # type: ignore[no-untyped-def]
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def client(settings):  # type: ignore[no-untyped-def]
    from api import create_app

    return create_app(settings).test_client()


@pytest.fixture
def refused_port() -> int:
    with socket.socket() as probe:  # free a moment ago: connections are refused
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def open_port():  # type: ignore[no-untyped-def]
    with socket.socket() as server:  # the kernel completes the handshake from the backlog
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.mark.usefixtures("clean_db", "worker")
def test_metrics_count_jobs_by_type_and_status_with_retries_and_durations(
    client, settings, wait_for_job, open_port, refused_port
):
    launches = [
        ("reachability_check", {"host": "127.0.0.1", "port": open_port}),
        ("reachability_check", {"host": "127.0.0.1", "port": open_port}),
        ("reachability_check", {"host": "127.0.0.1", "port": refused_port}),
        ("test_flaky", {"host": "lab-sw-01"}),  # 3 attempts, then failed
        ("test_flaky", {"succeed_on_attempt": 2}),  # 2 attempts, completed
    ]
    jobs = [wait_for_job(launch_job(settings, name, args, None).job_log_id) for name, args in launches]
    assert [job.status for job in jobs] == ["completed", "completed", "failed", "failed", "completed"]

    samples = scrape(client)

    assert value(samples, "netraven_metrics_source_up", source="database") == 1
    assert value(samples, "netraven_jobs_total", job_type="reachability_check", status="completed") == 2
    assert value(samples, "netraven_jobs_total", job_type="reachability_check", status="failed") == 1
    assert value(samples, "netraven_jobs_total", job_type="reachability_check", status="canceled") == 0
    assert value(samples, "netraven_jobs_total", job_type="test_flaky", status="completed") == 1
    assert value(samples, "netraven_jobs_total", job_type="test_flaky", status="failed") == 1
    assert value(samples, "netraven_jobs_launched_total", job_type="reachability_check") == 3
    assert value(samples, "netraven_jobs_launched_total", job_type="test_flaky") == 2
    # A job type that never ran is there with zeros, so rate() works from its first run.
    assert value(samples, "netraven_jobs_total", job_type="config_backup", status="completed") == 0
    assert value(samples, "netraven_job_retries_total", job_type="test_flaky") == 2 + 1
    assert value(samples, "netraven_job_retries_total", job_type="reachability_check") == 0
    for status in ("queued", "running", "retrying"):
        assert value(samples, "netraven_jobs_active", job_type="test_flaky", status=status) == 0
    assert value(samples, "netraven_oldest_queued_job_age_seconds") == 0

    reachability = [job for job in jobs if job.job_type == "reachability_check"]
    durations = [job.duration_seconds for job in reachability]
    count = value(samples, "netraven_job_duration_seconds_count", job_type="reachability_check")
    assert count == 3
    assert value(
        samples, "netraven_job_duration_seconds_sum", job_type="reachability_check"
    ) == pytest.approx(sum(durations))
    assert (
        value(samples, "netraven_job_duration_seconds_bucket", job_type="reachability_check", le="+Inf") == 3
    )
    for le in ("0.1", "1.0", "10.0"):
        expected = sum(1 for seconds in durations if seconds <= float(le))
        got = value(samples, "netraven_job_duration_seconds_bucket", job_type="reachability_check", le=le)
        assert got == expected, le
    flaky = value(samples, "netraven_job_duration_seconds_count", job_type="test_flaky")
    assert flaky == 2  # both finished runs; the duration is the final attempt's

    # The recorder keeps up with the stream: the worker's events are all written.
    assert value(samples, "netraven_metrics_source_up", source="tracking_stream") == 1
    assert value(samples, "netraven_recorder_backlog_events", partition="0") == 0
    assert value(samples, "netraven_recorder_lag_seconds", partition="0") == 0
    assert value(samples, "netraven_tracking_spool_events") == 0


def test_backlog_of_every_partition_and_the_spool_depth(settings, spare_redis, tmp_path):
    import time

    from api import create_app
    from netraven_tasks.tracking.events import EventKind, TrackingEvent
    from netraven_tasks.tracking.spool import spool_for
    from netraven_tasks.tracking.stream import partition_stream
    from tests.conftest import SPARE_REDIS_URL

    two = settings.model_copy(
        update={"tracking_partitions": 2, "broker_url": SPARE_REDIS_URL, "var_dir": tmp_path}
    )
    a_minute_ago = f"{int((time.time() - 60) * 1000)}-0"
    spare_redis.xadd(partition_stream(1), {"event": "{}"}, id=a_minute_ago)  # no recorder reads it
    spool = spool_for(two)
    for task in ("spooled-1", "spooled-2"):
        spool.append(TrackingEvent(kind=EventKind.SUCCEEDED, task_id=task, job_type="test_nap"))

    samples = scrape(create_app(two).test_client())

    assert value(samples, "netraven_recorder_backlog_events", partition="1") == 1
    assert 60 <= value(samples, "netraven_recorder_lag_seconds", partition="1") < 120
    assert value(samples, "netraven_recorder_backlog_events", partition="0") == 0
    assert value(samples, "netraven_tracking_spool_events") == 2


@pytest.mark.usefixtures("clean_db")
def test_a_job_waiting_in_the_queue_shows_as_active_and_as_lag(client, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog, utcnow

    with session_factory(settings).begin() as session:  # as if no worker had taken it for 90 s
        session.add(
            JobLog(
                task_id=str(uuid.uuid4()),
                job_type="config_backup",
                status="queued",
                queued_at=utcnow() - timedelta(seconds=90),
            )
        )

    samples = scrape(client)

    assert value(samples, "netraven_jobs_active", job_type="config_backup", status="queued") == 1
    assert value(samples, "netraven_jobs_launched_total", job_type="config_backup") == 1
    assert 90 <= value(samples, "netraven_oldest_queued_job_age_seconds") < 120


@pytest.mark.usefixtures("clean_db")
def test_notifications_sent_failed_and_waiting_are_counted_by_channel(client, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import utcnow
    from netraven_tasks.notifications.models import OutboxMessage
    from netraven_tasks.users import create_user

    with session_factory(settings).begin() as session:
        user = create_user(session, "ops", "ops@example.test")
        session.flush()
        for hour, (channel, state) in enumerate(
            [
                ("email", "sent"),
                ("email", "sent"),
                ("email", "failed"),
                ("email", "pending"),
                ("webhook", "sending"),
                ("webhook", "sent"),
            ]
        ):
            session.add(
                OutboxMessage(
                    user_id=user.id,
                    channel=channel,
                    kind="digest",
                    period="hourly",
                    period_start=utcnow() - timedelta(hours=hour),  # one digest per period
                    address="ops@example.test",
                    subject="digest",
                    body_text="…",
                    message_id=f"<{uuid.uuid4()}@test>",
                    state=state,
                    created_at=utcnow() - timedelta(seconds=60),
                )
            )

    samples = scrape(client)

    assert value(samples, "netraven_notifications_sent_total", channel="email") == 2
    assert value(samples, "netraven_notifications_failed_total", channel="email") == 1
    assert value(samples, "netraven_notification_outbox_backlog", channel="email") == 1
    assert value(samples, "netraven_notifications_sent_total", channel="webhook") == 1
    assert value(samples, "netraven_notifications_failed_total", channel="webhook") == 0
    assert value(samples, "netraven_notification_outbox_backlog", channel="webhook") == 1
    assert value(samples, "netraven_notification_outbox_oldest_age_seconds") >= 60


@pytest.mark.usefixtures("clean_db")
def test_a_message_held_for_later_waits_without_being_overdue(client, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import utcnow
    from netraven_tasks.notifications.models import OutboxMessage
    from netraven_tasks.users import create_user

    def message(user_id: int, next_attempt_in: timedelta) -> OutboxMessage:
        return OutboxMessage(
            user_id=user_id, channel="email", kind="job", address="night@example.test", subject="s",
            body_text="…", message_id=f"<{uuid.uuid4()}@test>", state="pending",
            created_at=utcnow() - timedelta(hours=2), next_attempt_at=utcnow() + next_attempt_in,
        )  # fmt: skip

    with session_factory(settings).begin() as session:
        user = create_user(session, "night", "night@example.test")
        session.flush()
        session.add(message(user.id, timedelta(hours=1)))  # quiet hours (or a backoff) hold it
    held = scrape(client)

    assert value(held, "netraven_notification_outbox_backlog", channel="email") == 1
    assert value(held, "netraven_notification_outbox_oldest_age_seconds") >= 2 * 3600
    assert value(held, "netraven_notification_outbox_overdue_seconds") == 0

    with session_factory(settings).begin() as session:
        session.add(message(user.id, -timedelta(seconds=90)))  # due 90 s ago, nobody sent it
    stuck = scrape(client)

    assert 90 <= value(stuck, "netraven_notification_outbox_overdue_seconds") < 120


def test_metrics_token_is_required_when_configured(settings, database_url):
    from api import create_app

    client = create_app(settings.model_copy(update={"metrics_token": "scrape-secret-123"})).test_client()

    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.is_json and "NETRAVEN_METRICS_TOKEN" in refused.get_json()["message"]
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    samples = scrape(client, {"Authorization": "Bearer scrape-secret-123"})
    assert value(samples, "netraven_metrics_source_up", source="database") == 1


def test_unreachable_database_is_reported_down_not_an_error(settings):
    from api import create_app

    nowhere = "postgresql+psycopg2://nobody@127.0.0.1:1/none"
    client = create_app(settings.model_copy(update={"database_url": nowhere})).test_client()

    samples = scrape(client)

    assert value(samples, "netraven_metrics_source_up", source="database") == 0
    assert not any(name.startswith("netraven_jobs") for name, _ in samples)


# A second API process, as a second gunicorn worker would be: it saw no job and no event.
SCRAPE_IN_A_FRESH_PROCESS = """
from api import create_app
from netraven_tasks.settings import get_settings
print(create_app(get_settings()).test_client().get("/metrics").get_data(as_text=True))
"""


@pytest.mark.usefixtures("clean_db")
def test_metrics_need_no_process_state(settings, client):
    """A process that never saw a job (another gunicorn worker) reports the same numbers as this
    one, and both are the database's: nothing is counted per process."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog, utcnow
    from tests.conftest import ROOT, TEST_ENV

    with session_factory(settings).begin() as session:
        for status in ("completed", "failed"):
            session.add(
                JobLog(
                    task_id=str(uuid.uuid4()),
                    job_type="reachability_check",
                    status=status,
                    attempts=1,
                    queued_at=utcnow(),
                    duration_seconds=0.3,
                )
            )
    fresh = subprocess.run(
        [sys.executable, "-c", SCRAPE_IN_A_FRESH_PROCESS],
        cwd=ROOT, env={**os.environ, **TEST_ENV}, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    for samples in (scrape(client), parse(fresh.stdout)):
        assert value(samples, "netraven_jobs_launched_total", job_type="reachability_check") == 2
        assert value(samples, "netraven_jobs_total", job_type="reachability_check", status="failed") == 1
        bucket = "netraven_job_duration_seconds_bucket"
        assert value(samples, bucket, job_type="reachability_check", le="0.25") == 0
        assert value(samples, bucket, job_type="reachability_check", le="0.5") == 2
