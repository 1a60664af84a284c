"""The retry policy decides retries and backoff in one place, without Celery."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netraven_tasks.jobs import RetryPolicy


def test_retryable_error_is_retried_until_the_last_attempt():
    policy = RetryPolicy(max_attempts=3, retry_on=(ConnectionError,))
    error = ConnectionError("down")
    assert [policy.should_retry(error, attempt) for attempt in (1, 2, 3)] == [True, True, False]


def test_non_retryable_error_is_never_retried():
    policy = RetryPolicy(max_attempts=5, retry_on=(TimeoutError,))
    assert not policy.should_retry(ValueError("bad template"), 1)
    # A refused connection is an answer, not a timeout: reachability_check's policy.
    assert not policy.should_retry(ConnectionRefusedError(), 1)
    assert policy.should_retry(TimeoutError(), 1)


def test_backoff_doubles_without_jitter_and_stops_at_the_cap():
    policy = RetryPolicy(backoff_base=2, backoff_factor=2, backoff_max=10, jitter=0)
    assert [policy.delay(a) for a in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]


@given(
    base=st.floats(0, 100),
    factor=st.floats(1, 5),
    cap=st.floats(0, 1000),
    jitter=st.floats(0, 1),
    attempt=st.integers(1, 60),
    seed=st.integers(0, 2**32),
)
def test_delay_is_never_negative_and_never_above_the_cap(base, factor, cap, jitter, attempt, seed):
    policy = RetryPolicy(backoff_base=base, backoff_factor=factor, backoff_max=cap, jitter=jitter)
    delay = policy.delay(attempt, random.Random(seed))
    assert 0 <= delay <= cap
    raw = min(cap, base * factor ** (attempt - 1))
    assert raw * (1 - jitter) - 1e-9 <= delay <= raw * (1 + jitter) + 1e-9


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"backoff_base": -1}, {"backoff_factor": 0.5}, {"jitter": 2}],
)
def test_invalid_policy_is_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_describe_names_the_retryable_errors():
    described = RetryPolicy(retry_on=(TimeoutError,)).describe()
    assert described["retry_on"] == ["builtins.TimeoutError"]
    assert described["max_attempts"] == 3
