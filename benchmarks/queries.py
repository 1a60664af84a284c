"""Benchmark section: statistics, /metrics, the active and filtered lists, visibility and purge at scale.

Everything is measured through the real API process (gunicorn) on a scratch database filled with
``generate_series``, beside a baseline measured in the same run: today's raw-row SQL for statistics
and /metrics, an API round trip (``/healthz``) for the lists, launches without a purge for the purge.
Sizes: --quick 1M job logs and 1,000 users; full 10M and 10,000 (about 25-35 minutes on 2 cores,
mostly filling and indexing the rows).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.query_digest import measure_digest, smtp_server
from benchmarks.query_setup import (
    ACTIVE_FILL,
    DEVICES,
    JOB_OWNERS,
    USERS,
    BenchDatabase,
    bench_database,
    services,
)
from netraven_tasks.models import utcnow
from netraven_tasks.settings import Settings

REQUESTS = 50
LATENESS = timedelta(hours=1)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) > 1 else samples[0]


def timed_ms(run: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


class Api:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(self.base_url + path, params=params, timeout=60)
        response.raise_for_status()
        return response.json() if "json" in response.headers.get("Content-Type", "") else response.text

    def p95_ms(self, path: str, times: int = REQUESTS, **params: Any) -> float:
        self.get(path, **params)  # warm: connection, caches
        return p95(timed_ms(lambda: self.get(path, **params), times))

    def launch(self, job_type: str, **arguments: Any) -> int:
        response = self.http.post(f"{self.base_url}/jobs/{job_type}/runs", json=arguments, timeout=30)
        response.raise_for_status()
        return int(response.json()["job_log_id"])


def _user_token(settings: Settings, sessions: sessionmaker[Session], name: str, admin: bool) -> str:
    from netraven_tasks.auth import issue_token
    from netraven_tasks.users import create_user

    with sessions.begin() as session:
        user = create_user(session, name, f"{name}@example.test", f"{name}-password-1", is_admin=admin)
        return issue_token(user, settings)


def _roll_up(sessions: sessionmaker[Session], *, everything: bool = False) -> float:
    """Seconds of one rollup run; ``everything``: re-roll every hour (as on the first run after an
    upgrade), since the generated rows carry their runs' old ``updated_at``."""
    from sqlalchemy import delete

    from netraven_tasks.rollups.recompute import roll_up
    from netraven_tasks.rollups.schema import rollup_state

    started = time.perf_counter()
    with sessions() as session:
        if everything:
            session.execute(delete(rollup_state))
        roll_up(session, utcnow(), LATENESS)
    return time.perf_counter() - started


STATISTICS_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("month", "month", {"time_period": "month"}),
    ("week", "week", {"time_period": "week"}),
    ("day", "day", {"time_period": "day"}),
    ("custom 90 days", "custom", {"days": 90}),
    ("month, one owner", "owner", {"time_period": "month", "owner": 3}),
    ("month, one device", "device", {"time_period": "month", "device": "dev-00042"}),
]


def _statistics_rows(
    api: Api, sessions: sessionmaker[Session], quick: bool
) -> tuple[list[list[Any]], dict[str, Any]]:
    from netraven_tasks.statistics import compute_statistics, make_window

    rows, figures = [], {}
    baseline_repeats = 3 if quick else 2
    for label, key, case in STATISTICS_CASES:
        params = dict(case)
        now = utcnow()
        since = None
        if "days" in params:
            since = now - timedelta(days=params.pop("days"))
            params.update(since=since.isoformat(), until=now.isoformat())
        measured = api.p95_ms("/job-logs/statistics", **params)
        window = make_window(now, case.get("time_period"), since, now if since else None,
                             device=case.get("device"), owner_id=case.get("owner"))  # fmt: skip
        with sessions() as session:
            raw = timed_ms(
                lambda w=window: compute_statistics(session, w, use_rollups=False),  # type: ignore[misc]
                baseline_repeats,
            )
        baseline = max(raw)
        rows.append([f"GET /job-logs/statistics {label}, p95 of {REQUESTS}", f"{measured:.1f} ms",
                     f"{baseline:.0f} ms (raw-row SQL, max of {baseline_repeats})", "< 50 ms"])  # fmt: skip
        figures[f"stats_{key}_p95_ms"] = round(measured, 2)
        figures[f"stats_{key}_baseline_ms"] = round(baseline, 1)
        print(f"statistics {label}: {measured:.1f} ms (raw {baseline:.0f} ms)", file=sys.stderr)
    figures["stats_p95_ms"] = figures["stats_month_p95_ms"]
    figures["stats_baseline_p95_ms"] = figures["stats_month_baseline_ms"]
    return rows, figures


def _metrics_ms(api: Api, sessions: sessionmaker[Session]) -> tuple[float, float]:
    from netraven_tasks.rollups.totals import raw_job_figures

    measured = api.p95_ms("/metrics", times=20)
    with sessions() as session:
        baseline = max(timed_ms(lambda: raw_job_figures(session), 2))
    return measured, baseline


def _visible_ms(api: Api, samples: int) -> list[float]:
    """Job start (its started_at, written by the worker's recorder) to seen running in /job-logs/active."""
    latencies = []
    for _ in range(samples):
        job_log_id = api.launch("bench_sleep", seconds=0.6)
        deadline = time.monotonic() + 15
        while True:
            if time.monotonic() > deadline:
                print(f"visibility: job log {job_log_id} never showed running; stopping", file=sys.stderr)
                return latencies
            page = api.get("/job-logs/active", page_size=100)
            mine = [row for row in page if row["id"] == job_log_id and row["status"] == "running"]
            if mine:
                seen = utcnow()
                started = datetime.fromisoformat(mine[0]["started_at"])
                latencies.append((seen - started).total_seconds() * 1000)
                break
            time.sleep(0.005)
        time.sleep(0.7)  # let it finish: the worker has two slots
    return latencies


def _purge(db: BenchDatabase, sessions: sessionmaker[Session], api: Api, expired: int) -> dict[str, Any]:
    from netraven_tasks.retention import purge_job_logs

    db.fill(50_000_001, 50_000_000 + expired, "old-", newest_hours_ago=100 * 24, span_days=30)
    quiet = [timed_ms(lambda: api.launch("bench_sleep", seconds=0), 1)[0] for _ in range(REQUESTS)]
    done = threading.Event()
    report: dict[str, Any] = {}

    def purge() -> None:
        started = time.perf_counter()
        report["deleted"], report["batches"] = purge_job_logs(sessions, utcnow() - timedelta(days=90))
        report["seconds"] = time.perf_counter() - started
        done.set()

    threading.Thread(target=purge, daemon=True).start()
    during: list[float] = []
    while not done.is_set():
        during += timed_ms(lambda: api.launch("bench_sleep", seconds=0), 1)
        time.sleep(0.02)
    report.update(
        quiet_p95=p95(quiet), during_p95=p95(during) if during else float("nan"), launches=len(during)
    )
    return report


def run(quick: bool) -> dict[str, Any]:
    size = 1_000_000 if quick else 10_000_000
    users = 1_000 if quick else 10_000
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {"rows": size, "users": users}
    with bench_database() as db:
        sessions = sessionmaker(db.engine, expire_on_commit=False)
        db.execute(USERS, count=users)
        db.fill(1, size // 2, "b-")
        half_rollup = _roll_up(sessions, everything=True)
        with smtp_server() as (smtp_url, mail), services(db.url, smtp_url) as running:
            settings = Settings.from_env({k: v for k, v in running.env.items() if k.startswith("NETRAVEN_")})
            admin = Api(running.base_url, _user_token(settings, sessions, "bench-admin", True))
            metrics_half, metrics_half_baseline = _metrics_ms(admin, sessions)
            db.fill(size // 2 + 1, size, "b-")
            full_rollup = _roll_up(sessions, everything=True)
            db.execute(ACTIVE_FILL, count=1000, devices=DEVICES, owners=JOB_OWNERS)
            db.analyze()
            incremental = _roll_up(sessions) * 1000
            metrics_full, metrics_full_baseline = _metrics_ms(admin, sessions)
            floor = admin.p95_ms("/healthz")
            rows.append([f"GET /metrics at {size // 2:,} rows, p95 of 20", f"{metrics_half:.1f} ms",
                         f"{metrics_half_baseline:.0f} ms (full scan)", "< 50 ms"])  # fmt: skip
            rows.append([f"GET /metrics at {size:,} rows, p95 of 20", f"{metrics_full:.1f} ms",
                         f"{metrics_full_baseline:.0f} ms (full scan)", "< 50 ms, flat"])  # fmt: skip
            stat_rows, stat_figures = _statistics_rows(admin, sessions, quick)
            rows += stat_rows
            active = admin.p95_ms("/job-logs/active")
            listed = admin.p95_ms("/job-logs", status="failed", device="dev-00050")
            rows.append([f"GET /job-logs/active, 1,000 active, p95 of {REQUESTS}", f"{active:.1f} ms",
                         f"{floor:.1f} ms (/healthz)", "< 20 ms"])  # fmt: skip
            rows.append([f"GET /job-logs?status=failed&device=… page 1, p95 of {REQUESTS}",
                         f"{listed:.1f} ms", f"{floor:.1f} ms (/healthz)", "< 30 ms"])  # fmt: skip
            running.start_worker()
            watcher = Api(running.base_url, _user_token(settings, sessions, "bench-visible", False))
            visible = _visible_ms(watcher, 20)
            rows.append([f"job start → running in /job-logs/active, p95 of {len(visible)}",
                         f"{p95(visible):.0f} ms" if visible else "no sample",
                         "—", "< 250 ms"])  # fmt: skip
            digest = measure_digest(db, running, mail, users)
            rows.append([f"hourly digest, {users:,} users x 20 items, to aiosmtpd on loopback",
                         f"{digest['seconds']:.1f} s, {digest['messages']:,} messages to "
                         f"{digest['recipients']:,} users on "
                         f"{digest['connections']} connection(s)",
                         f"{digest['made_seconds']:.1f} s making them (while sending)",
                         f"< 60 s, exactly {users:,}"])  # fmt: skip
            purge = _purge(db, sessions, admin, size // 2)
            rows.append([f"retention purge of {purge['deleted']:,} expired rows ({purge['batches']} batches)",
                         f"{purge['seconds']:.1f} s; launch p95 during it {purge['during_p95']:.1f} ms "
                         f"({purge['launches']} launches)", f"launch p95 {purge['quiet_p95']:.1f} ms without",
                         "writers not blocked"])  # fmt: skip
        rows.append(["rollup of every hour (initial), then of the changed hours", f"{full_rollup:.1f} s",
                     f"{incremental:.0f} ms incremental", "—"])  # fmt: skip
        figures.update(stat_figures)
        figures.update(
            metrics_ms=round(metrics_full, 2),
            metrics_half_ms=round(metrics_half, 2),
            metrics_baseline_ms=round(metrics_full_baseline, 1),
            active_p95_ms=round(active, 2),
            list_p95_ms=round(listed, 2),
            api_floor_p95_ms=round(floor, 2),
            visible_p95_ms=round(p95(visible), 1) if visible else None,
            purge_rows=purge["deleted"],
            purge_s=round(purge["seconds"], 1),
            purge_launch_p95_ms=round(purge["during_p95"], 1),
            purge_launch_baseline_p95_ms=round(purge["quiet_p95"], 1),
            rollup_initial_s=round(full_rollup, 1),
            rollup_half_s=round(half_rollup, 1),
            rollup_incremental_ms=round(incremental, 1),
            digest_10k_s=round(digest["seconds"], 1),
            digest_messages=digest["messages"],
            digest_recipients=digest["recipients"],
            digest_connections=digest["connections"],
        )
    return {"rows": rows, "json": figures}
