"""gunicorn settings of the API (``netraven-tasks api`` loads them with ``-c python:api.gunicorn_config``).

``gthread`` workers keep idle and keep-alive connections in a poller, not in a busy worker, so a few
silent clients cannot starve the API; ``timeout`` restarts a stuck worker. The errors gunicorn
answers itself (request line or headers too large, malformed requests) are JSON like the app's.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn import util
from gunicorn.workers import gthread

worker_class = "gthread"
threads = 32  # a thread is cheap; a new connection holds one until its first bytes arrive (below)
timeout = 30  # a worker silent this long is restarted
graceful_timeout = 20
keepalive = 5  # seconds an idle keep-alive connection is kept
# Above the app's own limits (api/request_limits.py), so the app answers most oversize requests;
# past these, gunicorn answers, in JSON too (below).
limit_request_line = 8190
limit_request_fields = 120
limit_request_field_size = 8190

MAX_DETAIL = 200
# gthread gives a silent new connection this long before parking it in the poller (default 5 s):
# a handful of idle clients would hold every thread for that long.
FIRST_BYTES_WAIT_SECONDS = 0.5


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error`` with the API's JSON error body instead of an HTML page."""
    message = (mesg or reason)[:MAX_DETAIL]
    body = json.dumps({"code": status_int, "status": reason, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def on_starting(server: Any) -> None:
    # In the master, before workers fork: every worker inherits the JSON writer.
    util.write_error = write_json_error
    gthread.DEFAULT_WORKER_DATA_TIMEOUT = FIRST_BYTES_WAIT_SECONDS
