"""SMS through a Twilio-compatible REST API: ``POST {base}/Accounts/{sid}/Messages.json``.

Form-encoded ``To``, ``From`` and ``Body`` with HTTP basic auth (account SID and auth token), as
Twilio's Messages resource takes them. The base URL is the operator's (NETRAVEN_SMS_URL), never a
user's; 408, 429 and 5xx are retried, other refusals (a bad number) are permanent.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.notifications.channels.http import DEFAULT_TIMEOUT, RESPONSE_LIMIT, USER_AGENT

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


# The operator's provider URL: no proxies from the environment, no redirects followed.
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


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
        request = urllib.request.Request(  # noqa: S310 - the operator's http(s) URL (settings check it)
            self.config.messages_url,
            data=form.encode(),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": f"Basic {credentials}",
                "User-Agent": USER_AGENT,
            },
        )
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                answer = response.read(RESPONSE_LIMIT).decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            detail = error.read(512).decode("utf-8", "replace").strip() if error.fp else ""
            permanent = not (error.code in (408, 429) or error.code >= 500)
            raise TransportError(
                f"SMS API answered HTTP {error.code} {detail}".strip(), permanent=permanent
            ) from error
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise TransportError(f"cannot reach the SMS API: {getattr(error, 'reason', error)}") from error
        try:
            sid = str(json.loads(answer).get("sid") or "")
        except (ValueError, AttributeError):
            sid = ""
        return DeliveryResult(provider_message_id=(sid or f"sms:{message.message_id}")[:255])
