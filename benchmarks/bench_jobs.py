"""Job types for the tracking benchmark (loaded through NETRAVEN_JOB_MODULES)."""

from __future__ import annotations

import time
from typing import Any

import redis
from celery import shared_task
from marshmallow import Schema, fields

from netraven_tasks.jobs import job_type
from netraven_tasks.settings import get_settings

_client: redis.Redis | None = None


def _tick(total: int) -> None:
    """Count executions; keep the wall time of the first and the last one."""
    global _client
    if _client is None:
        settings = get_settings()
        _client = redis.Redis.from_url(settings.redis_url_in_use or settings.broker_url)
    done = _client.incr("bench:done")
    now = repr(time.time())
    if done == 1:
        _client.set("bench:first", now)
    if done == total:
        _client.set("bench:last", now)


@shared_task(name="bench.untracked_noop", ignore_result=True)
def untracked_noop(total: int) -> None:
    _tick(total)


class NoopArguments(Schema):
    host = fields.String(load_default="bench")
    total = fields.Integer(required=True)


@job_type("bench_noop", arguments=NoopArguments, time_limit=60)
def tracked_noop(host: str, total: int) -> dict[str, Any]:
    """A job that does nothing but count itself."""
    _tick(total)
    return {"ok": True}


@shared_task(name="bench.untracked_limited", ignore_result=True, time_limit=60, soft_time_limit=54)
def untracked_limited(total: int) -> None:
    _tick(total)
