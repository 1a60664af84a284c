"""Lean rows for the job-log lists: the list schemas' fields read as columns and made JSON directly.

``/job-logs/active`` answers up to 500 runs: loading them as ORM objects with their owners and
dumping each field through marshmallow cost more than the query itself. The lists select exactly
the documented fields (the owner's name by an outer join) and build the JSON from the row tuples.
The marshmallow schemas in ``api.job_logs`` remain the contract: they document the response, and a
test checks that these rows equal ``schema.dump`` of the same runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from netraven_tasks.models import JobLog, User, utcnow
from netraven_tasks.statuses import JobStatus

# JobLogSchema's fields in its order; "owner" is the owner's username, joined.
COLUMNS = (
    "id", "task_id", "job_type", "device", "owner_id", "team_id", "status", "attempts", "args", "queued_at",
    "started_at", "finished_at", "next_retry_at", "duration_seconds", "result", "error_type",
    "error_message", "worker", "updated_at", "rerun_of", "canceled_by", "schedule_id", "scheduled_for",
    "batch_id",
)  # fmt: skip


def list_select() -> Select[Any]:
    """The list columns of job logs, with the owner's username as ``owner``."""
    return select(*[getattr(JobLog, name) for name in COLUMNS], User.username.label("owner")).outerjoin(
        User, User.id == JobLog.owner_id
    )


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def list_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """JSON-ready dicts of ``list_select()`` rows, as ``JobLogSchema(many=True).dump`` makes them."""
    names = (*COLUMNS, "owner")
    return [{name: _json(value) for name, value in zip(names, row, strict=True)} for row in rows]


def with_timings(rows: list[dict[str, Any]], raw: list[Any]) -> list[dict[str, Any]]:
    """Add ``ActiveJobLogSchema``'s ``elapsed_seconds`` and ``running_seconds`` (seconds until now)."""
    now = utcnow()
    for row, source in zip(rows, raw, strict=True):
        row["elapsed_seconds"] = max(0.0, (now - source.queued_at).total_seconds())
        running = source.status == JobStatus.RUNNING and source.started_at is not None
        row["running_seconds"] = max(0.0, (now - source.started_at).total_seconds()) if running else None
    return rows
