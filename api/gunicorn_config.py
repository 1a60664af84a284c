"""gunicorn settings of the API (``netraven-tasks api`` loads them with ``-c python:api.gunicorn_config``).

gunicorn supervises the processes (restarts, graceful stops); each process serves with uvicorn on
an asyncio loop (``ApiWorker``), so an idle or slow connection holds a coroutine, not a thread:
a request's head must arrive within ``NETRAVEN_REQUEST_HEAD_SECONDS`` (api/http_protocol.py), its
body within ``NETRAVEN_REQUEST_BODY_SECONDS``, whole, before a thread runs the app (api/asgi.py).
Every answer the server gives itself (400, 408, 413) is JSON like the app's.
"""

from __future__ import annotations

import logging
import resource
from functools import partial
from typing import Any

from uvicorn_worker import UvicornWorker

from api.http_protocol import MAX_HEAD_BYTES, DeadlineH11Protocol
from netraven_tasks.settings import get_settings

worker_class = "api.gunicorn_config.ApiWorker"
timeout = 30  # a worker whose event loop is silent this long is restarted
graceful_timeout = 20
keepalive = 5  # seconds an idle keep-alive connection is kept
# Recent gunicorn opens a control socket at one path per user (~/.gunicorn/gunicorn.ctl): every API
# on the machine would take it over from the last. Processes are driven by signals here.
control_socket_disable = True
# Each slow client holds a socket: a soft limit of 1024 would cap the connections below that.
OPEN_FILES = 65536


class ApiWorker(UvicornWorker):
    """uvicorn in a gunicorn worker, with our connection protocol and no proxy trust."""

    CONFIG_KWARGS = {
        "loop": "asyncio",
        "http": DeadlineH11Protocol,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "lifespan": "off",
        # The client address is the peer's: X-Forwarded-For is trusted only where a deployment
        # adds werkzeug's ProxyFix (the sign-in limits count per address).
        "proxy_headers": False,
        "server_header": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The settings are read once per worker process; each connection gets the head deadline.
        head_seconds = get_settings().request_head_seconds
        self.CONFIG_KWARGS = {
            **self.CONFIG_KWARGS,
            "http": partial(DeadlineH11Protocol, head_seconds=head_seconds),
        }
        super().__init__(*args, **kwargs)
        # Each access line names the worker process that answered (which one is stuck, which one
        # counted a sign-in): uvicorn's own line has no process id.
        for handler in logging.getLogger("uvicorn.access").handlers:
            handler.setFormatter(logging.Formatter("pid=%(process)d %(message)s"))


def on_starting(server: Any) -> None:
    # In the master, before workers fork: they inherit the raised limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
