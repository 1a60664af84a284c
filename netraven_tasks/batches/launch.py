"""Launching a fleet run: resolve the targets, write the batch and its children, then publish.

The guarantees of ``jobs/launch.py`` hold for the whole batch: one transaction writes the batch
row and every child's ``queued`` row (set-based, through the recorder's own write path, which
also starts the counters); only then are the messages published, over one broker connection, a
chunk per round trip. If the database fails nothing is published; if the broker fails, the
children not yet published are marked ``failed`` in one transaction and the caller gets
``LaunchUnavailable``.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from kombu import Producer
from marshmallow import ValidationError
from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from netraven_tasks.batches.arguments import batch_argument_errors
from netraven_tasks.batches.models import Batch, BatchStatus
from netraven_tasks.db import session_factory
from netraven_tasks.devices.schemas import TargetsSchema
from netraven_tasks.devices.selection import SelectedDevice, Selector, select_devices
from netraven_tasks.jobs.launch import PUBLISH_ERROR_TYPE, LaunchUnavailable, UnknownJobType
from netraven_tasks.jobs.launch_roles import ensure_may_launch
from netraven_tasks.jobs.registry import JobType, get_job_type
from netraven_tasks.maintenance.skipping import SlotSkipped, record_skipped, skipped_devices
from netraven_tasks.models import utcnow
from netraven_tasks.quotas import ensure_batch_size
from netraven_tasks.runtime import Runtime, runtime_of
from netraven_tasks.schedules.runs import SlotTaken
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.headers import JOB_LOG_HEADER, OWNER_HEADER, RECORDED_HEADER
from netraven_tasks.tracking.isolation import IsolatingWriter, PendingEvent
from netraven_tasks.tracking.published import PublishedMessages
from netraven_tasks.tracking.transitions import Outcome, apply_events
from netraven_tasks.users import ensure_active_owner

log = logging.getLogger(__name__)

# Messages per broker round trip: large enough that the round trips cost little next to building
# the messages, small enough that a worker starts the first children a fraction of a second in.
PUBLISH_CHUNK = 500


@dataclass(frozen=True)
class LaunchedBatch:
    batch_id: int
    total: int
    status: str


@dataclass(frozen=True)
class BatchOrigin:
    """Where a batch comes from besides its owner: a schedule's slot, or the batch it re-runs."""

    schedule_id: int | None = None
    slot: datetime | None = None
    rerun_of: int | None = None
    team_id: int | None = None  # the team the batch and its children belong to (checked by the caller)


def batch_job_type(job_type: str, arguments: Mapping[str, Any]) -> JobType:
    """The job type, if these arguments can run over devices: UnknownJobType, or ValidationError
    naming each bad field (the device argument itself is each device's address)."""
    declared = get_job_type(job_type)
    if declared is None:
        raise UnknownJobType(job_type)
    problems = batch_argument_errors(declared, dict(arguments))
    if problems:
        raise ValidationError(problems)
    return declared


def child_arguments(
    declared: JobType,
    arguments: Mapping[str, Any],
    devices: Sequence[SelectedDevice],
    is_admin: bool,
    settings: Settings,
) -> list[dict[str, Any]]:
    """Each device's validated arguments: ``arguments`` (checked by ``batch_job_type``) with the
    job's device argument set to the device's address, checked per device (errors name the
    device), and the launch roles per device (as for a single run)."""
    device_arg = declared.device_arg
    assert device_arg is not None  # batch_job_type checked it
    schema = declared.arguments()
    field = schema.fields[device_arg]
    base: dict[str, Any] | None = None
    children = []
    for device in devices:
        try:
            if base is None:  # the whole job's arguments once, as the job will receive them
                base = declared.validate({**arguments, device_arg: device.address})
            address = field.serialize(device_arg, {device_arg: field.deserialize(device.address)})
        except ValidationError as error:
            raise ValidationError({"targets": {device.name: error.messages}}) from error
        kwargs = {**base, device_arg: address}
        ensure_may_launch(declared.name, declared.launch_roles, kwargs, is_admin, settings)
        children.append(kwargs)
    return children


def launch_batch(
    settings: Settings,
    job_type: str,
    targets: Mapping[str, Any],
    arguments: Mapping[str, Any],
    owner_id: int | None,
    *,
    is_admin: bool,
    origin: BatchOrigin = BatchOrigin(),
    app: Celery | None = None,
) -> LaunchedBatch:
    """Queue one run per device the targets select now. Raises UnknownJobType, ValidationError
    (per field), SelectionError (NoDevicesMatched, UnknownDevices), QuotaExceeded, LaunchForbidden,
    SlotTaken (a schedule's slot launched before: nothing published), SlotSkipped (every device
    of a schedule's slot is in a ``skip_runs`` maintenance window) or LaunchUnavailable."""
    runtime = runtime_of(app)
    declared = batch_job_type(job_type, arguments)
    try:
        loaded_targets: dict[str, Any] = TargetsSchema().load(dict(targets))
    except ValidationError as error:
        raise ValidationError({"targets": error.messages}) from error
    sessions = session_factory(settings)
    try:
        with sessions() as session:
            devices = select_devices(session, Selector.of(loaded_targets))
            skipped = skipped_devices(session, [d.name for d in devices], origin.slot) if origin.slot else {}
        devices = [device for device in devices if device.name not in skipped]
        if not devices:
            with sessions.begin() as session:
                _record_skipped(session, origin, skipped)
            raise SlotSkipped(f"every device of schedule {origin.schedule_id}'s slot is under maintenance")
    except (exc.OperationalError, exc.InterfaceError) as error:
        raise _database_away(error) from error
    ensure_batch_size(len(devices), is_admin, settings)
    kwargs_list = child_arguments(declared, arguments, devices, is_admin, settings)
    try:
        with sessions.begin() as session:
            if owner_id is not None:
                ensure_active_owner(session, owner_id)
            batch_id = _insert_batch(
                session, declared.name, len(devices), loaded_targets, dict(arguments), owner_id, origin
            )
            _record_skipped(session, origin, skipped)
            queued = [
                TrackingEvent(
                    kind=EventKind.QUEUED,
                    task_id=str(uuid.uuid4()),
                    job_type=declared.name,
                    device=device.name,
                    owner_id=owner_id,
                    args=kwargs,
                    batch_id=batch_id,
                    team_id=origin.team_id,
                )
                for device, kwargs in zip(devices, kwargs_list, strict=True)
            ]
            outcomes = apply_events(session, queued)
    except (exc.OperationalError, exc.InterfaceError) as error:
        raise _database_away(error) from error
    _publish_feed(runtime, outcomes)
    publish_children(settings, runtime, declared, queued, outcomes, owner_id, app)
    return LaunchedBatch(batch_id=batch_id, total=len(queued), status=BatchStatus.RUNNING.value)


def _record_skipped(session: Session, origin: BatchOrigin, skipped: Mapping[str, int]) -> None:
    """The devices a maintenance window left out of a schedule's slot, in the batch's transaction."""
    if origin.schedule_id is None or origin.slot is None:
        return
    for device, window_id in sorted(skipped.items()):
        record_skipped(session, window_id, origin.schedule_id, origin.slot, device)


def _database_away(error: Exception) -> LaunchUnavailable:
    log.warning("could not write a batch: %s", error)
    return LaunchUnavailable(
        f"the batch could not be queued, the database is unavailable: {type(error).__name__}"
    )


def _insert_batch(
    session: Session,
    job_type: str,
    total: int,
    targets: dict[str, Any],
    arguments: dict[str, Any],
    owner_id: int | None,
    origin: BatchOrigin,
) -> int:
    now = utcnow()
    batch = Batch(
        job_type=job_type,
        status=BatchStatus.RUNNING.value,
        total=total,
        arguments=arguments,
        targets=targets,
        owner_id=owner_id,
        schedule_id=origin.schedule_id,
        scheduled_for=origin.slot,
        rerun_of=origin.rerun_of,
        team_id=origin.team_id,
        created_at=now,
        updated_at=now,
    )
    session.add(batch)
    try:
        with session.begin_nested():
            session.flush()
    except exc.IntegrityError as error:
        if origin.schedule_id is not None:
            raise SlotTaken(
                f"schedule {origin.schedule_id} launched its batch of {origin.slot} before"
            ) from error
        raise
    return batch.id


def _publish_feed(runtime: Runtime, outcomes: Sequence[Outcome]) -> None:
    """The batch's row only: ten thousand queued children would flood the live feed."""
    live = runtime.live_feed()
    if live is not None:
        live.publish_batches(outcome.batch for outcome in outcomes if outcome.batch is not None)


def publish_children(
    settings: Settings,
    runtime: Runtime,
    declared: JobType,
    queued: Sequence[TrackingEvent],
    outcomes: Sequence[Outcome],
    owner_id: int | None,
    app: Celery | None = None,
) -> None:
    """Publish every child over one producer, ``PUBLISH_CHUNK`` messages per broker round trip;
    LaunchUnavailable after marking the children not published ``failed`` (they will never run).

    On Redis each chunk is one pipeline (kombu's ``Producer.batch``), and a worker starts the
    first children while the rest are still being sent. A chunk counts as published only once its
    round trip has succeeded; on another broker every message goes out as it is sent, as before.
    """
    publisher = app or runtime.app
    published = 0
    common: dict[str, Any] = {} if owner_id is None else {OWNER_HEADER: owner_id}
    try:
        client = runtime.redis_client()
        if client is not None:  # our record of published messages, for all children in one ZADD
            PublishedMessages(client).add_many(event.task_id for event in queued)
            common[RECORDED_HEADER] = 1
        with (
            publisher.producer_or_acquire() as producer,
            # never reached: each chunk is flushed by hand, so what went out is known exactly
            producer.batch(max_size=PUBLISH_CHUNK * 16) as pending,
            SentEvents(publisher, producer) as events,
        ):
            sender = ChildSender(publisher, producer, events, declared.task_name, common)
            for start in range(0, len(queued), PUBLISH_CHUNK):
                chunk = range(start, min(start + PUBLISH_CHUNK, len(queued)))
                for index in chunk:
                    sender.send(queued[index], outcomes[index].job_log_id)
                events.flush()  # first: if it fails, none of the chunk's messages has gone out
                pending.flush()
                published = chunk.stop
    except Exception as error:
        _settle_unpublished(settings, runtime, queued[published:], error)
        raise LaunchUnavailable(
            f"{len(queued) - published} of the batch's {len(queued)} runs could not be queued, "
            f"the broker is unavailable: {type(error).__name__}"
        ) from error


class SentEvents:
    """The ``task-sent`` events of a batch's children, sent as one ``task.multi`` message per chunk
    (as a worker sends its own task events) rather than one message per child: half of what a
    launch would publish. ``send_task`` takes it as its event dispatcher; ``flush`` sends."""

    def __init__(self, app: Celery, producer: Producer):
        self._dispatcher = app.events.Dispatcher(
            channel=producer.channel,
            buffer_group=["task"],
            buffer_limit=sys.maxsize,  # flushed by hand, with its chunk
            buffer_while_offline=False,  # a broker failure is raised, not kept for later
        )

    def __enter__(self) -> SentEvents:
        return self

    def __exit__(self, *_: object) -> None:
        self._dispatcher.close()

    def publish(self, kind: str, fields: dict[str, Any], producer: Producer, **_: Any) -> None:
        """What Celery calls with each message's event: kept for the chunk's ``task.multi``."""
        self._dispatcher.send(kind, **fields)

    def flush(self) -> None:
        self._dispatcher.flush()


@dataclass(frozen=True)
class ChildSender:
    """What every child's message shares: the app and producer, the events, the task, the headers."""

    app: Celery
    producer: Producer
    events: SentEvents
    task_name: str
    headers: dict[str, Any]

    def send(self, event: TrackingEvent, job_log_id: int) -> None:
        self.app.send_task(
            self.task_name,
            kwargs=event.args,
            task_id=event.task_id,
            headers={**self.headers, JOB_LOG_HEADER: job_log_id},
            producer=self.producer,
            event_dispatcher=self.events,
            # validated, bounded arguments: repr() does what Celery's saferepr would, at a fraction
            # of its cost per message
            argsrepr="()",
            kwargsrepr=repr(event.args),
        )


def _settle_unpublished(
    settings: Settings, runtime: Runtime, queued: Sequence[TrackingEvent], error: Exception
) -> None:
    """The messages never left: their rows (and the batch's counters) say so at once, in one go."""
    failed = [
        TrackingEvent(
            kind=EventKind.FAILED,
            task_id=event.task_id,
            job_type=event.job_type,
            error_type=PUBLISH_ERROR_TYPE,
            error_message=f"could not publish to the broker: {type(error).__name__}: {error}",
        )
        for event in queued
    ]
    # The recorder's own write: if no child was published, this settles the batch and plans its
    # summary in the same transaction.
    writer = IsolatingWriter(session_factory(settings), None, source="launch", planner=runtime.planner())
    try:
        outcomes = writer.write([PendingEvent(event) for event in failed])
    except Exception:
        log.exception("could not mark %d unpublished runs failed; the reaper will", len(failed))
        return
    _publish_feed(runtime, outcomes)


def batch_of(session: Session, batch_id: int) -> Batch | None:
    return session.scalar(select(Batch).where(Batch.id == batch_id))
