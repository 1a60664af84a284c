"""Retry policy of a job type: how many attempts, how long to wait, which errors deserve another try.

Pure logic, no Celery: the one place where a retry is decided.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from netraven_tasks import backoff


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_base: float = 2.0  # seconds before the 2nd attempt
    backoff_factor: float = 2.0
    backoff_max: float = 300.0
    jitter: float = 0.1  # +/- this fraction of the delay, so retries of many jobs spread out
    retry_on: tuple[type[BaseException], ...] = field(default=(ConnectionError, TimeoutError))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must not be negative")
        if self.backoff_factor < 1:
            raise ValueError("backoff_factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def is_retryable(self, error: BaseException) -> bool:
        return isinstance(error, self.retry_on)

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether the attempt numbered ``attempt`` (1 = first) that raised ``error`` gets a successor."""
        return attempt < self.max_attempts and self.is_retryable(error)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt number ``attempt`` (1 = first) failed."""
        return backoff.delay(
            attempt,
            self.backoff_base,
            self.backoff_max,
            factor=self.backoff_factor,
            jitter=self.jitter,
            rng=rng,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "max_attempts": self.max_attempts,
            "backoff_base": self.backoff_base,
            "backoff_factor": self.backoff_factor,
            "backoff_max": self.backoff_max,
            "jitter": self.jitter,
            "retry_on": [f"{t.__module__}.{t.__qualname__}" for t in self.retry_on],
        }
