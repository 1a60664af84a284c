"""``netraven-tasks schedules …`` from a shell: the same validation and storage as the API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, TEST_ENV


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "netraven-tasks"), "schedules", *args],
        cwd=ROOT,
        env={**os.environ, **TEST_ENV, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_add_list_pause_resume_delete(users, settings):
    added = cli(
        "add", "test_flaky", "--owner", "alice", "--cron", "0 2 * * *", "--timezone", "Europe/Berlin",
        "--arg", "host=core-rtr-01", "--description", "nightly",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("created schedule 1:") and "core-rtr-01" in added.stdout
    listed = cli("list")
    assert "cron '0 2 * * *' Europe/Berlin" in listed.stdout and "1 schedule(s)" in listed.stdout
    assert " ok " in listed.stdout
    paused = cli("pause", "1")
    assert paused.returncode == 0 and "paused" in paused.stdout and "next -" in paused.stdout
    assert "resumed schedule 1" in cli("resume", "1").stdout
    assert cli("delete", "1").stdout.strip() == "deleted schedule 1"
    assert "0 schedule(s)" in cli("list").stdout


def test_bad_input_is_refused_with_the_field_named_and_status_2(users):
    bad_cron = cli("add", "test_flaky", "--owner", "alice", "--cron", "0 2 * *")
    assert bad_cron.returncode == 2 and "cron" in bad_cron.stderr and "five fields" in bad_cron.stderr
    unknown = cli("add", "nope", "--owner", "alice", "--every", "60")
    assert unknown.returncode == 2 and "job_type" in unknown.stderr
    nobody = cli("add", "test_flaky", "--owner", "mallory", "--every", "60")
    assert nobody.returncode == 2 and "mallory" in nobody.stderr
    assert cli("pause", "999").stderr.strip() == "error: no schedule 999"
    assert "0 schedule(s)" in cli("list").stdout
