"""Route events of each kind: what a state change, a missed run, a configuration change or a
finished fleet run tells a route, and the incident it belongs to.

Incident keys are stable per scope, so an on-call service's recovery resolves what the failure
opened: ``netraven:schedule:{id}`` for a scheduled single-device run, else
``netraven:device:{device}:{job_type}``; a schedule's missed-run incident is
``netraven:schedule:{id}:missed`` (it is not the failing streak of its runs).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.batches.models import Batch
from netraven_tasks.devices.models import Device
from netraven_tasks.jobs.registry import criticality_of, get_job_type
from netraven_tasks.models import JobLog
from netraven_tasks.notifications.alerting import Alert, alert_source
from netraven_tasks.notifications.channels.spec import Incident, MessageSource, RouteNotice
from netraven_tasks.notifications.rendering import BatchReport, Renderer, batch_link, batch_subject
from netraven_tasks.routes.matching import BATCH_FINISHED, FAILED, DeviceFacts
from netraven_tasks.routes.planning import RouteEvent
from netraven_tasks.schedules.models import Schedule

NO_SOURCE = "netraven"
ERROR_FACT_LIMIT = 500


def incident_key(job_type: str, device: str | None, schedule_id: int | None) -> str:
    if schedule_id is not None:
        return f"netraven:schedule:{schedule_id}"
    return f"netraven:device:{device or ''}:{job_type}"


def facts_of(device: Device) -> DeviceFacts:
    return DeviceFacts(device.name, device.site, frozenset(device.tags))


def inventory_device(session: Session, name: str | None) -> DeviceFacts | None:
    """The inventory's facts of the device named ``name`` (None when it is not in the inventory)."""
    device = session.scalar(select(Device).where(Device.name == name)) if name else None
    return facts_of(device) if device is not None else None


def _loader(device: DeviceFacts | None) -> Sequence[DeviceFacts]:
    return (device,) if device is not None else ()


def _facts(*pairs: tuple[str, str | int | None]) -> tuple[tuple[str, str], ...]:
    return tuple((title, str(value)) for title, value in pairs if value not in (None, ""))


def alert_notice(
    alert: Alert, renderer: Renderer, incident: Incident, facts: tuple[tuple[str, str], ...]
) -> RouteNotice:
    """What routes are told of ``alert``: the message people get, the incident, the card's facts."""
    source = alert_source(alert, renderer)
    return RouteNotice(alert.event, source, alert.headline, alert.link, incident, facts)


def job_state_event(session: Session, job: JobLog, alert: Alert, renderer: Renderer) -> RouteEvent:
    """A run's state change (``failed``, ``still_failing``, ``recovered``) as routes see it."""
    device = inventory_device(session, job.device)
    site = device.site if device is not None else None
    error = f"{job.error_type or 'Error'}: {job.error_message or ''}"[:ERROR_FACT_LIMIT]
    notice = alert_notice(
        alert,
        renderer,
        Incident(
            key=incident_key(job.job_type, job.device, job.schedule_id),
            severity=criticality_of(job.job_type),
            source=job.device or (f"schedule {job.schedule_id}" if job.schedule_id else NO_SOURCE),
            component=job.job_type,
            group=site,
        ),
        _facts(
            ("Event", alert.event.replace("_", " ")),
            ("Job type", job.job_type),
            ("Device", job.device),
            ("Site", site),
            ("Schedule", job.schedule_id),
            ("Run", job.id),
            ("Error", error if alert.event != "recovered" and job.status == FAILED else None),
        ),
    )
    return RouteEvent(
        notice,
        job_type=job.job_type,
        team_id=job.team_id,
        key=f"job:{job.id}:{alert.event}",
        devices=lambda _session: _loader(device),
        job_log_id=job.id,
        device=job.device,
        schedule_id=job.schedule_id if job.batch_id is None else _batch_schedule(session, job.batch_id),
    )


def _batch_schedule(session: Session, batch_id: int) -> int | None:
    """The schedule behind a fleet run's child (its batch's), for the maintenance windows."""
    batch = session.get(Batch, batch_id)
    return batch.schedule_id if batch is not None else None


def missed_run_event(session: Session, schedule: Schedule, alert: Alert, renderer: Renderer) -> RouteEvent:
    """A schedule's missed run (or its end, ``recovered``): the incident of the schedule's slots."""
    declared = get_job_type(schedule.job_type)
    name = declared.device_of(schedule.arguments) if declared and schedule.targets is None else None
    device = inventory_device(session, name)
    notice = alert_notice(
        alert,
        renderer,
        Incident(
            key=f"netraven:schedule:{schedule.id}:missed",
            severity=criticality_of(schedule.job_type),
            source=name or f"schedule {schedule.id}",
            component=schedule.job_type,
            group=device.site if device is not None else None,
        ),
        _facts(
            ("Event", alert.event),
            ("Job type", schedule.job_type),
            ("Schedule", schedule.id),
            ("Device", name),
        ),
    )
    return RouteEvent(
        notice,
        job_type=schedule.job_type,
        team_id=schedule.team_id,
        key=alert.alert_key or f"schedule:{schedule.id}:{alert.event}",
        devices=lambda _session: _loader(device),
        device=name,
        schedule_id=schedule.id,
    )


def config_change_event(
    session: Session, alert: Alert, device_name: str, renderer: Renderer, team_id: int | None
) -> RouteEvent:
    """A device's configuration changed (``alert`` is the change's, as personal recipients get it)."""
    device = inventory_device(session, device_name)
    job_type = alert.job_type or "config_backup"
    notice = alert_notice(
        alert,
        renderer,
        Incident(
            key=incident_key(job_type, device_name, None),
            severity="info",
            source=device_name,
            component=job_type,
            group=device.site if device is not None else None,
        ),
        _facts(
            ("Event", "configuration changed"),
            ("Device", device_name),
            ("Site", device.site if device is not None else None),
        ),
    )
    return RouteEvent(
        notice,
        job_type=job_type,
        team_id=team_id,
        key=alert.alert_key or f"config:{device_name}",
        devices=lambda _session: _loader(device),
        job_log_id=alert.job_log_id,
        device=device_name,
    )


def batch_finished_event(batch: Batch, report: BatchReport, source: MessageSource) -> RouteEvent:
    """A settled fleet run: a route hears of it when one of the batch's devices matches."""

    def devices(session: Session) -> Sequence[DeviceFacts]:
        rows = session.scalars(
            select(Device).join(JobLog, JobLog.device == Device.name).where(JobLog.batch_id == batch.id)
        ).unique()
        return [facts_of(device) for device in rows]

    link = batch_link(source.public_url, batch.id)
    notice = RouteNotice(
        event=BATCH_FINISHED,
        source=source,
        headline=batch_subject(report),
        link=link,
        incident=Incident(
            key=f"netraven:batch:{batch.id}",
            severity="info",
            source=f"batch {batch.id}",
            component=batch.job_type,
        ),
        facts=_facts(
            ("Event", "fleet run finished"),
            ("Job type", batch.job_type),
            ("Status", batch.status),
            ("Devices", batch.total),
            ("Failed", report.counts.get("failed")),
            ("Schedule", batch.schedule_id),
        ),
    )
    return RouteEvent(
        notice,
        job_type=batch.job_type,
        team_id=batch.team_id,
        key=f"batch:{batch.id}",
        devices=devices,
        schedule_id=batch.schedule_id,
    )
