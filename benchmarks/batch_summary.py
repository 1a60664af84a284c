"""``batch_summary_lag_s``: how long after a batch's last child settles its one summary mail
reaches the SMTP server, through the real API, worker, recorder, outbox and aiosmtpd on loopback;
beside it, in the same run, the same lag for a single run's outcome mail (the baseline).

Each batch runs ``reachability_check`` over devices on loopback: most at 127.0.0.1, where the
benchmark listens, a few at 127.0.0.2, which refuses, so the summary lists failed devices.
"""

from __future__ import annotations

import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import sessionmaker

from benchmarks.queries import Api, _user_token
from benchmarks.query_digest import smtp_server
from benchmarks.query_setup import services
from benchmarks.scratch import scratch_database
from netraven_tasks.settings import Settings

ROUNDS, QUICK_ROUNDS = 5, 3
DEVICES, QUICK_DEVICES = 200, 50
FAILING_EVERY = 20  # one device in 20 refuses
SINGLES = 5
TARGET_LAG_S = 2.0
WAIT_S = 60


@dataclass
class TimedMail:
    """When each message arrived (wall clock), by subject."""

    arrived: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.time()
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        with self.lock:
            self.arrived.setdefault(str(message["Subject"]), []).append(at)
        return "250 OK"

    def wait(self, subject: str) -> float:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with self.lock:
                if subject in self.arrived:
                    return self.arrived[subject][0]
            time.sleep(0.01)
        raise RuntimeError(f"no mail {subject!r} within {WAIT_S} s; got {sorted(self.arrived)[:5]}")


def _add_devices(sessions: sessionmaker[Any], count: int) -> None:
    from netraven_tasks.devices.models import Device

    with sessions.begin() as session:
        session.execute(
            insert(Device),
            [{"name": f"lag-{i:04d}", "address": "127.0.0.2" if i % FAILING_EVERY == 0 else "127.0.0.1",
              "platform": "generic", "site": "FRA", "enabled": True} for i in range(count)],
        )  # fmt: skip


def _finished_at(sessions: sessionmaker[Any], model: Any, row_id: int) -> float:
    """When the row settled (the recorder's commit), as a wall-clock timestamp."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with sessions() as session:
            finished: datetime | None = session.scalar(select(model.finished_at).where(model.id == row_id))
        if finished is not None:
            return finished.timestamp()
        time.sleep(0.02)
    raise RuntimeError(f"{model.__tablename__} {row_id} did not finish within {WAIT_S} s")


def _accept_forever(listener: socket.socket) -> None:
    """Answer every connection (then close it): a full backlog would time the checks out."""
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return  # closed at the end of the run
        connection.close()


def run(quick: bool) -> dict[str, Any]:
    from netraven_tasks.batches.models import Batch
    from netraven_tasks.models import JobLog

    rounds, count = (QUICK_ROUNDS, QUICK_DEVICES) if quick else (ROUNDS, DEVICES)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    threading.Thread(target=_accept_forever, args=(listener,), daemon=True).start()
    batch_lags: list[float] = []
    single_lags: list[float] = []
    with (
        scratch_database() as url,
        smtp_server(TimedMail()) as (smtp_url, mail),
        services(url, smtp_url) as running,
    ):
        running.env["NETRAVEN_DEVICE_CONCURRENCY"] = "1000"  # the devices share two addresses
        running.start_worker()  # stopped with the API by services()
        engine = create_engine(url)
        try:
            settings = Settings.from_env({k: v for k, v in running.env.items() if k.startswith("NETRAVEN_")})
            sessions = sessionmaker(engine)
            admin = Api(running.base_url, _user_token(settings, sessions, "lag-admin", True))
            _add_devices(sessions, count)
            failing = len(range(0, count, FAILING_EVERY))
            for _ in range(rounds):
                response = admin.http.post(
                    f"{running.base_url}/jobs/reachability_check/batches",
                    json={"targets": {"site": "FRA"}, "arguments": {"port": port, "timeout": 5}},
                    timeout=60,
                )
                response.raise_for_status()
                batch_id = response.json()["batch_id"]
                settled = _finished_at(sessions, Batch, batch_id)
                subject = (
                    f"NetRaven: reachability_check on {count} devices: "
                    f"{count - failing} completed, {failing} failed"
                )
                arrived = mail.wait(subject)
                mail.arrived.pop(subject)
                batch_lags.append(arrived - settled)
            for _ in range(SINGLES):
                job_log_id = admin.launch("reachability_check", host="127.0.0.2", port=port, timeout=5)
                settled = _finished_at(sessions, JobLog, job_log_id)
                subject = "NetRaven job failed: reachability_check on 127.0.0.2"
                single_lags.append(mail.wait(subject) - settled)
                mail.arrived.pop(subject)
        except Exception:
            log = running.var_dir / "worker.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "no worker log"
            print(tail, file=sys.stderr)
            raise
        finally:
            engine.dispose()
            listener.close()
    lag = statistics.median(batch_lags)
    baseline = statistics.median(single_lags)
    rows = [
        [f"batch_summary_lag_s (last child settled → summary at SMTP; {count} devices, median of "
         f"{rounds}, max {max(batch_lags):.2f} s)", f"{lag:.2f} s",
         f"{baseline:.2f} s (one run's outcome mail)", f"< {TARGET_LAG_S} s"],
    ]  # fmt: skip
    return {
        "rows": rows,
        "json": {
            "batch_summary_lag_s": round(lag, 3),
            "batch_summary_lag_max_s": round(max(batch_lags), 3),
            "batch_summary_single_run_lag_s": round(baseline, 3),
            "batch_summary_devices": count,
        },
    }
