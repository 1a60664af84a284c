"""A real SMTP server on loopback (aiosmtpd) that records what it accepted, for the tests.

A message counts as received only once the server answered 250 to its DATA; it can be told to
be slow, to hold one message (so a test can kill the sender meanwhile) or to refuse addresses.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    peer: tuple[str, int]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())


class RecordingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.received: list[ReceivedMail] = []
            self.data_calls = 0
            self.delay = 0.0
            self.hold_at: int | None = None  # the n-th DATA (1-based) waits hold_seconds
            self.hold_seconds = 0.0
            self.holding = threading.Event()
            self.refuse: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_calls += 1
            number = self.data_calls
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold_at == number:
            self.holding.set()
            await asyncio.sleep(self.hold_seconds)  # cancelled if the client dies meanwhile
        if server.transport is None or server.transport.is_closing():
            return "451 4.3.0 client went away"
        raw = bytes(envelope.original_content or envelope.content)
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message_from_bytes(raw, policy=default_policy),  # type: ignore[arg-type]
            raw=raw,
            peer=tuple(session.peer),  # type: ignore[arg-type]
        )
        with self.lock:
            self.received.append(mail)
        return f"250 2.0.0 Ok: queued as Q{number}"


class SmtpServer:
    """Start, stop and start again on one fixed port; what it received survives restarts."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self.handler = RecordingHandler()
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(self.handler, hostname=self.host, port=self.port, ready_timeout=10)
            self._controller.start()

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def received(self) -> list[ReceivedMail]:
        with self.handler.lock:
            return list(self.handler.received)

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.received if address in m.rcpt_tos]

    def wait_for(self, count: int, timeout: float = 30.0, address: str | None = None) -> list[ReceivedMail]:
        """Wait until at least ``count`` messages (to ``address``, if given) arrived; return them all."""
        from tests.conftest import eventually

        def found() -> list[ReceivedMail]:
            return self.to(address) if address else self.received

        eventually(
            lambda: len(found()) >= count, timeout, lambda: f"{count} messages, {len(found())} arrived"
        )
        return found()
