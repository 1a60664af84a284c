"""Tracking events: the small facts a signal handler hands to the recorder."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from netraven_tasks.models import utcnow


class EventKind(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    REVOKED = "revoked"
    REAPED = "reaped"
    REJECTED = "rejected"  # the database refused an event of this run: it failed, not stuck
    DEFERRED = "deferred"  # its device was busy: it waits until next_retry_at, status unchanged


@dataclass(frozen=True)
class TrackingEvent:
    kind: EventKind
    task_id: str
    job_type: str
    at: datetime = field(default_factory=utcnow)
    retries: int = 0  # Celery's request.retries: 0 for the first attempt
    device: str | None = None
    owner_id: int | None = None
    args: dict[str, Any] | None = None
    worker: str | None = None
    result: dict[str, Any] | None = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    next_retry_at: datetime | None = None
    batch_id: int | None = None  # a fleet run's child: set on its queued event only
    team_id: int | None = None  # the team the run belongs to: set on its queued event only

    def to_dict(self) -> dict[str, Any]:
        # Shallow: the values go straight to json.dumps. dataclasses.asdict deep-copies args and
        # results, which cost the worker more per task than the XADD itself.
        data = {name: getattr(self, name) for name in _FIELDS}
        data["kind"] = self.kind.value
        for key in ("at", "next_retry_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackingEvent:
        values = dict(data)
        values["kind"] = EventKind(values["kind"])
        for key in ("at", "next_retry_at"):
            if values.get(key) is not None:
                values[key] = datetime.fromisoformat(values[key])
        return cls(**values)


_FIELDS = tuple(f.name for f in fields(TrackingEvent))
