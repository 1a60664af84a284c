"""Live updates without a thread per screen: one reader of the live feed per API process, fanned
out in memory to every open event stream and WebSocket of that process.

``GET /job-logs/stream`` (Server-Sent Events) and ``/job-logs/ws`` (WebSocket) are answered here, on
the server's event loop (``api/asgi.py`` routes them), so an open screen costs a coroutine and a
queue, never one of the threads that run the Flask app:

- **One Redis read per process.** ``LiveHub`` runs one blocking XREAD on the live feed
  (``netraven_tasks/tracking/live.py``) and hands each batch of entries to every subscriber's
  queue; each entry is serialised once, whatever the number of screens.
- **Resume.** A subscriber that names an id (``Last-Event-ID``, ``?after=``) first gets the entries
  after it (one XRANGE), then the live ones; an entry never comes twice.
- **The same authorisation as the API.** A connection is authenticated by the Flask app's own
  code (``CallerWatch.of_request`` in a request context: bearer JWT, personal access token, or the
  dashboard's cookie), and its caller is re-checked every ``RECHECK_SECONDS`` (once per token, for
  all the connections that share it): sign-out, deactivation, a password change or a revoked
  token ends the connection within seconds. Each entry goes only to callers who may see its row
  (``api/stream.visible_row``).
- **A slow client does not hold anyone back.** Its queue is bounded; when it overflows the
  connection ends, and the client resumes from the last id it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import redis
import redis.asyncio as aioredis
from flask import Flask
from werkzeug.exceptions import HTTPException

from api.caller_watch import RECHECK_SECONDS, CallerWatch
from api.errors import error_body
from api.stream import HEARTBEAT_SECONDS, RECONNECT_MS, REVOKED, STREAM_ID, visible_row
from netraven_tasks.access.policy import Viewer
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.live import LIVE_MAXLEN, LIVE_STREAM, id_order, parse_entries

log = logging.getLogger(__name__)

STREAM_PATH = "/job-logs/stream"
WEBSOCKET_PATH = "/job-logs/ws"
READ_BLOCK_MS = 5_000
QUEUE_BATCHES = 256  # batches a subscriber may fall behind before it is cut off (and resumes)
REVOKED_CLOSE = 4401  # WebSocket close code: access ended (as HTTP 401)
PING = '{"event": "ping"}'  # a quiet WebSocket's message every HEARTBEAT_SECONDS (proxies close idle ones)
TOO_SLOW_CLOSE = 4408  # WebSocket close code: the client fell behind; reconnect with ?after=


@dataclass(frozen=True)
class Entry:
    """One live-feed entry, serialised once for every subscriber."""

    id: str
    kind: str  # job | batch
    row: dict[str, Any]
    sse: str
    message: str  # the WebSocket text frame

    @classmethod
    def of(cls, entry_id: str, kind: str, row: dict[str, Any]) -> Entry:
        data = json.dumps(row, default=str)
        sse = f"id: {entry_id}\nevent: {kind}\ndata: {data}\n\n"
        message = f'{{"id": "{entry_id}", "event": "{kind}", "data": {data}}}'
        return cls(entry_id, kind, row, sse, message)


@dataclass(eq=False)
class Subscription:
    """One open screen: its caller (re-checked by the hub) and the entries waiting for it."""

    watch: CallerWatch
    caller: Viewer | None
    queue: asyncio.Queue[list[Entry] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_BATCHES))
    last_id: tuple[int, int] = (0, 0)
    ended: str | None = None  # why the hub ended it: "revoked" or "too slow"

    def end(self, why: str) -> None:
        if self.ended is None:
            self.ended = why
            with contextlib.suppress(asyncio.QueueFull):  # full: the reader sees ``ended`` first
                self.queue.put_nowait(None)

    def offer(self, batch: list[Entry]) -> None:
        try:
            self.queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.end("too slow")

    async def next(self, timeout: float) -> list[Entry] | None:
        """The next entries this caller may see ([] after ``timeout`` of silence); None once ended."""
        try:
            batch = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return []
        if batch is None or self.ended is not None or self.caller is None:
            return None
        fresh = [entry for entry in batch if id_order(entry.id) > self.last_id]
        if fresh:
            self.last_id = id_order(fresh[-1].id)
        return [entry for entry in fresh if visible_row(self.caller, entry.kind, entry.row)]


class LiveHub:
    """The process's one reader of the live feed and the subscriptions it feeds."""

    def __init__(self, redis_url: str, stream: str = LIVE_STREAM):
        self._client = aioredis.Redis.from_url(redis_url, socket_timeout=READ_BLOCK_MS / 1000 + 10)
        self._stream = stream
        self._subscriptions: set[Subscription] = set()
        self._watches: dict[Any, tuple[CallerWatch, int]] = {}  # token -> (shared watch, users)
        self._tasks: list[asyncio.Task[None]] = []
        self._position = "$"

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    async def subscribe(self, watch: CallerWatch, after: str | None) -> Subscription:
        """A subscription from now on, after the entries since ``after`` (if any) are queued."""
        self._start()
        shared, users = self._watches.get(watch.key, (watch, 0))
        self._watches[watch.key] = (shared, users + 1)
        subscription = Subscription(shared, watch.current())  # just authenticated: no query
        self._subscriptions.add(subscription)  # first: nothing published meanwhile is missed
        if after is not None:
            backlog: Any = await self._client.xrange(
                self._stream, min=f"({after}", max="+", count=LIVE_MAXLEN
            )
            subscription.offer([Entry.of(*entry) for entry in parse_entries(backlog)])
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription not in self._subscriptions:
            return
        self._subscriptions.discard(subscription)
        key = subscription.watch.key
        shared, users = self._watches[key]
        if users > 1:
            self._watches[key] = (shared, users - 1)
        else:
            del self._watches[key]

    def _start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._read()), loop.create_task(self._recheck())]

    async def _read(self) -> None:
        while True:
            try:
                if self._position == "$":
                    newest: Any = await self._client.xrevrange(self._stream, count=1)
                    self._position = newest[0][0].decode() if newest else "0-0"
                response: Any = await self._client.xread(
                    {self._stream: self._position}, count=500, block=READ_BLOCK_MS
                )
            except redis.RedisError as error:
                log.warning("live hub: the live feed is unavailable (%s); retrying", error)
                await asyncio.sleep(1)
                continue
            if not response:
                continue
            entries = [Entry.of(*entry) for entry in parse_entries(response[0][1])]
            self._position = response[0][1][-1][0].decode()
            for subscription in list(self._subscriptions):
                subscription.offer(entries)

    async def _recheck(self) -> None:
        """Every ``RECHECK_SECONDS``: each distinct token's caller, once, for all its connections."""
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            for key, (watch, _) in list(self._watches.items()):
                caller = await asyncio.to_thread(watch.current)
                for subscription in [s for s in self._subscriptions if s.watch.key == key]:
                    subscription.caller = caller
                    if caller is None:
                        subscription.end("revoked")


class Refused(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class LiveRoutes:
    """ASGI: the live-update paths on the event loop, everything else to ``app`` (api/asgi.py)."""

    def __init__(self, app: Any, flask_app: Flask, settings: Settings):  # app: any ASGI app
        self.app = app
        self.flask_app = flask_app
        self.settings = settings
        self.hub = LiveHub(url) if (url := settings.redis_url_in_use) else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "websocket":
            if path == WEBSOCKET_PATH and self.hub is not None:
                await self._websocket(scope, receive, send)
            else:
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 4404, "reason": "no WebSocket here"})
            return
        if (
            scope["type"] == "http"
            and path == STREAM_PATH
            and scope["method"] == "GET"
            and self.hub is not None
            and _plain_query(scope)
        ):
            await self._event_stream(scope, receive, send)
            return
        await self.app(scope, receive, send)

    # --- who is calling ---

    def _watch(self, scope: dict[str, Any], websocket: bool) -> tuple[CallerWatch, str | None]:
        """Authenticate like every API request (in a thread: it reads the database)."""
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        query = scope.get("query_string", b"").decode("latin-1")
        client = (scope.get("client") or ("", 0))[0]
        after = _after(headers, query)
        with self.flask_app.test_request_context(
            scope["path"], query_string=query, headers=headers, environ_base={"REMOTE_ADDR": client}
        ):
            from flask import request  # lazy: bound to the context just pushed

            if websocket and not request.headers.get("Authorization"):
                _same_origin(request.headers.get("Origin"), self.settings.public_url)
            try:
                watch = CallerWatch.of_request()
            except HTTPException as error:
                data = getattr(error, "data", None) or {}
                raise Refused(error.code or 401, data.get("message") or str(error.description)) from None
        return watch, after

    # --- Server-Sent Events ---

    async def _event_stream(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert self.hub is not None
        try:
            watch, after = await asyncio.to_thread(self._watch, scope, False)
        except Refused as refused:
            await _json(send, refused.code, refused.message)
            return
        subscription = await self.hub.subscribe(watch, after)
        gone = asyncio.ensure_future(_until_disconnect(receive, subscription))
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            (b"x-content-type-options", b"nosniff"),
        ]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await _chunk(send, f"retry: {RECONNECT_MS}\n: connected\n\n")
            until = time.monotonic() + self.settings.stream_max_seconds
            while (left := until - time.monotonic()) > 0:
                batch = await subscription.next(min(left, HEARTBEAT_SECONDS))
                if batch is None:
                    if subscription.ended == "revoked" or subscription.caller is None:
                        await _chunk(send, REVOKED)
                    elif subscription.ended == "too slow":
                        await _chunk(send, ": too far behind; reconnect with Last-Event-ID\n\n")
                    break
                await _chunk(send, "".join(entry.sse for entry in batch) if batch else ": heartbeat\n\n")
            else:
                await _chunk(send, ": stream closed, reconnect with Last-Event-ID\n\n")
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client left while we wrote
            pass
        finally:
            self.hub.unsubscribe(subscription)
            gone.cancel()

    # --- WebSocket ---

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert self.hub is not None
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            watch, after = await asyncio.to_thread(self._watch, scope, True)
        except Refused as refused:
            await send({"type": "websocket.accept"})
            await send(
                {"type": "websocket.close", "code": 4000 + refused.code, "reason": refused.message[:120]}
            )
            return
        await send({"type": "websocket.accept"})
        subscription = await self.hub.subscribe(watch, after)
        gone = asyncio.ensure_future(_until_disconnect(receive, subscription, websocket=True))
        try:
            while True:
                batch = await subscription.next(HEARTBEAT_SECONDS)
                if batch is None:
                    if gone.done():
                        return
                    revoked = subscription.ended == "revoked" or subscription.caller is None
                    code, reason = (
                        (REVOKED_CLOSE, "access revoked: sign in again")
                        if revoked
                        else (TOO_SLOW_CLOSE, "too far behind: reconnect with ?after=<last id>")
                    )
                    await send({"type": "websocket.close", "code": code, "reason": reason})
                    return
                for text in [entry.message for entry in batch] or [PING]:
                    await send({"type": "websocket.send", "text": text})
        except OSError:
            pass
        finally:
            self.hub.unsubscribe(subscription)
            gone.cancel()


def _plain_query(scope: dict[str, Any]) -> bool:
    """Only ``after`` with a stream id: anything else goes to the Flask route, whose answer (422
    naming the parameter) is the API's."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return set(query) <= {"after"} and all(STREAM_ID.match(value) for value in query.get("after", []))


def _after(headers: list[tuple[str, str]], query: str) -> str | None:
    """Where to resume: ``Last-Event-ID`` wins over ``?after=``; anything not a stream id: now."""
    resume = next((v.strip() for k, v in headers if k.lower() == "last-event-id"), "")
    if STREAM_ID.match(resume):
        return resume
    asked = (parse_qs(query).get("after") or [""])[0]
    return asked if STREAM_ID.match(asked) else None


def _same_origin(origin: str | None, public_url: str) -> None:
    """A cookie-authenticated WebSocket must come from our own pages (no cross-site hijacking)."""
    if origin is not None and origin.rstrip("/") != public_url.rstrip("/"):
        raise Refused(403, f"a WebSocket with the session cookie must come from {public_url}")


async def _until_disconnect(receive: Any, subscription: Subscription, websocket: bool = False) -> None:
    disconnect = "websocket.disconnect" if websocket else "http.disconnect"
    while (await receive())["type"] != disconnect:
        pass  # a WebSocket client's own messages are not commands: ignored
    subscription.end("gone")


async def _chunk(send: Any, text: str) -> None:
    await send({"type": "http.response.body", "body": text.encode(), "more_body": True})


async def _json(send: Any, code: int, message: str) -> None:
    body = error_body(code, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if code == 401:
        headers.append((b"www-authenticate", b'Bearer realm="netraven-tasks"'))
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
