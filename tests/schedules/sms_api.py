"""A Twilio-compatible Messages API on 127.0.0.1 for the tests: checks what Twilio would check.

``POST /2010-04-01/Accounts/{sid}/Messages.json`` with HTTP basic auth (SID, token) and a
form-encoded ``To``, ``From`` and ``Body``; answers 201 with the message's JSON (its ``sid``), or
401/400 like Twilio when the credentials or the form are wrong.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class SmsApi:
    def __init__(self, port: int, account_sid: str, auth_token: str):
        self.port = port
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, str]] = []  # accepted ones
        self.refused: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.refused.clear()

    def _answer(
        self, path: str, authorization: str, form: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any]]:
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found"}
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {"code": 20003, "message": "Authenticate"}
        fields = {key: values[0] for key, values in form.items() if len(values) == 1}
        if set(fields) != {"To", "From", "Body"} or not fields["Body"] or not fields["To"].startswith("+"):
            return 400, {"code": 21604, "message": f"bad form: {sorted(form)}"}
        sid = "SM" + uuid.uuid4().hex
        with self.lock:
            self.messages.append({**fields, "sid": sid})
        return 201, {
            "sid": sid,
            "status": "queued",
            "to": fields["To"],
            "from": fields["From"],
            "body": fields["Body"],
        }

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                form_type = self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"
                )
                form = parse_qs(raw.decode(), keep_blank_values=True) if form_type else {}
                status, body = api._answer(self.path, self.headers.get("Authorization", ""), form)
                if status != 201:
                    with api.lock:
                        api.refused.append((status, raw.decode(errors="replace")))
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
