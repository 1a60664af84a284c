"""Job types used only by the tests (loaded through NETRAVEN_JOB_MODULES)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery import current_task
from marshmallow import Schema, fields

from netraven_tasks.jobs import RetryPolicy, job_type

FAST = RetryPolicy(max_attempts=3, backoff_base=0.2, backoff_factor=2, backoff_max=1, jitter=0.1)


class FlakyArguments(Schema):
    host = fields.String(load_default="lab-sw-01")
    succeed_on_attempt = fields.Integer(load_default=0, metadata={"description": "0 = never"})


@job_type("test_flaky", arguments=FlakyArguments, policy=FAST, time_limit=30)
def flaky(host: str, succeed_on_attempt: int = 0) -> dict[str, Any]:
    """Raises a retryable ConnectionError until the given attempt."""
    attempt = current_task.request.retries + 1
    if succeed_on_attempt and attempt >= succeed_on_attempt:
        return {"attempt": attempt}
    raise ConnectionError(f"{host} did not answer on attempt {attempt}")


class BrokenArguments(Schema):
    host = fields.String(load_default="lab-sw-02")


@job_type("test_broken", arguments=BrokenArguments, policy=FAST, time_limit=30)
def broken(host: str) -> dict[str, Any]:
    """Raises a non-retryable error at once."""
    raise ValueError(f"template for {host} is invalid")


class SlowArguments(Schema):
    host = fields.String(load_default="lab-sw-03")
    marker = fields.String(required=True)
    seconds = fields.Float(load_default=30)


@job_type("test_slow_once", arguments=SlowArguments, policy=FAST, time_limit=60)
def slow_once(host: str, marker: str, seconds: float = 30) -> dict[str, Any]:
    """Sleeps on its first run (so a test can kill it), returns at once when run again."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(time.time()))
        time.sleep(seconds)
        return {"run": "first"}
    return {"run": "again"}


class OddOutputArguments(Schema):
    host = fields.String(load_default="lab-sw-04")
    fail = fields.Boolean(load_default=False)


@job_type("test_odd_output", arguments=OddOutputArguments, policy=RetryPolicy(max_attempts=1), time_limit=30)
def odd_output(host: str, fail: bool = False) -> dict[str, Any]:
    """Answers like a broken device: NUL, a lone surrogate, NaN and deep nesting (tracking tests)."""
    text = f"{host} said \x00 and \ud800"
    if fail:
        raise ValueError(text)
    deep: Any = {"leaf": text}
    for _ in range(2_000):
        deep = [deep]
    return {"text": text, "ratio": float("nan"), "deep": deep}


class NapArguments(Schema):
    host = fields.String(load_default="lab-sw-05")
    seconds = fields.Float(load_default=0.2)


@job_type("test_nap", arguments=NapArguments, policy=RetryPolicy(max_attempts=1), time_limit=30)
def nap(host: str, seconds: float = 0.2) -> dict[str, Any]:
    """Sleeps briefly, so a test can kill the child that runs it (reliability tests)."""
    time.sleep(seconds)
    return {"slept": seconds}


class OutcomeArguments(Schema):
    host = fields.String(load_default="lab-sw-06")
    seconds = fields.Float(load_default=0.0)
    fail = fields.Boolean(load_default=False)


@job_type("test_outcome", arguments=OutcomeArguments, policy=RetryPolicy(max_attempts=1), time_limit=30)
def outcome(host: str, seconds: float = 0.0, fail: bool = False) -> dict[str, Any]:
    """Sleeps, then succeeds or fails as its arguments say: a test knows every run's real outcome."""
    time.sleep(seconds)
    if fail:
        raise RuntimeError(f"{host} failed by design")
    return {"slept": seconds}


class CountedArguments(Schema):
    host = fields.String(load_default="lab-sw-06")
    calls = fields.String(required=True)
    seconds = fields.Float(load_default=5)


@job_type("test_counted", arguments=CountedArguments, policy=RetryPolicy(max_attempts=1), time_limit=None)
def counted(host: str, calls: str, seconds: float = 5) -> dict[str, Any]:
    """No time limit; appends a line to ``calls`` per run and sleeps on the first (deadline tests)."""
    path = Path(calls)
    with path.open("a") as log:
        log.write(f"{time.time()}\n")
    if len(path.read_text().splitlines()) == 1:
        time.sleep(seconds)
    return {"calls": len(path.read_text().splitlines())}


class StampedArguments(Schema):
    host = fields.String(required=True)
    stamps = fields.String(required=True)
    seconds = fields.Float(load_default=0.3)


def _stamp(path: str, what: str) -> None:
    with Path(path).open("a") as log:
        log.write(f"{current_task.request.id} {what} {time.time()} {os.getpid()}\n")


@job_type("test_stamped", arguments=StampedArguments, policy=RetryPolicy(max_attempts=1), time_limit=60)
def stamped(host: str, stamps: str, seconds: float = 0.3) -> dict[str, Any]:
    """Appends its start and end times to ``stamps`` around a nap (per-device limit tests)."""
    _stamp(stamps, "start")
    time.sleep(seconds)
    _stamp(stamps, "end")
    return {"slept": seconds}


@job_type(
    "test_stamped_pairs",
    arguments=StampedArguments,
    policy=RetryPolicy(max_attempts=1),
    time_limit=60,
    device_concurrency=2,
)
def stamped_pairs(host: str, stamps: str, seconds: float = 0.3) -> dict[str, Any]:
    """``test_stamped`` with its own limit: two runs per device at once."""
    return stamped(host, stamps, seconds)
