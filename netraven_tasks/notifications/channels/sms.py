"""SMS through a Twilio-compatible REST API: ``POST {base}/Accounts/{sid}/Messages.json``.

Form-encoded ``To``, ``From`` and ``Body`` with HTTP basic auth (account SID and auth token), as
Twilio's Messages resource takes them. The base URL is the operator's (NETRAVEN_SMS_URL), never a
user's; 408, 429 and 5xx are retried, other refusals (a bad number) are permanent.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass

from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.notifications.channels.http import (
    DEFAULT_TIMEOUT,
    HttpStatusError,
    request,
    retryable_status,
)
from netraven_tasks.notifications.url_safety import AddressPolicy

BODY_LIMIT = 320


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
        try:
            # The operator's provider URL (settings check it), not a user's: any address, no
            # proxies from the environment, no redirects followed.
            response = request(
                self.config.messages_url,
                policy=AddressPolicy(allow_private=True),
                method="POST",
                body=form.encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Authorization": f"Basic {credentials}",
                },
                timeout=self.timeout,
                truncate=True,
            )
        except HttpStatusError as error:
            raise TransportError(
                f"SMS API answered {error}", permanent=not retryable_status(error.status)
            ) from error
        except (OSError, ValueError) as error:
            raise TransportError(f"cannot reach the SMS API: {error}") from error
        answer = response.body.decode("utf-8", "replace")
        try:
            sid = str(json.loads(answer).get("sid") or "")
        except (ValueError, AttributeError):
            sid = ""
        return DeliveryResult(provider_message_id=(sid or f"sms:{message.message_id}")[:255])
