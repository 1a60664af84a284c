"""Deferring a job whose device is busy: the same message again, a little later, and this one acked.

Not a Celery retry: the job never started, so its retry policy's attempts and Celery's
``retries`` stay as they were; the copy carries the same task id, arguments, headers and route,
plus a count of its deferrals (``netraven_deferrals``) that makes each wait longer.
"""

from __future__ import annotations

import logging
from typing import Any

from netraven_tasks.jobs.device_limits import DeviceLimits

log = logging.getLogger(__name__)

HEADER_PREFIX = "netraven_"  # our headers (job-log id, owner, …) travel with the copy
DEFERRALS_HEADER = "netraven_deferrals"
MAX_COUNTED = 1000  # a header is message data: a huge number is as good as this one


def deferrals_of(request_dict: dict[str, Any]) -> int:
    """How often this run was deferred before (0 for a header that is missing or not a count)."""
    try:
        return max(0, min(MAX_COUNTED, int(request_dict.get(DEFERRALS_HEADER) or 0)))
    except (TypeError, ValueError, OverflowError):
        return 0


def _route(delivery_info: dict[str, Any]) -> dict[str, Any]:
    """Where the message came from, as Celery's own retry routes it (Task.signature_from_request)."""
    route: dict[str, Any] = {}
    if delivery_info.get("priority") is not None:
        route["priority"] = delivery_info["priority"]
    exchange, routing_key = delivery_info.get("exchange"), delivery_info.get("routing_key")
    if exchange == "" and routing_key:
        route["queue"] = routing_key
    elif routing_key:
        route.update(exchange=exchange, routing_key=routing_key)
    return route


def defer(request: Any, limits: DeviceLimits) -> float:
    """Publish the job of the worker request ``request`` again after a jittered wait; returns the
    wait in seconds. Raises if the broker refuses (the caller then lets the job run)."""
    request_dict: dict[str, Any] = request.request_dict
    deferrals = deferrals_of(request_dict) + 1
    seconds = limits.wait_seconds(deferrals)
    headers = {key: value for key, value in request_dict.items() if str(key).startswith(HEADER_PREFIX)}
    headers[DEFERRALS_HEADER] = deferrals
    hard, soft = request.time_limits
    request.task.apply_async(
        args=request.args,
        kwargs=request.kwargs,
        task_id=request.id,
        countdown=seconds,
        headers=headers,
        retries=request_dict.get("retries") or 0,
        expires=request_dict.get("expires"),
        time_limit=hard,
        soft_time_limit=soft,
        root_id=request_dict.get("root_id"),
        parent_id=request_dict.get("parent_id"),
        **_route(request.delivery_info or {}),
    )
    try:
        limits.store.count_deferral()
    except Exception as error:  # only a metric: the copy is published, this one must not run
        log.warning("could not count a deferral: %s", error)
    return seconds
