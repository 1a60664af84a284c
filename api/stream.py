"""``GET /job-logs/stream``: Server-Sent Events of job-log changes, fed by the live feed in Redis.

Each open stream is one blocking XREAD on Redis, never a database query, and holds one of
gunicorn's threads: so a stream ends by itself after ``NETRAVEN_STREAM_MAX_SECONDS`` and the
browser's EventSource reconnects, resuming after the last id it saw (``Last-Event-ID``).

The caller is re-checked while the stream runs (``CallerWatch``): before each batch of events and
at least every ``RECHECK_SECONDS``, so deactivation, a password change or sign-out ends an open
stream within seconds. A quiet stream gets a comment line every ``HEARTBEAT_SECONDS`` so proxies
keep it open, and its Redis client waits longer than any read blocks.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import redis
from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import fields, validate

from api.caller_watch import RECHECK_SECONDS, CallerWatch
from api.context import current_settings
from api.errors import fail
from api.json_body import Blueprint
from api.security import errors, protect
from netraven_tasks.access.policy import Action, Resource, Viewer, may
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.tracking.live import LiveFeed

blp = protect(Blueprint("job_log_stream", __name__, url_prefix="/job-logs", description="Live job updates"))

HEARTBEAT_SECONDS = 15  # a comment line this often keeps proxies from closing an idle stream
# An XREAD blocks at most this long; the client's socket timeout must outlast it by a margin, or a
# quiet stream ends in a timeout (redis-py's default socket timeout is 5 s).
READ_BLOCK_SECONDS = RECHECK_SECONDS
SOCKET_TIMEOUT_SECONDS = READ_BLOCK_SECONDS + 10
RECONNECT_MS = 1000
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
_REDIS_KEY = "netraven_live_redis"


def _live_feed() -> LiveFeed:
    """One Redis client (and connection pool) per API process, shared by its streams."""
    client = current_app.extensions.get(_REDIS_KEY)
    if client is None:
        client = current_app.extensions[_REDIS_KEY] = redis.Redis.from_url(
            current_settings().redis_url_in_use or "", socket_timeout=SOCKET_TIMEOUT_SECONDS
        )
    return LiveFeed(client)


def live_position() -> str | None:
    """Where the live feed is now: a page renders it, then streams from it (no change falls between)."""
    if not current_settings().redis_url_in_use:
        return None
    try:
        return _live_feed().last_id()
    except redis.RedisError:
        return None


def visible_row(viewer: Viewer, kind: str, row: dict[str, Any]) -> bool:
    """Whether ``viewer`` may see a live-feed row (a job row names its owner_id, a batch row its
    owner; both their team_id); the async streams (``api/live_hub.py``) ask this too."""
    if kind == "batch":
        return may(viewer, Resource.BATCH, Action.VIEW, row.get("owner"), row.get("team_id"))
    return may(viewer, Resource.RUN, Action.VIEW, row.get("owner_id"), row.get("team_id"))


REVOKED = ": access revoked (signed out, deactivated or password changed); sign in again\n\n"


def job_events(
    feed: LiveFeed,
    watch: CallerWatch,
    after: str,
    until: float,
    heartbeat: float = HEARTBEAT_SECONDS,
    block: float = READ_BLOCK_SECONDS,
) -> Iterator[str]:
    """The SSE text: ``event: job`` per row the caller may see (asking ``watch`` before each batch
    and each quiet wake-up), a heartbeat after ``heartbeat`` seconds of silence, until ``until``
    (monotonic) or until the caller's access ends."""
    yield f"retry: {RECONNECT_MS}\n: connected\n\n"
    last_sent = time.monotonic()
    while (left := until - time.monotonic()) > 0:
        if (viewer := watch.current()) is None:
            yield REVOKED
            return
        try:
            entries = feed.read_events(after, block_ms=max(1, int(min(left, block, heartbeat) * 1000)))
        except redis.RedisError:
            yield ": live feed unavailable, reconnect later\n\n"
            return
        if not entries:
            if time.monotonic() - last_sent >= heartbeat:
                yield ": heartbeat\n\n"
                last_sent = time.monotonic()
            continue
        if (viewer := watch.current()) is None:  # the rows may be newer than the last check
            yield REVOKED
            return
        for entry_id, kind, row in entries:
            after = entry_id
            if visible_row(viewer, kind, row):
                yield f"id: {entry_id}\nevent: {kind}\ndata: {json.dumps(row, default=str)}\n\n"
                last_sent = time.monotonic()
    yield ": stream closed, reconnect with Last-Event-ID\n\n"


class StreamQuerySchema(InputSchema):
    after = fields.String(
        validate=validate.Regexp(STREAM_ID.pattern, error="must be a stream id such as 1700000000000-0"),
        metadata={"description": "start after this id (a page's render position); Last-Event-ID wins"},
    )


@blp.route("/stream")
class JobLogStream(MethodView):
    @blp.arguments(StreamQuerySchema, location="query")
    @blp.response(
        200,
        content_type="text/event-stream",
        description="`event: job` (a job-log row), `event: batch` (a batch row); data: the row as JSON",
    )
    @errors(blp, 401, 422, 503)
    def get(self, query: dict[str, str]) -> Response:
        """Every change of a job run the caller may see, as Server-Sent Events (resume with Last-Event-ID)."""
        watch = CallerWatch.of_request()
        settings = current_settings()
        if not settings.redis_url_in_use:
            why = "live updates need Redis (NETRAVEN_REDIS_URL or a Redis broker)"
            fail(503, f"{why}; poll GET /job-logs/active")
        feed = _live_feed()
        resume = request.headers.get("Last-Event-ID", "").strip()
        try:
            after = resume if STREAM_ID.match(resume) else query.get("after") or feed.last_id()
        except redis.RedisError:
            fail(503, "the live feed is unavailable; poll GET /job-logs/active instead")
        until = time.monotonic() + settings.stream_max_seconds
        return Response(
            job_events(feed, watch, after, until),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
