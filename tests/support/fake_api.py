"""A little HTTP API on 127.0.0.1 for the tests: the server part the SMS, PagerDuty and Opsgenie
lookalikes share; each says how it answers a POST (``FakeApi.answer``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def json_body(raw: bytes) -> Any:
    """The JSON of a request body, or None when it is not JSON."""
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


class FakeApi:
    """A JSON-answering API on a fixed port: ``answer`` decides on each POST (its path, headers with
    lower-case names, raw body); ``refused`` keeps the requests answered 300 or more."""

    def __init__(self, port: int):
        self.port = port
        self.accepted: list[dict[str, Any]] = []  # what the subclass took
        self.refused: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def reset(self) -> None:
        with self.lock:
            self.accepted.clear()
            self.refused.clear()

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with api.lock:
                    status, answer = api.answer(self.path, headers, raw)
                    if status >= 300:
                        api.refused.append((status, raw.decode(errors="replace")))
                encoded = json.dumps(answer).encode()
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
