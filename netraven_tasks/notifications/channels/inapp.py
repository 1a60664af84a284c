"""In-app notifications: "sending" one stores it in the user's inbox (``GET /users/me/inbox``).

The inbox row is keyed by the outbox message's id, so a retried send stores it once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.models import utcnow
from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.schedules.models import InboxItem


class InAppChannel(Channel):
    name = "inapp"

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        if message.user_id is None:
            raise TransportError("an in-app message needs its recipient's user id", permanent=True)
        link, event = (message.payload or {}).get("url"), (message.payload or {}).get("event")
        with self.sessions.begin() as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            session.execute(
                insert(InboxItem)
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
