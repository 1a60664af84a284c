"""The systemd units in deploy/systemd: run their ExecStart lines and stop them the way systemd does.

KillMode=mixed sends SIGTERM to the main process only; the default control-group sends it to every
process of the service at once (the pool children too). Both must end promptly when idle.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SPARE_REDIS_URL, TEST_ENV, eventually, free_port, until_ready

UNITS = ROOT / "deploy" / "systemd"
VENV_BIN = Path(sys.executable).parent
IDLE_STOP_SECONDS = 10
# Busy: the running jobs (instant here) finish, the pool is torn down; margin for a loaded CI box.
BUSY_STOP_SECONDS = 20


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


def exec_start(name: str, **replace: str) -> list[str]:
    line = unit(name)["Service"]["ExecStart"].replace("/opt/netraven/.venv/bin/", f"{VENV_BIN}/")
    for old, new in replace.items():
        line = line.replace(old, new)
    return shlex.split(line)


@pytest.mark.parametrize("name", ["netraven-worker.service", "netraven-beat.service", "netraven-api.service"])
def test_units_use_mixed_kill_mode_and_a_command_that_exists(name):
    service = unit(name)["Service"]
    assert service["KillMode"] == "mixed" and service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) >= 30
    assert Path(exec_start(name)[0]).exists()


def start(command: list[str], env: dict[str, str], ready: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    # A session of its own, like a service's control group: killpg reaches every process of it.
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    try:
        until_ready(process, lambda: ready in log.read_text(errors="replace"), str(command), log.read_text)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return process


def stop_like_systemd(process: subprocess.Popen[bytes], kill_mode: str) -> float:
    """Seconds until the main process exited; SIGKILL to the rest afterwards (as systemd does)."""
    started = time.monotonic()
    if kill_mode == "mixed":
        process.send_signal(signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.wait()
    return time.monotonic() - started


@pytest.mark.parametrize("kill_mode", ["mixed", "control-group"])
@pytest.mark.parametrize("broker", ["redis", "embedded"])
def test_idle_worker_stops_within_ten_seconds(tmp_path, database_url, spare_redis, kill_mode, broker):
    # spare_redis: empty, so idle means idle (no stream entries or leader lock an earlier test left)
    env = {**os.environ, **TEST_ENV, "NETRAVEN_VAR_DIR": str(tmp_path)}
    if broker == "redis":
        env["NETRAVEN_BROKER_URL"] = SPARE_REDIS_URL  # no other worker's queue
    else:  # the embedded default: SQLite and the SQLAlchemy transport (billiard's plain pool)
        env["NETRAVEN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'netraven.db'}"
        env["NETRAVEN_BROKER_URL"] = f"sqla+sqlite:///{tmp_path / 'broker.db'}"
        subprocess.run([sys.executable, "-m", "netraven_tasks.cli", "db", "upgrade"], env=env, cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
    command = [*exec_start("netraven-worker.service"), "--concurrency", "2", "-n", f"unit-{kill_mode}@%h"]
    process = start(command, env, "ready.", tmp_path / "worker.log")
    took = stop_like_systemd(process, kill_mode)
    assert took < IDLE_STOP_SECONDS, (took, (tmp_path / "worker.log").read_text(errors="replace")[-2000:])


@pytest.mark.parametrize("kill_mode", ["mixed", "control-group"])
def test_beat_and_api_stop_within_ten_seconds(tmp_path, database_url, spare_redis, kill_mode):
    env = {
        **os.environ,
        **TEST_ENV,
        "NETRAVEN_VAR_DIR": str(tmp_path),
        "NETRAVEN_BROKER_URL": SPARE_REDIS_URL,
    }
    port = str(free_port())
    for name, ready in (
        ("netraven-beat.service", "beat: Starting"),
        ("netraven-api.service", "Booting worker"),
    ):
        process = start(
            exec_start(name, **{"--port 8000": f"--port {port}"}), env, ready, tmp_path / f"{name}.log"
        )
        took = stop_like_systemd(process, kill_mode)
        assert took < IDLE_STOP_SECONDS, (name, took)


def embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, **TEST_ENV, "NETRAVEN_VAR_DIR": str(tmp_path)}
    env["NETRAVEN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'netraven.db'}"
    env["NETRAVEN_BROKER_URL"] = f"sqla+sqlite:///{tmp_path / 'broker.db'}"
    subprocess.run([sys.executable, "-m", "netraven_tasks.cli", "db", "upgrade"], env=env, cwd=ROOT,
                   check=True, capture_output=True)  # fmt: skip
    return env


@pytest.mark.slow
def test_busy_embedded_worker_stops_when_the_whole_group_gets_sigterm(tmp_path, database_url):
    import sqlalchemy as sa

    env = embedded_env(tmp_path)
    flood = (
        "from netraven_tasks.jobs.launch import launch_job\n"
        "from netraven_tasks.settings import get_settings\n"
        "import netraven_tasks.celery_app\n"
        "target = {'host': '127.0.0.1', 'port': 1}\n"
        "for _ in range(300): launch_job(get_settings(), 'reachability_check', target, None)\n"
    )
    subprocess.run([sys.executable, "-c", flood], env=env, cwd=ROOT, check=True, capture_output=True)
    command = [*exec_start("netraven-worker.service"), "--concurrency", "2", "-n", "busy@%h"]
    process = start(command, env, "ready.", tmp_path / "worker.log")
    engine = sa.create_engine(env["NETRAVEN_DATABASE_URL"])
    with engine.connect() as connection:
        failed = sa.text("SELECT count(*) FROM job_logs WHERE status = 'failed'")
        eventually(lambda: connection.scalar(failed) >= 20, 60, "the worker to run the flood", interval=0.1)
    engine.dispose()
    took = stop_like_systemd(process, "control-group")
    assert took < BUSY_STOP_SECONDS, (took, (tmp_path / "worker.log").read_text(errors="replace")[-2000:])
