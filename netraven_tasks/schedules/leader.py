"""The beat leader lock: several beat processes run, the one holding the lock launches.

The approach RedBeat takes: a Redis key with a TTL, taken with SET NX and renewed every tick by
its holder. If the leader dies, the key expires and a standby takes over within the TTL. Without
Redis (the embedded default) there is one beat and it always leads.
"""

from __future__ import annotations

import contextlib
import logging

import redis
from redis.exceptions import LockError

from netraven_tasks.settings import Settings

log = logging.getLogger(__name__)

LOCK_KEY = "netraven:beat:leader"
NAME_KEY = "netraven:beat:leader:name"  # who leads, for operators (the lock holds a random token)


class BeatLeader:
    def __init__(self, settings: Settings, name: str):
        self.name = name
        self._client = redis.Redis.from_url(url) if (url := settings.redis_url_in_use) else None
        self._ttl_ms = int(settings.beat_lock_ttl_seconds * 1000)
        self._lock = (
            self._client.lock(LOCK_KEY, timeout=settings.beat_lock_ttl_seconds, thread_local=False)
            if self._client is not None
            else None
        )
        self._leading = self._lock is None

    def holds(self) -> bool:
        """Take or renew the lock; True while this process is the leader."""
        if self._lock is None:
            return True
        try:
            if self._leading:
                self._lock.reacquire()
            elif self._lock.acquire(blocking=False):
                self._leading = True
                log.info("beat %s is the leader", self.name)
            if self._leading and self._client is not None:
                self._client.set(NAME_KEY, self.name, px=self._ttl_ms)
        except LockError:
            log.warning("beat %s lost the leadership", self.name)
            self._leading = False
        except redis.RedisError:
            log.warning("beat %s cannot reach Redis; standing by", self.name, exc_info=True)
            self._leading = False
        return self._leading

    def release(self) -> None:
        if self._lock is not None and self._leading:
            with contextlib.suppress(LockError, redis.RedisError):
                self._lock.release()
        self._leading = self._lock is None
        if self._client is not None:
            self._client.close()
