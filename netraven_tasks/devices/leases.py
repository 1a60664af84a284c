"""Leases on devices: at most N holders (running jobs) per device, each until its expiry.

Two stores behind one interface: Redis (a sorted set per device, holder → expiry, changed by Lua
scripts on the server's clock, so workers' clocks never disagree) and the database for the
embedded default (table ``device_leases``, migration 0014). An expired lease counts for nothing:
a dead worker's lease frees its device once its expiry passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
from sqlalchemy import Select, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from netraven_tasks.models import Base, UTCDateTime, utcnow

KEY_LENGTH = 255


class DeviceLease(Base):
    """One job's lease on one device (the embedded default's store)."""

    __tablename__ = "device_leases"

    device: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    holder: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Lease:
    """A lease as its holder renews it: the device, the holder (a task id), its lifetime."""

    device: str
    holder: str
    seconds: float


class LeaseStore(Protocol):
    def acquire(self, lease: Lease, limit: int) -> bool:
        """Take (or renew, for a holder that has it) ``lease`` if the device has fewer than
        ``limit`` unexpired leases; False when it is busy."""

    def release(self, device: str, holder: str) -> None: ...

    def renew(self, leases: Sequence[Lease]) -> None:
        """Move the expiry of the leases still held to now + their seconds (never earlier)."""

    def held(self) -> int:
        """Unexpired leases on all devices (for /metrics)."""

    def count_deferral(self) -> None:
        """One more job deferred because its device was busy."""

    def deferrals(self) -> int | None:
        """Jobs deferred so far (None: this store does not count them)."""


# Redis keys: one sorted set per device, plus one index of every lease (for the gauge).
KEY_PREFIX = "netraven:device-lease:"
INDEX_KEY = "netraven:device-leases"
DEFERRALS_KEY = "netraven:device-lease-deferrals"

# KEYS: the device's set, the index. ARGV: holder, limit, seconds, index member.
_ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
local expiry = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
redis.call('ZADD', KEYS[2], expiry, ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(last[2]) * 1000) + 1000)
return 1
"""

# KEYS: the devices' sets, then the index. ARGV: holder, seconds, index member per device.
_RENEW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local index = KEYS[#KEYS]
for i = 1, #KEYS - 1 do
  local holder, expiry = ARGV[3 * i - 2], now + tonumber(ARGV[3 * i - 1])
  if redis.call('ZADD', KEYS[i], 'XX', 'GT', 'CH', expiry, holder) == 1 then
    redis.call('ZADD', index, 'XX', 'GT', expiry, ARGV[3 * i])
    redis.call('PEXPIREAT', KEYS[i], math.ceil(expiry * 1000) + 1000, 'GT')
  end
end
return 1
"""


def _index_member(device: str, holder: str) -> str:
    return f"{holder}\n{device}"


class RedisLeases:
    """Leases in Redis (the broker's, or NETRAVEN_REDIS_URL's): one round trip per operation."""

    def __init__(self, client: redis.Redis):
        self._client = client
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)

    def acquire(self, lease: Lease, limit: int) -> bool:
        keys = [KEY_PREFIX + lease.device, INDEX_KEY]
        member = _index_member(lease.device, lease.holder)
        return bool(self._acquire(keys=keys, args=[lease.holder, limit, lease.seconds, member]))

    def release(self, device: str, holder: str) -> None:
        with self._client.pipeline() as pipe:
            pipe.zrem(KEY_PREFIX + device, holder)
            pipe.zrem(INDEX_KEY, _index_member(device, holder))
            pipe.execute()

    def renew(self, leases: Sequence[Lease]) -> None:
        if not leases:
            return
        args: list[str | float] = []
        for lease in leases:
            args += [lease.holder, lease.seconds, _index_member(lease.device, lease.holder)]
        self._renew(keys=[*(KEY_PREFIX + lease.device for lease in leases), INDEX_KEY], args=args)

    def held(self) -> int:
        now = self._client.time()
        return int(self._client.zcount(INDEX_KEY, f"({now[0] + now[1] / 1e6}", "+inf"))

    def count_deferral(self) -> None:
        self._client.incr(DEFERRALS_KEY)

    def deferrals(self) -> int | None:
        return int(self._client.get(DEFERRALS_KEY) or 0)


def _holders_of(device: str) -> Select[Any]:
    return select(DeviceLease.holder).where(DeviceLease.device == device)


class DatabaseLeases:
    """Leases in the database, for the embedded default (SQLite) and brokers without Redis.

    Takers of one device are serialised by the database: an advisory lock on PostgreSQL; on
    SQLite the transaction's first statement is a DELETE, which takes the database's write lock
    (other writers wait, busy_timeout) before anything is counted.
    """

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def acquire(self, lease: Lease, limit: int) -> bool:
        now = utcnow()
        with self._sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(select(func.pg_advisory_xact_lock(func.hashtext(lease.device))))
            session.execute(
                delete(DeviceLease).where(DeviceLease.device == lease.device, DeviceLease.expires_at <= now)
            )
            holders = set(session.scalars(_holders_of(lease.device)))
            if lease.holder not in holders and len(holders) >= limit:
                return False
            expiry = now + timedelta(seconds=lease.seconds)
            session.merge(DeviceLease(device=lease.device, holder=lease.holder, expires_at=expiry))
            return True

    def release(self, device: str, holder: str) -> None:
        with self._sessions.begin() as session:
            mine = delete(DeviceLease).where(DeviceLease.device == device, DeviceLease.holder == holder)
            session.execute(mine)

    def renew(self, leases: Sequence[Lease]) -> None:
        if not leases:
            return
        now = utcnow()
        with self._sessions.begin() as session:
            for lease in leases:
                expiry = now + timedelta(seconds=lease.seconds)
                session.execute(
                    update(DeviceLease)
                    .where(
                        DeviceLease.device == lease.device,
                        DeviceLease.holder == lease.holder,
                        DeviceLease.expires_at < expiry,
                    )
                    .values(expires_at=expiry)
                )

    def held(self) -> int:
        with self._sessions() as session:
            query = select(func.count()).select_from(DeviceLease).where(DeviceLease.expires_at > utcnow())
            return int(session.scalar(query) or 0)

    def count_deferral(self) -> None:
        """Not counted: a write per deferral is not worth a counter on the embedded default."""

    def deferrals(self) -> int | None:
        return None
