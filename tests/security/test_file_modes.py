"""At rest (row 13): on the embedded default everything under var/ is private from creation on."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from netraven_tasks.private_files import ensure_private_sqlite, make_private_dir, write_private_file
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netraven_tasks.cli", *args],
        env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_row13_var_is_private_on_the_embedded_default(tmp_path):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRAVEN_")}
    env["NETRAVEN_VAR_DIR"] = str(var)
    assert cli(env, "db", "upgrade").returncode == 0
    made = cli(
        env,
        "users",
        "create",
        "ops",
        "--email",
        "ops@example.net",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert made.returncode == 0, made.stderr
    launched = cli(env, "run", "reachability_check", "--arg", "host=127.0.0.1", "--arg", "port=1")
    assert launched.returncode == 0, launched.stderr

    expected = {"netraven.db", "broker.db", "secret.key"}
    assert expected <= {path.name for path in var.iterdir()}
    assert mode(var) == 0o700
    for path in var.rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path

    # SQLite gives its WAL and SHM files the mode of the database file: open one as a reader would.
    connection = sqlite3.connect(var / "netraven.db")
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("SELECT count(*) FROM users").fetchone()
        side_files = [var / "netraven.db-wal", var / "netraven.db-shm"]
        assert all(path.exists() for path in side_files)
        assert [mode(path) for path in side_files] == [0o600, 0o600]
    finally:
        connection.close()


def test_private_helpers_set_the_mode_at_creation_whatever_the_umask(tmp_path):
    previous = os.umask(0)  # the most permissive umask: the modes must come from the calls themselves
    try:
        make_private_dir(tmp_path / "a" / "b")
        write_private_file(tmp_path / "a" / "b" / "secret", "s")
        ensure_private_sqlite(f"sqlite:///{tmp_path / 'c' / 'x.db'}")
    finally:
        os.umask(previous)
    assert [mode(tmp_path / p) for p in ("a", "a/b", "c")] == [0o700] * 3
    assert [mode(tmp_path / p) for p in ("a/b/secret", "c/x.db")] == [0o600] * 2
