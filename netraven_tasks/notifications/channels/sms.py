"""SMS through a Twilio-compatible REST API: ``POST {base}/Accounts/{sid}/Messages.json``.

Form-encoded ``To``, ``From`` and ``Body`` with HTTP basic auth (account SID and auth token), as
Twilio's Messages resource takes them. The base URL is the operator's (NETRAVEN_SMS_URL), never a
user's; 408, 429 and 5xx are retried, other refusals (a bad number) are permanent.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields

from netraven_tasks.notifications.channels.base import Channel, DeliveryResult, OutgoingMessage
from netraven_tasks.notifications.channels.http import DEFAULT_TIMEOUT, post_to_service
from netraven_tasks.notifications.channels.spec import (
    ChannelSpec,
    Delivery,
    Preference,
    Recipient,
    flag_preference,
)
from netraven_tasks.notifications.rendering import RenderedMessage, header_value
from netraven_tasks.settings import Settings

BODY_LIMIT = 320
SMS_LIMIT = 300  # what planning puts in a message: two or three SMS segments at most
SMS_EVENTS = frozenset({"failed", "missed", "recovered"})  # short texts for these only


@dataclass(frozen=True)
class SmsConfig:
    base_url: str
    account_sid: str
    auth_token: str
    sender: str

    @property
    def messages_url(self) -> str:
        sid = urllib.parse.quote(self.account_sid, safe="")
        return f"{self.base_url.rstrip('/')}/Accounts/{sid}/Messages.json"


class SmsChannel(Channel):
    name = "sms"

    def __init__(self, config: SmsConfig, timeout: float = DEFAULT_TIMEOUT):
        self.config = config
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        body = (message.text or message.subject)[:BODY_LIMIT]
        form = urllib.parse.urlencode({"To": message.address, "From": self.config.sender, "Body": body})
        credentials = base64.b64encode(
            f"{self.config.account_sid}:{self.config.auth_token}".encode()
        ).decode()
        # The operator's provider URL (settings check it), not a user's.
        response = post_to_service(
            self.config.messages_url,
            form.encode(),
            service="the SMS API",
            headers={"Authorization": f"Basic {credentials}"},
            content_type="application/x-www-form-urlencoded",
            timeout=self.timeout,
        )
        answer = response.body.decode("utf-8", "replace")
        try:
            sid = str(json.loads(answer).get("sid") or "")
        except (ValueError, AttributeError):
            sid = ""
        return DeliveryResult(provider_message_id=(sid or f"sms:{message.message_id}")[:255])


def sms_text(subject: str) -> str:
    return header_value(subject, SMS_LIMIT)


def check_e164(value: str) -> None:
    """An SMS number in E.164 form (``+`` and digits) that is a valid number (phonenumbers)."""
    import phonenumbers

    hint = "must be an E.164 number such as +4915112345678"
    if not value.startswith("+") or not value[1:].isdigit() or len(value) > 16:
        raise ValidationError(hint)
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(hint) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"{hint} (this one is not a valid number)")


class SmsSpec(ChannelSpec):
    """Short texts to ``sms_number`` (E.164) for failures, missed runs and recoveries, when
    ``sms_on_job_failure`` is on and the operator configured NETRAVEN_SMS_*."""

    name = "sms"
    title = "SMS"
    position = 40
    preferences = (
        Preference(
            "sms_number",
            field=lambda: fields.String(allow_none=True, load_default=None, validate=check_e164),
            stored=lambda: fields.String(allow_none=True),
            default=None,  # E.164, e.g. +4915112345678
        ),
        flag_preference("sms_on_job_failure"),
    )

    def delivery(
        self, recipient: Recipient, prefs: Mapping[str, Any], event: str, *, alert: bool
    ) -> Delivery | None:
        number = prefs.get("sms_number")
        if event in SMS_EVENTS and prefs.get("sms_on_job_failure") and isinstance(number, str) and number:
            return self.at_once(recipient, number)
        return None

    def text(self, rendered: RenderedMessage) -> str:
        return sms_text(rendered.subject)

    def transport(self, settings: Settings) -> Channel | None:
        if not (
            settings.sms_url and settings.sms_account_sid and settings.sms_auth_token and settings.sms_from
        ):
            return None
        return SmsChannel(
            SmsConfig(settings.sms_url, settings.sms_account_sid, settings.sms_auth_token, settings.sms_from)
        )


CHANNEL = SmsSpec()
