"""Metric families of the fleet and its services, for the Grafana dashboard and the alerting rules
(deploy/): recent outcomes by device site, batches in progress, schedules by the missed-run
check's verdict, live workers. Read at scrape time like the rest (``netraven_tasks.metrics``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from netraven_tasks.devices.models import Device
from netraven_tasks.models import JobLog
from netraven_tasks.schedules.models import Schedule, WatchState
from netraven_tasks.statuses import ACTIVE_STATUSES, TERMINAL_STATUSES
from netraven_tasks.tracking.workers import WorkerPresence

# --- fleet: recent outcomes by site, batches in progress ---

# The window of netraven_jobs_finished_recently: long enough for a few scrapes to agree, short
# enough that a site's failure rate says what happens now.
RECENT_WINDOW = timedelta(minutes=15)


def site_families(session: Session, now: datetime) -> Iterator[Metric]:
    """Runs finished in the last ``RECENT_WINDOW``, by job type, site of their device and status.

    Read through the index on ``updated_at`` (a finished run's last write is its final event), so a
    scrape costs the window's runs, not the history. The sites are the inventory's (admins write
    them): a run whose device is not in the inventory, or has no site, counts under ``site=""``.
    Every final status appears for each (job type, site) seen, so a failure ratio reads 0, not
    nothing, where nothing failed.
    """
    cutoff = now - RECENT_WINDOW
    terminal = sorted(status.value for status in TERMINAL_STATUSES)
    statement = (
        select(JobLog.job_type, Device.site, JobLog.status, func.count().label("n"))
        .outerjoin(Device, Device.name == JobLog.device)
        .where(JobLog.updated_at >= cutoff, JobLog.finished_at >= cutoff, JobLog.status.in_(terminal))
        .group_by(JobLog.job_type, Device.site, JobLog.status)
    )
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(terminal, 0))
    for row in session.execute(statement):
        counts[(row.job_type, row.site or "")][row.status] += int(row.n)
    recent = GaugeMetricFamily(
        "netraven_jobs_finished_recently",
        f"Job runs that reached a final status in the last {RECENT_WINDOW.total_seconds():g} s, "
        'by job type, site of their device ("" outside the inventory) and status',
        labels=["job_type", "site", "status"],
    )
    for (job_type, site), by_status in sorted(counts.items()):
        for status, n in by_status.items():
            recent.add_metric([job_type, site, status], n)
    yield recent


def batch_families(session: Session, known_job_types: Iterable[str]) -> Iterator[Metric]:
    """Fleet runs in progress: a batch runs while any of its children is not final, so they are
    counted through the partial index on active runs, whatever the number of batches kept."""
    statement = (
        select(JobLog.job_type, func.count(distinct(JobLog.batch_id)).label("n"))
        .where(JobLog.status.in_([status.value for status in ACTIVE_STATUSES]), JobLog.batch_id.is_not(None))
        .group_by(JobLog.job_type)
    )
    running = {row.job_type: int(row.n) for row in session.execute(statement)}
    gauge = GaugeMetricFamily(
        "netraven_batches_running", "Fleet runs (batches) not settled yet, by job type", labels=["job_type"]
    )
    for job_type in sorted({*running, *known_job_types}):
        gauge.add_metric([job_type], running.get(job_type, 0))
    yield gauge


# --- schedules: what the missed-run check concluded (schedules/watch.py) ---


def schedule_families(session: Session) -> Iterator[Metric]:
    """Enabled schedules by watch state: ``missed`` is a schedule whose runs stopped starting."""
    statement = (
        select(Schedule.watch_state, func.count().label("n"))
        .where(Schedule.enabled)
        .group_by(Schedule.watch_state)
    )
    counts = {row.watch_state: int(row.n) for row in session.execute(statement)}
    gauge = GaugeMetricFamily(
        "netraven_schedules",
        "Enabled schedules by the missed-run check's verdict (ok, late: not started by slot + grace, "
        "missed: the next slot passed too)",
        labels=["watch_state"],
    )
    for state in WatchState:
        gauge.add_metric([state.value], counts.get(state.value, 0))
    yield gauge


def worker_families(presence: WorkerPresence) -> Iterator[Metric]:
    """Workers alive now (tracking/workers.py): 0 means nothing runs the queued jobs."""
    gauge = GaugeMetricFamily(
        "netraven_workers_alive",
        "Celery workers whose heartbeat was seen within the last NETRAVEN_DEADLINE_SECONDS",
    )
    gauge.add_metric([], presence.alive())
    yield gauge
