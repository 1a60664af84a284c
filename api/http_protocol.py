"""The API server's HTTP/1.1 connections: uvicorn's h11 protocol with a deadline on each request head.

An asyncio connection costs no thread, so idle and slow clients are cheap; the deadline is what
makes them leave: a request's line and headers must arrive within ``NETRAVEN_REQUEST_HEAD_SECONDS``
of the connection's start (or of the previous response), however slowly they trickle, or the
connection is answered 408 and closed. What h11 cannot parse is a JSON 400, like the app's errors.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.errors import error_body

# A request head larger than this is refused (400) before any header reaches the app; below it
# the app answers 414/431 itself (api/request_limits.py), with room above its 16 KiB of headers.
MAX_HEAD_BYTES = 64 * 1024
LINGER_SECONDS = 2.0


def raw_error_response(code: int, message: str) -> bytes:
    """A complete HTTP/1.1 error answer that closes the connection, written straight to the socket."""
    body = error_body(code, message)
    head = (
        f"HTTP/1.1 {code} {HTTPStatus(code).phrase}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _LingeringTransport:
    """The connection's transport as uvicorn sees it: closing while the client still sends a body
    (an early 413 or 408) half-closes first and drops what arrives for ``LINGER_SECONDS``; closing
    at once would make the kernel answer those bytes with a reset that destroys our answer."""

    def __init__(self, transport: asyncio.Transport, protocol: DeadlineH11Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._lingering = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self._lingering or self._transport.is_closing()

    def close(self) -> None:
        if self._lingering or self._transport.is_closing():
            return
        if self._protocol.conn.their_state is h11.SEND_BODY and self._transport.can_write_eof():
            self._lingering = True
            self._protocol.lingering = True
            self._transport.write_eof()
            self._protocol.loop.call_later(LINGER_SECONDS, self._transport.close)
            return
        self._transport.close()


class DeadlineH11Protocol(H11Protocol):
    """One connection: uvicorn's h11 protocol, plus the head deadline and JSON errors."""

    def __init__(self, *args: Any, head_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_seconds = head_seconds  # NETRAVEN_REQUEST_HEAD_SECONDS, given by the worker
        self.head_deadline: asyncio.TimerHandle | None = None
        self.head_bytes = 0  # bytes of the current request head received so far
        self.lingering = False  # answered and half-closed: the rest of the body is dropped

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_LingeringTransport(transport, self))  # type: ignore[arg-type]
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return
        if self.conn.their_state is h11.IDLE:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._cancel_head_deadline()  # a request is in: its body has its own deadline (api/asgi.py)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Keep-alive: the next request's head has the same deadline (a pipelined one may be in).
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_head_deadline()

    def eof_received(self) -> bool | None:  # type: ignore[override]  # asyncio.Protocol allows True
        if self.lingering:
            return None
        # A client that half-closes after sending its request (``nc -N``, shutdown(SHUT_WR)) still
        # gets the answer, then the connection closes; asyncio would close it at once.
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._cancel_head_deadline()
        self.transport.write(raw_error_response(400, "malformed request, or its head is too large"))
        self.transport.close()

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self.head_bytes = 0
        self.head_deadline = self.loop.call_later(self.head_seconds, self._head_deadline_passed)

    def _cancel_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_deadline_passed(self) -> None:
        self.head_deadline = None
        if self.transport.is_closing():
            return
        if self.head_bytes:  # a request was on its way: say why it ends (an idle one just closes)
            message = f"the request head did not arrive within {self.head_seconds:g} s"
            self.transport.write(raw_error_response(408, message))
        self.transport.close()
