"""The API as an ASGI app: each request's body is read whole, within a deadline and the size limit,
on the event loop; only then does a thread run the Flask app with it.

A client that trickles its body holds a cheap coroutine, never one of the threads. The live updates
(``GET /job-logs/stream``, ``/job-logs/ws``) never reach a thread: ``LiveRoutes`` serves them on the
event loop (``api/live_hub.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from a2wsgi.asgi_typing import HTTPScope, Receive, ReceiveEvent, Scope, Send, SendEvent
from a2wsgi.wsgi import WSGIMiddleware, WSGIResponder

from api.app import create_app
from api.errors import error_body
from api.live_hub import LiveRoutes
from netraven_tasks.settings import Settings, get_settings

# Threads per server process that run the Flask app (an open live stream holds none).
APP_THREADS = 32


class ClientGone(ConnectionError):
    """Raised in the app's thread when it writes to a client that has left (ends a stream)."""


class _Responder(WSGIResponder):
    """a2wsgi's responder, whose writes fail once the client has gone: uvicorn drops a write to a
    closed connection silently, so without this a left stream would run to its own end."""

    client_gone = False

    def send(self, message: SendEvent | None) -> None:
        if self.client_gone:
            raise ClientGone("the client closed the connection")
        super().send(message)


class BufferedApp(WSGIMiddleware):
    """The Flask app behind a2wsgi, given each request only once its whole body is here."""

    def __init__(self, app: Any, settings: Settings, threads: int = APP_THREADS) -> None:
        super().__init__(app, workers=threads)
        self.max_body_bytes = settings.max_body_bytes
        self.body_seconds = settings.request_body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        responder = _Responder(self.app, self.executor, self.send_queue_size)
        watcher = asyncio.ensure_future(_mark_when_gone(receive, responder))
        try:
            await responder(scope, _replay(body, receive), send)
        except ClientGone:
            pass
        finally:
            watcher.cancel()

    async def _read_body(self, scope: HTTPScope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once the request is answered (413, 408) or the client left."""
        too_large = f"the request body is larger than {self.max_body_bytes} bytes"
        declared = dict(scope["headers"]).get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _answer(send, 413, too_large)
            return None
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_seconds):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = cast(bytes, message.get("body", b""))
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        await _answer(send, 413, too_large)
                        return None
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            too_slow = f"the request body did not arrive within {self.body_seconds:g} s"
            await _answer(send, 408, too_slow)
            return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the buffered body first, then the connection's own events."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> ReceiveEvent:
        return pending.pop() if pending else await receive()  # type: ignore[return-value]

    return replay


async def _mark_when_gone(receive: Receive, responder: _Responder) -> None:
    # The body is read already: the next event is the client leaving (or the answer ending).
    while (await receive())["type"] != "http.disconnect":
        pass
    responder.client_gone = True


async def _answer(send: Send, code: int, message: str) -> None:
    """A JSON error, then the connection closes (lingering: api/http_protocol.py): the rest of the
    body is never read."""
    body = error_body(code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def create_asgi_app() -> LiveRoutes:
    """What the server runs (``api.asgi:create_asgi_app()``): the live updates on the event loop
    (``api/live_hub.py``), and the Flask app, its bodies buffered, for everything else."""
    settings = get_settings()
    flask_app = create_app(settings)
    return LiveRoutes(BufferedApp(flask_app, settings), flask_app, settings)
