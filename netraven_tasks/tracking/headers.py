"""The message headers a launched job carries, and reading them back from a task request.

The launcher writes the job-log row before it publishes, so the message can carry the row's id:
handlers and log lines read it from the request instead of asking the database.
"""

from __future__ import annotations

from typing import Any

OWNER_HEADER = "netraven_owner_id"
JOB_LOG_HEADER = "netraven_job_log_id"
# The launcher added the message to our record of published messages already (a batch's children,
# in one ZADD): the publish hook need not add it again, one round trip per message.
RECORDED_HEADER = "netraven_published_recorded"


def header_of(request: Any, name: str) -> Any:
    """A custom header of the message behind a Celery task request (None if absent)."""
    if request is None:
        return None
    value = getattr(request, name, None)  # Celery puts message headers on the request itself
    if value is None:
        headers = getattr(request, "headers", None)
        if isinstance(headers, dict):
            value = headers.get(name)
    return value


def job_log_id_of(request: Any) -> int | None:
    """The job-log id the launcher put in the message headers, if it did and it is one."""
    value = header_of(request, JOB_LOG_HEADER)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
