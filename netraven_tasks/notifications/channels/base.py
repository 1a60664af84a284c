"""The channel interface: ``send(message) -> DeliveryResult`` or ``TransportError(permanent=...)``.

The outbox only needs one distinction from a channel: may this message be tried again later
(a timeout, a 4xx SMTP reply, a 5xx from a webhook) or never (a refused address, a 404 webhook)?
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class TransportError(Exception):
    """Sending failed; ``permanent`` says that retrying the same message cannot succeed."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class OutgoingMessage:
    """One message ready to go: what an outbox row holds, without the bookkeeping."""

    channel: str
    address: str  # an email address or a webhook URL
    subject: str
    text: str
    html: str | None = None
    payload: dict[str, Any] | None = None
    message_id: str = ""
    user_id: int | None = None
    route_id: int | None = None  # a route's message (no personal recipient)


@dataclass(frozen=True)
class DeliveryResult:
    """What the provider said when it accepted the message (its id, a queue reply, an HTTP status)."""

    provider_message_id: str


class Channel:
    """A way to deliver messages; ``close()`` ends a batch (a reused connection)."""

    name = "channel"

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        raise NotImplementedError

    def close(self) -> None:
        """Release what a batch held open (an SMTP connection); the channel stays usable."""
