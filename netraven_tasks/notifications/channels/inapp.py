"""In-app notifications: "sending" one stores it in the user's inbox (``GET /users/me/inbox``).

The inbox row is keyed by the outbox message's id, so a retried send stores it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.db import insert, session_factory
from netraven_tasks.models import utcnow
from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.notifications.channels.spec import (
    ChannelSpec,
    Delivery,
    MessageSource,
    Recipient,
    flag_preference,
)
from netraven_tasks.schedules.models import InboxItem
from netraven_tasks.settings import Settings


class InAppChannel(Channel):
    name = "inapp"

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        if message.user_id is None:
            raise TransportError("an in-app message needs its recipient's user id", permanent=True)
        link, event = (message.payload or {}).get("url"), (message.payload or {}).get("event")
        with self.sessions.begin() as session:
            session.execute(
                insert(session, InboxItem)
                .values(
                    user_id=message.user_id,
                    message_id=message.message_id,
                    event=str(event).rpartition(".")[2][:16] if event else None,  # job.failed -> failed
                    subject=message.subject,
                    body=message.text,
                    link=link if isinstance(link, str) else None,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["message_id"])
            )
            item_id = session.scalar(select(InboxItem.id).where(InboxItem.message_id == message.message_id))
        return DeliveryResult(provider_message_id=f"inbox:{item_id}")


class InAppSpec(ChannelSpec):
    """The dashboard's inbox (``inapp_notifications``): what the user is told at once, kept there."""

    name = "inapp"
    title = "In-app"
    position = 50
    preferences = (flag_preference("inapp_notifications"),)  # the dashboard's inbox (GET /users/me/inbox)

    def delivery(
        self, recipient: Recipient, prefs: Mapping[str, Any], event: str, *, alert: bool
    ) -> Delivery | None:
        return self.at_once(recipient, str(recipient.user_id)) if prefs.get("inapp_notifications") else None

    def payload(self, source: MessageSource) -> dict[str, Any] | None:
        return source.data  # its event and link

    def transport(self, settings: Settings) -> Channel:
        return InAppChannel(session_factory(settings))


CHANNEL = InAppSpec()
