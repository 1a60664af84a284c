"""``reachability_check``: can a TCP connection be opened to host:port, and how fast."""

from __future__ import annotations

import socket
import time
from typing import Any

from marshmallow import Schema, fields, validate

from netraven_tasks.jobs.registry import job_type
from netraven_tasks.jobs.retry_policy import RetryPolicy

HOSTNAME = validate.Regexp(r"^[A-Za-z0-9_.:\-\[\]]{1,253}$", error="host must be a hostname or IP")


class ReachabilityArguments(Schema):
    host = fields.String(required=True, validate=HOSTNAME)
    port = fields.Integer(load_default=22, validate=validate.Range(1, 65535))
    timeout = fields.Float(load_default=5.0, validate=validate.Range(0.05, 60))


@job_type(
    "reachability_check",
    arguments=ReachabilityArguments,
    # A refused connection is an answer; only a silent network deserves another try.
    policy=RetryPolicy(max_attempts=3, backoff_base=5, backoff_max=60, retry_on=(TimeoutError,)),
    time_limit=120,
    criticality="critical",  # an unreachable device is an outage
)
def reachability_check(host: str, port: int = 22, timeout: float = 5.0) -> dict[str, Any]:
    """Open a TCP connection to host:port and report the latency."""
    started = time.perf_counter()
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout) as conn:
            peer = conn.getpeername()
    except TimeoutError:
        raise TimeoutError(f"no answer from {host}:{port} within {timeout:g}s") from None
    except ConnectionRefusedError:
        raise ConnectionRefusedError(f"{host}:{port} refused the connection") from None
    latency_ms = (time.perf_counter() - started) * 1000
    return {"host": host, "port": port, "address": peer[0], "latency_ms": round(latency_ms, 3)}
