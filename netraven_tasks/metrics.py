"""Prometheus metrics computed from the database (and the tracking stream) at scrape time.

Job figures come from the rollups' running totals, corrected by the raw rows of the few hours
changed since the last rollup run, and active runs from the partial active index: a scrape costs
the same with a month or ten years of history (``netraven_tasks.rollups.totals``).

Why at scrape time: jobs run in Celery children and the API runs in several gunicorn
workers; counters kept in process memory would each see a fraction of the truth (or need
prometheus-client's multiprocess mode and a shared directory). The database already holds
every job run and every outbox row, so one query per scrape gives every process the same,
complete numbers. Job counters keep counting purged runs (the running totals keep them).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.devices.leases import DatabaseLeases, LeaseStore, RedisLeases
from netraven_tasks.fleet_metrics import batch_families, schedule_families, site_families, worker_families
from netraven_tasks.jobs.registry import all_job_types
from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.notifications.models import OutboxMessage, OutboxState
from netraven_tasks.rollups.histogram import PROMETHEUS_BUCKETS
from netraven_tasks.rollups.totals import job_figures
from netraven_tasks.settings import Settings
from netraven_tasks.statuses import ACTIVE_STATUSES, TERMINAL_STATUSES, JobStatus
from netraven_tasks.tracking.dead_letters import dead_letters_for
from netraven_tasks.tracking.spool import spool_for
from netraven_tasks.tracking.stream import backlog, tracking_streams
from netraven_tasks.tracking.workers import WorkerPresence

log = logging.getLogger(__name__)

# The rollups count runs into these buckets, so they are defined beside the rollups' own histogram.
DURATION_BUCKETS = PROMETHEUS_BUCKETS


@dataclass
class DurationHistogram:
    """Cumulative bucket counts, as Prometheus wants them."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    count: int = 0
    total: float = 0.0

    def add(self, cumulative: Sequence[int], count: int, total: float) -> None:
        self.buckets = [mine + theirs for mine, theirs in zip(self.buckets, cumulative, strict=True)]
        self.count += count
        self.total += total

    def prometheus_buckets(self) -> list[tuple[str, float]]:
        pairs = [(_le(bound), float(n)) for bound, n in zip(DURATION_BUCKETS, self.buckets, strict=True)]
        return [*pairs, ("+Inf", float(self.count))]


def _le(bound: float) -> str:
    return str(float(bound))


@dataclass
class JobSnapshot:
    """What one scan of ``job_logs`` says, grouped by job type."""

    by_status: dict[tuple[str, str], int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    durations: dict[str, DurationHistogram] = field(default_factory=lambda: defaultdict(DurationHistogram))
    oldest_queued_at: datetime | None = None

    @property
    def job_types(self) -> list[str]:
        return sorted({job_type for job_type, _ in self.by_status})


def job_snapshot(session: Session) -> JobSnapshot:
    """Job figures without a scan of history (see ``job_figures``) plus one indexed MIN."""
    snapshot = JobSnapshot()
    terminal = {status.value for status in TERMINAL_STATUSES}
    for (job_type, status), figures in job_figures(session).items():
        snapshot.by_status[(job_type, status)] = figures.jobs
        snapshot.retries[job_type] += figures.extra_attempts
        if status in terminal and figures.timed:
            snapshot.durations[job_type].add(figures.le, figures.timed, figures.duration_sum)
    # Served by the partial index on active rows, however many jobs have finished.
    snapshot.oldest_queued_at = session.scalar(
        select(func.min(JobLog.queued_at)).where(JobLog.status == JobStatus.QUEUED.value)
    )
    return snapshot


def job_families(snapshot: JobSnapshot, known_job_types: Iterable[str], now: datetime) -> Iterator[Metric]:
    """The job metrics; every known job type appears, with zeros, so rate() works from the start."""
    job_types = sorted({*snapshot.job_types, *known_job_types})
    launched = CounterMetricFamily(
        "netraven_jobs_launched", "Job runs launched (job-log rows), by job type", labels=["job_type"]
    )
    finished = CounterMetricFamily(
        "netraven_jobs",
        "Job runs that reached a final status (completed, failed, canceled), by job type and status",
        labels=["job_type", "status"],
    )
    active = GaugeMetricFamily(
        "netraven_jobs_active",
        "Job runs not finished yet (queued, running, retrying), by job type and status",
        labels=["job_type", "status"],
    )
    retries = CounterMetricFamily(
        "netraven_job_retries", "Attempts after the first one, by job type", labels=["job_type"]
    )
    durations = HistogramMetricFamily(
        "netraven_job_duration_seconds",
        "Duration of the final attempt of finished job runs, by job type",
        labels=["job_type"],
    )
    for job_type in job_types:
        launched.add_metric([job_type], sum(n for (jt, _), n in snapshot.by_status.items() if jt == job_type))
        for status in sorted(TERMINAL_STATUSES):
            finished.add_metric([job_type, status.value], snapshot.by_status.get((job_type, status.value), 0))
        for status in sorted(ACTIVE_STATUSES):
            active.add_metric([job_type, status.value], snapshot.by_status.get((job_type, status.value), 0))
        retries.add_metric([job_type], snapshot.retries.get(job_type, 0))
        histogram = snapshot.durations.get(job_type, DurationHistogram())
        durations.add_metric([job_type], histogram.prometheus_buckets(), sum_value=histogram.total)
    oldest = GaugeMetricFamily(
        "netraven_oldest_queued_job_age_seconds",
        "Age of the oldest job run still queued (not started, or its start not yet recorded); 0 if none",
    )
    age = (now - snapshot.oldest_queued_at).total_seconds() if snapshot.oldest_queued_at else 0.0
    oldest.add_metric([], max(0.0, age))
    yield from (launched, finished, active, retries, durations, oldest)


def notification_families(session: Session) -> Iterator[Metric]:
    """Outbox metrics: messages sent and permanently failed by channel, and what is still to send."""
    statement = select(OutboxMessage.channel, OutboxMessage.state, func.count().label("n")).group_by(
        OutboxMessage.channel, OutboxMessage.state
    )
    counts = {(row.channel, row.state): int(row.n) for row in session.execute(statement)}
    channels = sorted({channel for channel, _ in counts} | {"email"})
    sent = CounterMetricFamily(
        "netraven_notifications_sent", "Notifications sent, by channel", labels=["channel"]
    )
    failed = CounterMetricFamily(
        "netraven_notifications_failed",
        "Notifications given up on (permanent error or too many attempts), by channel",
        labels=["channel"],
    )
    backlog = GaugeMetricFamily(
        "netraven_notification_outbox_backlog",
        "Outbox messages waiting to be sent (pending or being sent), by channel",
        labels=["channel"],
    )
    for channel in channels:
        sent.add_metric([channel], counts.get((channel, OutboxState.SENT.value), 0))
        failed.add_metric([channel], counts.get((channel, OutboxState.FAILED.value), 0))
        waiting = counts.get((channel, OutboxState.PENDING.value), 0) + counts.get(
            (channel, OutboxState.SENDING.value), 0
        )
        backlog.add_metric([channel], waiting)
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.state.in_([OutboxState.PENDING.value, OutboxState.SENDING.value])
        )
    )
    age = GaugeMetricFamily(
        "netraven_notification_outbox_oldest_age_seconds",
        "Age of the oldest outbox message not yet sent; 0 if none",
    )
    age.add_metric([], max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0)
    # Quiet hours hold messages and failed tries wait for their backoff: neither is stuck until
    # its next attempt is due. Read through the partial index of messages to send.
    first_due = session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.state == OutboxState.PENDING.value
        )
    )
    overdue = GaugeMetricFamily(
        "netraven_notification_outbox_overdue_seconds",
        "How long the most overdue outbox message has waited past its next attempt's time; 0 if none",
    )
    overdue.add_metric([], max(0.0, (utcnow() - first_due).total_seconds()) if first_due else 0.0)
    yield from (sent, failed, backlog, age, overdue)


def recorder_families(client: redis.Redis, streams: Sequence[str]) -> Iterator[Metric]:
    """How far the recorder is behind, per tracking partition (docs/tracking.md)."""
    events = GaugeMetricFamily(
        "netraven_recorder_backlog_events",
        "Tracking events in the Redis Stream not yet written",
        labels=["partition"],
    )
    lag = GaugeMetricFamily(
        "netraven_recorder_lag_seconds",
        "Age of the oldest tracking event not yet written; 0 if none",
        labels=["partition"],
    )
    for partition, stream in enumerate(streams):
        count, age = backlog(client, stream)
        events.add_metric([str(partition)], count)
        lag.add_metric([str(partition)], age)
    yield from (events, lag)


def spool_families(settings: Settings) -> Iterator[Metric]:
    """Tracking events in this machine's spool (tracking/spool.py): non-zero only while neither
    the stream nor the database takes events, or until a worker replays them."""
    gauge = GaugeMetricFamily(
        "netraven_tracking_spool_events",
        "Tracking events kept in the local spool, waiting for a worker to replay them",
    )
    gauge.add_metric([], spool_for(settings).depth())
    yield gauge


# --- tracking: dead letters (events the database refused; tracking/dead_letters.py) ---


def dead_letter_families(settings: Settings, client: redis.Redis | None) -> Iterator[Metric]:
    """How many dead letters wait for an operator (``netraven-tasks tracking dead-letters``)."""
    gauge = GaugeMetricFamily(
        "netraven_tracking_dead_letters", "Tracking events the database refused, kept for replay or drop"
    )
    gauge.add_metric([], dead_letters_for(settings, client).count())
    yield gauge


# --- devices: per-device leases (devices/leases.py) ---


def device_lease_families(store: LeaseStore) -> Iterator[Metric]:
    """Leases held now on all devices, and jobs deferred so far because their device was busy."""
    held = GaugeMetricFamily("netraven_device_leases_held", "Device leases held by running jobs")
    held.add_metric([], store.held())
    yield held
    deferrals = store.deferrals()
    if deferrals is not None:  # counted in Redis only
        counter = CounterMetricFamily(
            "netraven_device_deferrals", "Jobs deferred because their device was at its concurrency limit"
        )
        counter.add_metric([], deferrals)
        yield counter


class NetravenCollector(Collector):
    """Reads the numbers at every scrape; a source that fails is reported down, not raised."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        known_job_types: Callable[[], Iterable[str]] = lambda: (),
        clock: Callable[[], datetime] = utcnow,
    ):
        self._settings = settings
        self._sessions = sessions
        self._known_job_types = known_job_types
        self._clock = clock
        self._redis: redis.Redis | None = None

    def _stream_client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self._settings.redis_url_in_use or "", socket_timeout=2, socket_connect_timeout=2
            )
        return self._redis

    def _job_metrics(self) -> list[Metric]:
        with self._sessions() as session:
            snapshot = job_snapshot(session)
        return list(job_families(snapshot, self._known_job_types(), self._clock()))

    def _notification_metrics(self) -> list[Metric]:
        with self._sessions() as session:
            return list(notification_families(session))

    def _fleet_metrics(self) -> list[Metric]:
        with self._sessions() as session:
            return [
                *site_families(session, self._clock()),
                *batch_families(session, self._known_job_types()),
                *schedule_families(session),
            ]

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily(
            "netraven_metrics_source_up",
            "1 if this scrape could read the source (database, tracking stream), else 0",
            labels=["source"],
        )
        families: list[Metric] = []
        database_ok = True
        for read in (self._job_metrics, self._notification_metrics, self._fleet_metrics):
            try:
                families.extend(read())
            except Exception as error:  # one failing query must not hide the other's numbers
                log.warning("metrics: could not read the database: %s", _first_line(error))
                database_ok = False
        up.add_metric(["database"], 1 if database_ok else 0)
        if self._settings.tracking_via_stream:
            try:
                families.extend(recorder_families(self._stream_client(), tracking_streams(self._settings)))
                up.add_metric(["tracking_stream"], 1)
            except Exception as error:
                log.warning("metrics: could not read the tracking stream: %s", _first_line(error))
                up.add_metric(["tracking_stream"], 0)
        try:  # tracking: dead letters
            redis_client = self._stream_client() if self._settings.redis_url_in_use else None
            families.extend(dead_letter_families(self._settings, redis_client))
        except Exception as error:
            log.warning("metrics: could not count the dead letters: %s", _first_line(error))
        if self._settings.redis_url_in_use:
            try:  # workers: presence
                families.extend(worker_families(WorkerPresence(self._stream_client())))
            except Exception as error:
                log.warning("metrics: could not count the workers: %s", _first_line(error))
        try:  # devices: leases
            redis_client = self._stream_client() if self._settings.redis_url_in_use else None
            store = RedisLeases(redis_client) if redis_client else DatabaseLeases(self._sessions)
            families.extend(device_lease_families(store))
        except Exception as error:
            log.warning("metrics: could not count the device leases: %s", _first_line(error))
        try:  # tracking: the local spool
            families.extend(spool_families(self._settings))
        except OSError as error:
            log.warning("metrics: could not read the tracking spool: %s", _first_line(error))
        yield from families
        yield up
        took = GaugeMetricFamily(
            "netraven_metrics_scrape_duration_seconds", "Time this scrape spent reading its sources"
        )
        took.add_metric([], time.perf_counter() - started)
        yield took


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"


def build_registry(settings: Settings, sessions: sessionmaker[Session]) -> CollectorRegistry:
    """A registry with only our collector: per-process default metrics would describe one worker."""

    def known_job_types() -> list[str]:
        return [job_type.name for job_type in all_job_types()]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(NetravenCollector(settings, sessions, known_job_types))
    return registry
