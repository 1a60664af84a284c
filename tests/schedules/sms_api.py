"""A Twilio-compatible Messages API on 127.0.0.1 for the tests: checks what Twilio would check.

``POST /2010-04-01/Accounts/{sid}/Messages.json`` with HTTP basic auth (SID, token) and a
form-encoded ``To``, ``From`` and ``Body``; answers 201 with the message's JSON (its ``sid``), or
401/400 like Twilio when the credentials or the form are wrong.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import parse_qs

from tests.support.fake_api import FakeApi


class SmsApi(FakeApi):
    def __init__(self, port: int, account_sid: str, auth_token: str):
        super().__init__(port)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages = self.accepted  # accepted ones: To, From, Body and their sid

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        form_type = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        form = parse_qs(raw.decode(), keep_blank_values=True) if form_type else {}
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found"}
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if headers.get("authorization", "") != f"Basic {expected}":
            return 401, {"code": 20003, "message": "Authenticate"}
        fields = {key: values[0] for key, values in form.items() if len(values) == 1}
        if set(fields) != {"To", "From", "Body"} or not fields["Body"] or not fields["To"].startswith("+"):
            return 400, {"code": 21604, "message": f"bad form: {sorted(form)}"}
        sid = "SM" + uuid.uuid4().hex
        self.messages.append({**fields, "sid": sid})
        return 201, {
            "sid": sid,
            "status": "queued",
            "to": fields["To"],
            "from": fields["From"],
            "body": fields["Body"],
        }
