"""The embedded default: messages are written to a local Maildir (``NETRAVEN_MAILDIR``)."""

from __future__ import annotations

import mailbox
from pathlib import Path

from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.notifications.channels.mime import build_email


class MaildirChannel(Channel):
    """Writes each message as one file in ``new/`` (atomically: Maildir writes via ``tmp/``)."""

    name = "email"

    def __init__(self, path: Path, mail_from: str):
        self.path = path
        self.mail_from = mail_from

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        email = build_email(message, self.mail_from)
        try:
            box = mailbox.Maildir(self.path, create=True)
            key = box.add(email)
        except OSError as error:
            raise TransportError(f"cannot write to Maildir {self.path}: {error}") from error
        return DeliveryResult(provider_message_id=key)
