"""Email over SMTP (``NETRAVEN_SMTP_URL``): plain, STARTTLS, implicit TLS, auth, timeouts.

One connection is opened on the first message of a batch and reused until ``close()``. The
envelope recipient is the outbox row's address alone, so no header can add a recipient.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from marshmallow import fields, validate

from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.notifications.channels.maildir import MaildirChannel
from netraven_tasks.notifications.channels.mime import build_email, envelope_address
from netraven_tasks.notifications.channels.spec import (
    CONFIG_CHANGED,
    IMMEDIATE,
    ChannelSpec,
    Delivery,
    Preference,
    Recipient,
    StrictBoolean,
)
from netraven_tasks.notifications.rendering import RenderedMessage
from netraven_tasks.settings import Settings

DEFAULT_TIMEOUT = 30.0
FREQUENCIES = (IMMEDIATE, "hourly", "daily")
# Replies that an operator can fix (credentials, TLS): the message itself is fine, so retry it.
_FIXABLE_5XX = frozenset({530, 534, 535, 538})


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    verify: bool = True
    cafile: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """``smtp://[user:pass@]host[:port][?starttls=1&timeout=10&verify=0&cafile=…]``,
        ``smtp+starttls://…`` or ``smtps://…`` (implicit TLS, port 465 by default)."""
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        scheme = parts.scheme.lower()
        if scheme not in {"smtp", "smtps", "smtp+starttls", "smtp+tls"}:
            raise ValueError(f"NETRAVEN_SMTP_URL: unsupported scheme {scheme!r}; use smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("NETRAVEN_SMTP_URL must name a host, e.g. smtp://mail.example.com:587")
        implicit = scheme == "smtps"
        starttls = scheme in {"smtp+starttls", "smtp+tls"} or _flag(query.get("starttls"))
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587 if starttls else 25),
            implicit_tls=implicit,
            starttls=starttls and not implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=float(query.get("timeout", DEFAULT_TIMEOUT)),
            verify=_flag(query.get("verify", "1")),
            cafile=query.get("cafile"),
        )

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cafile)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _flag(raw: str | None) -> bool:
    return (raw or "").strip().lower() in {"1", "true", "yes", "on"}


class SmtpChannel(Channel):
    """Sends each message with MAIL/RCPT/DATA on one connection kept open for the batch."""

    name = "email"

    def __init__(self, config: SmtpConfig, mail_from: str):
        self.config = config
        self.mail_from = mail_from
        self.sender = parseaddr(mail_from)[1] or mail_from
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        local = socket.gethostname()
        smtp: smtplib.SMTP
        if config.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, local, timeout=config.timeout, context=config.tls_context()
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, local, timeout=config.timeout)
        try:
            smtp.ehlo()
            if config.starttls:
                smtp.starttls(context=config.tls_context())
                smtp.ehlo()
            if config.username:
                smtp.login(config.username, config.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        recipient = envelope_address(message.address)
        payload = build_email(message, self.mail_from).as_bytes()
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            smtp = self._smtp
            code, reply = smtp.mail(self.sender)
            if code != 250:
                self._reset()
                raise smtplib.SMTPSenderRefused(code, reply, self.sender)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                self._reset()
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            code, reply = smtp.data(payload)
            if code != 250:
                self._reset()
                raise smtplib.SMTPDataError(code, reply)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise TransportError(
                f"recipient refused: {code} {_text(reply)}", permanent=code >= 500
            ) from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code == 421 or isinstance(error, smtplib.SMTPConnectError):
                self._drop()
            permanent = error.smtp_code >= 500 and error.smtp_code not in _FIXABLE_5XX
            raise TransportError(
                f"SMTP {error.smtp_code} {_text(error.smtp_error)}", permanent=permanent
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            raise TransportError(f"SMTP {type(error).__name__}: {error}") from error
        return DeliveryResult(provider_message_id=_text(reply)[:255] or message.message_id)

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _switch(name: str, description: str | None = None) -> Preference:
    """A required on/off preference, on by default."""
    metadata = {"description": description} if description else {}
    return Preference(
        name,
        field=lambda: StrictBoolean(required=True, metadata=metadata),
        stored=lambda: fields.Boolean(required=True),
        default=True,
    )


class EmailSpec(ChannelSpec):
    """Mail to the account's address: at once, or into the hourly or daily digest.

    ``email_on_job_completion`` and ``email_on_job_failure`` are named for mail but filter the job
    outcomes of every channel (``recipients.wants_outcome``)."""

    name = "email"
    title = "Email"
    position = 10
    held_in_quiet_hours = True
    preferences = (
        _switch("email_notifications", "any mail at all"),
        _switch("email_on_job_completion"),
        _switch("email_on_job_failure"),
        Preference(
            "notification_frequency",
            field=lambda: fields.String(
                required=True,
                validate=validate.OneOf(FREQUENCIES, error=f"must be one of {', '.join(FREQUENCIES)}"),
                metadata={"description": "immediate mails, or one hourly or daily digest"},
            ),
            stored=lambda: fields.String(required=True),
            default=IMMEDIATE,
        ),
    )

    @staticmethod
    def takes_mail(prefs: Mapping[str, Any]) -> bool:
        """Whether the user takes any mail at all: job outcomes, alerts and digests."""
        return bool(prefs.get("email_notifications", True))

    def delivery(
        self, recipient: Recipient, prefs: Mapping[str, Any], event: str, *, alert: bool
    ) -> Delivery | None:
        if not self.takes_mail(prefs) or not recipient.email:
            return None
        if alert:  # at once, whatever the digest pace: an alert is about a failure or its end,
            # or a configuration change (its own preference, notify_on_config_change, decides)
            wanted = event == CONFIG_CHANGED or prefs.get("email_on_job_failure", True)
            return self.at_once(recipient, recipient.email) if wanted else None
        frequency = prefs.get("notification_frequency", IMMEDIATE)
        if frequency not in FREQUENCIES:
            frequency = IMMEDIATE  # a corrupt value must not swallow the mail
        return Delivery(recipient.user_id, self.name, recipient.email, frequency)

    def html(self, rendered: RenderedMessage) -> str | None:
        return rendered.html

    def transport(self, settings: Settings) -> Channel:
        """SMTP when NETRAVEN_SMTP_URL is set, else the local Maildir."""
        if settings.smtp_url:
            return SmtpChannel(SmtpConfig.from_url(settings.smtp_url), settings.mail_from)
        return MaildirChannel(settings.maildir, settings.mail_from)


CHANNEL = EmailSpec()
