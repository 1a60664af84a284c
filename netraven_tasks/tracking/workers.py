"""Which workers are alive: each worker's heartbeat stamps its name with a deadline in Redis.

One sorted set, member = the worker's name, score = the time its presence expires (the heartbeat
period plus a margin, as run deadlines are stored rather than recomputed). Counting the living is
one ZCOUNT of the scores still ahead; a worker killed outright drops out when its deadline passes,
one stopped cleanly at once. ``/metrics`` reports the count (``netraven_workers_alive``), which
the "no worker" alert watches. Kept in the broker's Redis; other brokers report no count.
"""

from __future__ import annotations

import time

import redis

WORKERS_KEY = "netraven:workers"


class WorkerPresence:
    """The living workers, by name, in one sorted set of deadlines."""

    def __init__(self, client: redis.Redis, key: str = WORKERS_KEY):
        self._client = client
        self._key = key

    def stamp(self, worker: str, ttl_seconds: float, now: float | None = None) -> None:
        """``worker`` is alive for ``ttl_seconds`` more; names long expired are swept on the way."""
        now = time.time() if now is None else now
        with self._client.pipeline(transaction=False) as pipe:
            pipe.zadd(self._key, {worker: now + ttl_seconds})
            pipe.zremrangebyscore(self._key, "-inf", now - ttl_seconds)  # dead for a whole period
            pipe.execute()

    def forget(self, worker: str) -> None:
        """A worker that stops cleanly leaves at once rather than when its deadline passes."""
        self._client.zrem(self._key, worker)

    def alive(self, now: float | None = None) -> int:
        """How many workers stamped a deadline that has not passed yet."""
        now = time.time() if now is None else now
        return int(self._client.zcount(self._key, f"({now}", "+inf"))
