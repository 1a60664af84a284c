"""Fixtures of the schedule tests: the API fixtures, and real beat processes on the test database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.api.conftest import app, client, make_api_user, users  # noqa: F401 - shared fixtures
from tests.conftest import SMS_PORT, TEST_ENV, start_process, stop_process
from tests.notifications.conftest import outbox, set_preferences  # noqa: F401
from tests.schedules.sms_api import SmsApi


@dataclass
class BeatProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def name_suffix(self) -> str:
        return f":{self.process.pid}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_beat(log_path: Path) -> BeatProcess:
    args = [sys.executable, "-m", "celery", "-A", "netraven_tasks", "beat", "--loglevel", "info",
            "--schedule", str(log_path.with_suffix(".schedule"))]  # fmt: skip
    return BeatProcess(start_process("beat", args, log_path, "beat: Starting"), log_path)


@pytest.fixture(scope="module")
def beats(worker, tmp_path_factory) -> Iterator[Callable[[], BeatProcess]]:  # type: ignore[no-untyped-def]
    """Starts beat processes on demand for the module; every one is stopped at its end."""
    started: list[BeatProcess] = []
    folder = tmp_path_factory.mktemp("beats")

    def start() -> BeatProcess:
        beat = start_beat(folder / f"beat-{len(started)}.log")
        started.append(beat)
        return beat

    yield start
    for beat in started:
        stop_process(beat.process)


@pytest.fixture(scope="session")
def sms_api_server() -> Iterator[SmsApi]:
    api = SmsApi(SMS_PORT, TEST_ENV["NETRAVEN_SMS_ACCOUNT_SID"], TEST_ENV["NETRAVEN_SMS_AUTH_TOKEN"])
    api.start()
    yield api
    api.stop()


@pytest.fixture
def sms_api(sms_api_server: SmsApi) -> SmsApi:
    """The SMS API the worker posts to (NETRAVEN_SMS_URL), empty at the start of the test."""
    sms_api_server.reset()
    return sms_api_server
