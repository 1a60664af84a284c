"""The fast lane (`scripts/test --fast`) holds only tests that need no server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REDIS_DB, ROOT


@pytest.mark.slow
def test_the_fast_lane_runs_without_postgresql_or_redis():
    """The whole fast lane with PostgreSQL's address pointing nowhere: every test still passes."""
    env = {
        "PATH": "/usr/bin:/bin",
        "NETRAVEN_TEST_PG_ADMIN_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/postgres",
        "NETRAVEN_TEST_REDIS_DB": str(REDIS_DB),  # the session's own db, should a unit test touch it
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "unit and not slow", "-p", "no:cacheprovider", "-x"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout.splitlines()[-1]
