"""The one MIME message every email transport sends (SMTP and the local Maildir alike)."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses

from netraven_tasks.notifications.channels.base import OutgoingMessage, TransportError
from netraven_tasks.notifications.rendering import header_value

# RFC 5322's hard limit: our subjects (at most 200 characters) are never folded, because
# Python folds some of them with a leading space the reader then shows.
MAIL_POLICY = SMTP_POLICY.clone(max_line_length=998)


def envelope_address(address: str) -> str:
    """The one bare address of a recipient; anything else (two addresses, line breaks) is refused."""
    if any(c in address for c in "\r\n\0") or not address.strip():
        raise TransportError(f"invalid recipient address {address!r}", permanent=True)
    found = [a for _, a in getaddresses([address]) if a]
    if len(found) != 1 or "@" not in found[0]:
        raise TransportError(f"recipient must be exactly one address, got {address!r}", permanent=True)
    return found[0]


def build_email(message: OutgoingMessage, mail_from: str) -> EmailMessage:
    """A MIME message with a text part and, if given, an HTML alternative; every header sanitised."""
    email = EmailMessage(policy=MAIL_POLICY)
    email["Subject"] = header_value(message.subject)
    email["From"] = header_value(mail_from, 320)
    email["To"] = envelope_address(message.address)
    email["Date"] = formatdate(usegmt=True)
    if message.message_id:
        email["Message-ID"] = header_value(message.message_id, 255)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email
