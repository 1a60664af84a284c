"""A small Celery app of its own, as a team would already have one, and the one line that tracks it.

The tasks are written in the style of Netmiko jobs (connect to a device, send a command, keep its
answer) but speak plain TCP to loopback only, so the example runs without a network:
``backup_config`` asks a device (``fake_device.py``) for its running configuration and keeps it
under ``NETMIKO_STYLE_BACKUP_DIR``; ``check_reachability`` opens a TCP connection.

Its broker is its own (``NETMIKO_STYLE_BROKER_URL``), and so is its queue: NetRaven only needs its
own ``NETRAVEN_*`` settings in the environment of the processes that import this module.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import time
from pathlib import Path
from typing import Any

from celery import Celery

from netraven_tasks import track
from netraven_tasks.jobs import RetryPolicy

app = Celery(
    "netmiko_style",
    broker=os.environ.get("NETMIKO_STYLE_BROKER_URL", "redis://127.0.0.1:6379/0"),
    set_as_current=False,
)
app.conf.update(
    task_default_queue="netmiko_style",  # its own queue: never NetRaven's workers' messages
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,  # a killed worker's job runs again, as NetRaven's own jobs do
    task_reject_on_worker_lost=True,
    worker_hijack_root_logger=False,
)

BACKUP_DIR = Path(os.environ.get("NETMIKO_STYLE_BACKUP_DIR", "var/netmiko_style/backups"))
PROMPT = b"# "


def loopback(host: str) -> str:
    """The example talks to loopback only: ``host`` must be a loopback address."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"{host!r} is not a loopback address: this example only talks to 127.0.0.1 or ::1")


def send_command(host: str, port: int, command: str, timeout: float) -> str:
    """Netmiko's ``send_command`` over plain TCP: send one line, read the answer up to the prompt."""
    with socket.create_connection((loopback(host), port), timeout=timeout) as connection:
        connection.sendall(command.encode() + b"\n")
        answer = b""
        while not answer.endswith(PROMPT):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.removesuffix(PROMPT).decode(errors="replace")


@app.task(name="netmiko_style.backup_config")
def backup_config(host: str, port: int = 2222, timeout: float = 5.0) -> dict[str, Any]:
    """Fetch the running configuration of a device and keep it on disk."""
    config = send_command(host, port, "show running-config", timeout)
    if not config.strip():
        raise RuntimeError(f"{host}:{port} sent an empty configuration")
    BACKUP_DIR.mkdir(parents=True, exist_ok=True)
    path = BACKUP_DIR / f"{host}-{port}.cfg"
    path.write_text(config)
    return {
        "host": host,
        "lines": len(config.splitlines()),
        "sha256": hashlib.sha256(config.encode()).hexdigest(),
        "path": str(path),
    }


@app.task(name="netmiko_style.check_reachability")
def check_reachability(host: str, port: int = 22, timeout: float = 5.0) -> dict[str, Any]:
    """Open a TCP connection to a device and report the latency."""
    started = time.perf_counter()
    try:
        with socket.create_connection((loopback(host), port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        raise ConnectionRefusedError(f"{host}:{port} refused the connection") from None
    return {"host": host, "port": port, "latency_ms": round((time.perf_counter() - started) * 1000, 3)}


@app.task(name="netmiko_style.rotate_logs")
def rotate_logs() -> int:
    """Housekeeping that is nobody's job run: not named in track(), so never tracked."""
    return 0


# The one line NetRaven needs: these two tasks become job types named after them, their device
# is their `host` argument, and a silent network gets two more attempts.
track(
    app,
    tasks=["netmiko_style.backup_config", "netmiko_style.check_reachability"],
    device_arg="host",
    retry=RetryPolicy(max_attempts=3, backoff_base=1, backoff_max=10, retry_on=(TimeoutError,)),
)
