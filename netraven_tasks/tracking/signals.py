"""Celery signal handlers: each turns one signal into one tracking event for the recorder.

``TrackingSignals`` connects them (``celery_integration.install`` does, once per app); the
functions below only build the event, or None for what is not tracked. They decide nothing.
Only tasks of declared job types are tracked; internal tasks (notifications, digests, the
reaper) are not. Celery's signals are the process's, so each app's handlers pass on only the
tasks that app's integration tracks (``tracks``): two apps in one process (ours and one that
``track`` was called on) never record one event twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import signals

from netraven_tasks.jobs.registry import JobType, job_type_for_task
from netraven_tasks.models import utcnow
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.headers import JOB_LOG_HEADER, OWNER_HEADER
from netraven_tasks.tracking.recorder import Recorder

log = logging.getLogger(__name__)


class TrackingSignals:
    """The handlers of one app, bound to the recorder ``recorder_provider`` gives; they record
    only the tasks whose name ``tracks`` accepts."""

    def __init__(self, recorder_provider: Callable[[], Recorder], tracks: Callable[[str], bool]):
        self._recorder_provider = recorder_provider
        self._tracks = tracks

    def connect(self) -> None:
        """Connect one handler per signal; each records what its event builder makes of it."""
        for signal, build in (
            (signals.before_task_publish, publish_event),
            (signals.task_prerun, prerun_event),
            (signals.task_success, success_event),
            (signals.task_retry, retry_event),
            (signals.task_failure, failure_event),
            (signals.task_revoked, revoked_event),
        ):
            signal.connect(self._handler(build), weak=False)

    def _handler(self, build: Callable[..., TrackingEvent | None]) -> Callable[..., None]:
        def handle(sender: Any = None, **kwargs: Any) -> None:
            # publish names its task; the others pass the task itself
            if self._tracks(sender if isinstance(sender, str) else getattr(sender, "name", "")):
                self.record(build(sender=sender, **kwargs))

        return handle

    def record(self, event: TrackingEvent | None) -> None:
        if event is None:
            return
        try:
            self._recorder_provider().record(event)
        except Exception:
            # Celery would swallow it silently; at least say which job lost its event.
            log.exception("could not record %s for task %s", event.kind, event.task_id)


def _error_fields(error: BaseException | None) -> dict[str, Any]:
    if error is None:
        return {}
    return {"error_type": type(error).__name__, "error_message": str(error) or repr(error)}


def publish_event(
    sender: str | None = None, headers: dict[str, Any] | None = None, body: Any = None, **_: Any
) -> TrackingEvent | None:
    declared = job_type_for_task(sender)
    if declared is None or not headers or headers.get("retries") or JOB_LOG_HEADER in headers:
        # A retry's own publish is recorded by on_retry; launch_job wrote its queued row itself.
        # What remains are runs published by other means (e.g. ``app.send_task`` in a script).
        return None
    args, kwargs = (body[0], body[1]) if isinstance(body, (tuple, list)) and len(body) > 1 else ((), {})
    named = declared.named_arguments(args, kwargs)
    owner = headers.get(OWNER_HEADER)
    return TrackingEvent(
        kind=EventKind.QUEUED,
        task_id=headers["id"],
        job_type=declared.name,
        device=declared.device_of(named),
        owner_id=int(owner) if owner is not None else None,
        args=named,
    )


def _tracked(task: Any) -> JobType | None:
    return job_type_for_task(getattr(task, "name", None))


def _attempt_event(kind: EventKind, declared: JobType, request: Any, **fields: Any) -> TrackingEvent:
    """An event of the attempt ``request`` describes (Celery's request.retries tells which)."""
    fields.setdefault("task_id", request.id)
    return TrackingEvent(kind=kind, job_type=declared.name, retries=request.retries or 0, **fields)


def prerun_event(
    sender: Any = None, task_id: str = "", args: Any = None, kwargs: dict[str, Any] | None = None, **_: Any
) -> TrackingEvent | None:
    declared = _tracked(sender)
    if declared is None:
        return None
    request = sender.request
    named = declared.named_arguments(args, kwargs)
    return _attempt_event(
        EventKind.STARTED,
        declared,
        request,
        task_id=task_id,
        device=declared.device_of(named),
        args=named,
        worker=request.hostname,
    )


def success_event(sender: Any = None, result: Any = None, **_: Any) -> TrackingEvent | None:
    declared = _tracked(sender)
    if declared is None:
        return None
    request = sender.request
    return _attempt_event(EventKind.SUCCEEDED, declared, request, result=result, worker=request.hostname)


def retry_event(
    sender: Any = None, request: Any = None, reason: Any = None, einfo: Any = None, **_: Any
) -> TrackingEvent | None:
    declared = _tracked(sender)
    if declared is None or request is None:
        return None
    error = getattr(reason, "exc", None) or reason
    when = getattr(reason, "when", None)
    next_retry_at = utcnow() + timedelta(seconds=when) if isinstance(when, (int, float)) else when
    return _attempt_event(
        EventKind.RETRY_SCHEDULED,
        declared,
        request,
        next_retry_at=next_retry_at,
        traceback=str(einfo.traceback) if einfo is not None else None,
        **_error_fields(error if isinstance(error, BaseException) else None),
    )


def failure_event(
    sender: Any = None,
    task_id: str = "",
    exception: BaseException | None = None,
    einfo: Any = None,
    **_: Any,
) -> TrackingEvent | None:
    declared = _tracked(sender)
    if declared is None:
        return None
    return _attempt_event(
        EventKind.FAILED,
        declared,
        sender.request,
        task_id=task_id,
        traceback=str(einfo.traceback) if einfo is not None else None,
        **_error_fields(exception),
    )


def revoked_event(
    sender: Any = None,
    request: Any = None,
    terminated: bool = False,
    expired: bool = False,
    **_: Any,
) -> TrackingEvent | None:
    declared = _tracked(sender)
    if declared is None or request is None:
        return None
    reason = "expired" if expired else ("terminated" if terminated else "revoked")
    return TrackingEvent(
        kind=EventKind.REVOKED,
        task_id=request.id,
        job_type=declared.name,
        error_message=reason,
    )
