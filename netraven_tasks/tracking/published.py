"""Which queued runs still have a message in the broker: our own record, not the broker's keys.

A run's task id is added (scored by the time) just before its message is published and removed
once the recorder has committed the run's start, so a ``queued`` row whose id is missing here
had its message lost (the broker lost it, or the launcher died before publishing). Only the
Redis broker's server keeps the record; with another broker every run counts as held.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Protocol

import redis

from netraven_tasks.statuses import JobStatus
from netraven_tasks.tracking.transitions import Outcome

log = logging.getLogger(__name__)

PUBLISHED_KEY = "netraven:published"


class BrokerInventory(Protocol):
    def held(self, task_ids: set[str]) -> set[str]: ...


class EverythingHeld:
    """For brokers without our record: assume every message may still be there."""

    def held(self, task_ids: set[str]) -> set[str]:
        return set(task_ids)


class PublishedMessages:
    """A sorted set of task ids published and not yet started, scored by publication time."""

    def __init__(self, client: redis.Redis, key: str = PUBLISHED_KEY):
        self._client = client
        self._key = key

    def add(self, task_id: str, at: float | None = None) -> None:
        self._client.zadd(self._key, {task_id: time.time() if at is None else at})

    def add_many(self, task_ids: Iterable[str], at: float | None = None) -> None:
        """Many ids in one ZADD (a batch's children, before their messages go out)."""
        score = time.time() if at is None else at
        mapping = dict.fromkeys(task_ids, score)
        if mapping:
            self._client.zadd(self._key, mapping)

    def forget_started(self, outcomes: Iterable[Outcome]) -> None:
        """After a commit: runs that left ``queued`` no longer wait for their message (one ZREM)."""
        started = {
            outcome.state.task_id
            for outcome in outcomes
            if outcome.state is not None and outcome.status is not JobStatus.QUEUED
        }
        if not started:
            return
        try:
            self._client.zrem(self._key, *started)
        except redis.RedisError as error:
            # The rows are committed; a leftover id only waits for trim(), it never settles a run.
            log.warning("could not forget %d started runs in %s: %s", len(started), self._key, error)

    def held(self, task_ids: set[str]) -> set[str]:
        if not task_ids:
            return set()
        ordered = sorted(task_ids)
        scores: Any = self._client.zmscore(self._key, ordered)
        return {task_id for task_id, score in zip(ordered, scores, strict=True) if score is not None}

    def trim(self, before: float) -> int:
        """Forget ids published before ``before`` (a run settled without starting leaves its id)."""
        return int(self._client.zremrangebyscore(self._key, "-inf", before))
