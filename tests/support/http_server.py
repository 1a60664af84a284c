"""A local HTTP server for tests that counts every request it gets (and may redirect elsewhere)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CountingServer:
    def __init__(self, server: ThreadingHTTPServer):
        self.server = server
        self.hits: list[str] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"


@contextmanager
def counting_server(
    host: str = "127.0.0.1", body: bytes = b"hostname sw\n", redirect_to: str | None = None
) -> Iterator[CountingServer]:
    holder: dict[str, CountingServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            holder["server"].hits.append(self.path)
            if redirect_to:
                self.send_response(302)
                self.send_header("Location", redirect_to)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    counting = holder["server"] = CountingServer(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield counting
    finally:
        server.shutdown()
        server.server_close()
