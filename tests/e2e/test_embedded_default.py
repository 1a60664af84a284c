"""Smoke test of the embedded default: SQLite + kombu SQLAlchemy broker, no server at all.

Drives the real CLI as a user would: migrate, create a user, start a worker, run jobs.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import ROOT, stop_process

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRAVEN_")}
    env["NETRAVEN_VAR_DIR"] = str(tmp_path / "var")
    return env


def cli(env, *args, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netraven_tasks.cli", *args],
        env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_embedded_default_runs_jobs_end_to_end(embedded_env, tmp_path):
    assert cli(embedded_env, "db", "upgrade").returncode == 0
    created = cli(embedded_env, "users", "create", "ops", "--email", "ops@example.net",
                  "--password-stdin", stdin="s3cret-password-1\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created user ops" in created.stdout
    token = cli(embedded_env, "token", "ops")
    assert token.returncode == 0 and token.stdout.count(".") == 2

    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "netraven_tasks.cli", "worker", "--concurrency", "1"],
        env=embedded_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        ok = cli(embedded_env, "run", "reachability_check", "--arg", "host=127.0.0.1",
                 "--arg", f"port={port}", "--owner", "ops", "--wait", "60")  # fmt: skip
        assert ok.returncode == 0, ok.stdout + ok.stderr + (tmp_path / "worker.log").read_text()
        assert ok.stdout.splitlines()[-1].endswith("completed")
        refused = cli(embedded_env, "run", "reachability_check", "--arg", "host=127.0.0.1",
                      "--arg", "port=1", "--wait", "60")  # fmt: skip
        assert refused.returncode == 1
        # The final line says why: the error type and message of the failed run.
        assert refused.stdout.splitlines()[-1].endswith(
            "failed: ConnectionRefusedError: 127.0.0.1:1 refused the connection"
        ), refused.stdout
    finally:
        listener.close()
        stop_process(worker)
        log.close()

    db = sqlite3.connect(tmp_path / "var" / "netraven.db")
    rows = db.execute("SELECT status, attempts, owner_id IS NOT NULL FROM job_logs ORDER BY id").fetchall()
    assert rows == [("completed", 1, 1), ("failed", 1, 0)]


def test_cli_explains_bad_job_arguments(embedded_env):
    assert cli(embedded_env, "db", "upgrade").returncode == 0
    unknown = cli(embedded_env, "run", "no_such_job")
    assert unknown.returncode == 2
    assert (
        "unknown job type 'no_such_job'; known: compliance_check, config_backup, reachability_check"
        in unknown.stderr
    )
    bad = cli(embedded_env, "run", "reachability_check", "--arg", "host=r1", "--arg", "port=70000")
    assert bad.returncode == 2
    assert '"port"' in bad.stderr and "Traceback" not in bad.stderr
    duplicate = cli(embedded_env, "users", "create", "x", "--email", "not-an-address")
    assert duplicate.returncode == 2 and "not a valid address" in duplicate.stderr


def test_cli_without_tables_names_the_database_and_the_fix(embedded_env, tmp_path):
    """Run from a folder whose var/ has no database: a clear error, not a SQLAlchemy traceback."""
    users = cli(embedded_env, "users", "list")
    assert users.returncode == 2, users.stdout + users.stderr
    assert "Traceback" not in users.stderr
    assert str(tmp_path / "var" / "netraven.db") in users.stderr
    assert "netraven-tasks db upgrade" in users.stderr and "NETRAVEN_VAR_DIR" in users.stderr
