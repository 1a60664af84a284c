"""``/metrics`` beyond job counters: recent outcomes by site, batches in progress, schedules by
the missed-run check's verdict and live workers (what the Grafana dashboard and alerts read)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from netraven_tasks.fleet_metrics import RECENT_WINDOW
from tests.conftest import eventually, start_worker, stop_process
from tests.ops.test_metrics import scrape, value


@pytest.fixture
def client(settings):  # type: ignore[no-untyped-def]
    from api import create_app

    return create_app(settings).test_client()


def finished_run(job_type: str, device: str | None, status: str, ago: timedelta, **extra):  # type: ignore[no-untyped-def]
    from netraven_tasks.models import JobLog, utcnow

    at = utcnow() - ago
    return JobLog(
        task_id=str(uuid.uuid4()), job_type=job_type, device=device, status=status, attempts=1,
        queued_at=at - timedelta(seconds=5), finished_at=at, updated_at=at, **extra,
    )  # fmt: skip


@pytest.mark.usefixtures("clean_db")
def test_recent_outcomes_are_counted_by_job_type_and_the_devices_site(client, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.devices.models import Device

    minute = timedelta(minutes=1)
    with session_factory(settings).begin() as session:
        session.add_all([
            Device(name="fra-r1", address="10.0.0.1", platform="cisco_ios", site="FRA"),
            Device(name="fra-r2", address="10.0.0.2", platform="cisco_ios", site="FRA"),
            Device(name="lon-r1", address="10.1.0.1", platform="arista_eos", site="LON"),
            Device(name="lab-r1", address="10.9.0.1", platform="generic", site=None),
        ])  # fmt: skip
        session.add_all([
            finished_run("config_backup", "fra-r1", "completed", minute),
            finished_run("config_backup", "fra-r2", "failed", minute),
            finished_run("config_backup", "fra-r2", "failed", 2 * minute),
            finished_run("config_backup", "lon-r1", "completed", minute),
            finished_run("reachability_check", "lab-r1", "canceled", minute),
            finished_run("reachability_check", "192.0.2.7", "failed", minute),  # not in the inventory
            finished_run("config_backup", "lon-r1", "failed", RECENT_WINDOW + minute),  # too old
            finished_run("config_backup", "lon-r1", "running", minute),  # not final
        ])  # fmt: skip

    samples = scrape(client)

    def recent(job_type: str, site: str, status: str) -> float:
        return value(samples, "netraven_jobs_finished_recently", job_type=job_type, site=site, status=status)

    assert recent("config_backup", "FRA", "completed") == 1
    assert recent("config_backup", "FRA", "failed") == 2
    assert recent("config_backup", "FRA", "canceled") == 0
    assert recent("config_backup", "LON", "completed") == 1
    assert recent("config_backup", "LON", "failed") == 0  # its failure is older than the window
    # A device without a site and one outside the inventory both count under site "".
    assert recent("reachability_check", "", "canceled") == 1
    assert recent("reachability_check", "", "failed") == 1
    series = {labels for name, labels in samples if name == "netraven_jobs_finished_recently"}
    assert len(series) == 3 * 3  # (job type, site) pairs seen x final statuses: nothing else


@pytest.mark.usefixtures("clean_db")
def test_a_batch_runs_until_its_last_child_is_final(client, settings):
    from netraven_tasks.batches.models import Batch
    from netraven_tasks.db import session_factory

    with session_factory(settings).begin() as session:
        batches = [Batch(job_type="config_backup", total=2, arguments={}, targets={}) for _ in "ab"]
        session.add_all(batches)
        session.flush()
        two_running, settled = batches
        session.add_all([
            finished_run("config_backup", "r1", "completed", timedelta(0), batch_id=two_running.id),
            finished_run("config_backup", "r2", "queued", timedelta(0), batch_id=two_running.id),
            finished_run("config_backup", "r1", "completed", timedelta(0), batch_id=settled.id),
            finished_run("config_backup", "r2", "failed", timedelta(0), batch_id=settled.id),
            finished_run("config_backup", "r3", "running", timedelta(0)),  # a single run, no batch
        ])  # fmt: skip

    samples = scrape(client)

    assert value(samples, "netraven_batches_running", job_type="config_backup") == 1
    assert value(samples, "netraven_batches_running", job_type="reachability_check") == 0  # known, idle


@pytest.mark.usefixtures("clean_db")
def test_enabled_schedules_are_counted_by_the_missed_run_checks_verdict(client, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import utcnow
    from netraven_tasks.schedules.models import Schedule
    from netraven_tasks.users import create_user

    with session_factory(settings).begin() as session:
        owner = create_user(session, "sched-owner", "sched-owner@example.test")
        session.flush()
        verdicts = [("ok", True), ("missed", True), ("missed", True), ("late", True), ("missed", False)]
        for state, enabled in verdicts:
            session.add(
                Schedule(
                    owner_id=owner.id, job_type="reachability_check", arguments={"host": "r1"},
                    interval_seconds=300, grace_seconds=60, next_run_at=utcnow(), slots_from=utcnow(),
                    watch_state=state, enabled=enabled,
                )
            )  # fmt: skip

    samples = scrape(client)

    assert value(samples, "netraven_schedules", watch_state="ok") == 1
    assert value(samples, "netraven_schedules", watch_state="late") == 1
    assert value(samples, "netraven_schedules", watch_state="missed") == 2  # a paused one is no alarm


def test_a_worker_counts_alive_while_it_runs_and_not_after_a_clean_stop(
    client, worker, tmp_path, redis_client
):
    """By the worker's own name: other tests' workers (killed ones expire later) move the count."""
    import socket

    from netraven_tasks.tracking.workers import WORKERS_KEY

    name = f"presence@{socket.gethostname()}"
    second = start_worker("presence", tmp_path / "presence.log")
    try:
        eventually(lambda: redis_client.zscore(WORKERS_KEY, name) is not None, message="the worker stamped")
        assert value(scrape(client), "netraven_workers_alive") >= 2  # the session worker and this one
    finally:
        stop_process(second.process)
    eventually(lambda: redis_client.zscore(WORKERS_KEY, name) is None, message="the stopped worker gone")
