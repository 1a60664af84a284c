"""Device leases: the database store on the embedded default (SQLite) under concurrent takers,
the Redis store's expiry and renewal on a real server, and the limits' numbers."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from netraven_tasks.db import dispose_engines, session_factory
from netraven_tasks.devices.leases import DatabaseLeases, Lease, LeaseStore, RedisLeases
from netraven_tasks.jobs.device_limits import DeviceLimits
from netraven_tasks.jobs.registry import get_job_type
from netraven_tasks.migrate import upgrade
from netraven_tasks.settings import Settings


@pytest.fixture
def sqlite_leases(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The embedded default's store: a migrated SQLite database of this test."""
    url = f"sqlite:///{tmp_path / 'netraven.db'}"
    upgrade(url)
    settings = Settings.from_env({"NETRAVEN_DATABASE_URL": url, "NETRAVEN_VAR_DIR": str(tmp_path)})
    yield DatabaseLeases(session_factory(settings))
    dispose_engines()


def _contend(store: LeaseStore, limit: int, takers: int = 8, rounds: int = 6) -> int:
    """``takers`` threads take, hold briefly and give back a lease on one device; returns the most
    holders seen at once (counted by the holders themselves, outside the store)."""
    inside, most, lock = 0, 0, threading.Lock()
    errors: list[BaseException] = []

    def take_turns(name: str) -> None:
        nonlocal inside, most
        try:
            done = 0
            while done < rounds:
                if not store.acquire(Lease("r1", name, 30), limit):
                    time.sleep(0.002)
                    continue
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.005)
                with lock:
                    inside -= 1
                store.release("r1", name)
                done += 1
        except BaseException as error:  # the test fails with it, not a silent thread
            errors.append(error)

    threads = [threading.Thread(target=take_turns, args=(f"t{i}",)) for i in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    return most


@pytest.mark.parametrize("limit", [1, 2])
def test_database_leases_on_sqlite_hold_the_limit_under_concurrent_takers(sqlite_leases, limit):
    assert _contend(sqlite_leases, limit) == limit
    assert sqlite_leases.held() == 0, "every lease was given back"


def test_database_lease_is_taken_again_by_its_holder_and_freed_by_expiry(sqlite_leases):
    assert sqlite_leases.acquire(Lease("r1", "a", 0.3), 1)
    assert sqlite_leases.acquire(Lease("r1", "a", 0.3), 1), "a redelivered message of the holder"
    assert not sqlite_leases.acquire(Lease("r1", "b", 30), 1)
    assert sqlite_leases.acquire(Lease("r2", "b", 30), 1), "another device is free"
    sqlite_leases.renew([Lease("r1", "a", 0.6)])
    time.sleep(0.4)
    assert not sqlite_leases.acquire(Lease("r1", "b", 30), 1), "renewed past its first expiry"
    time.sleep(0.3)
    assert sqlite_leases.acquire(Lease("r1", "b", 30), 1), "expired: a dead holder frees the device"
    assert sqlite_leases.held() == 2


def test_redis_leases_expire_renew_and_count(spare_redis: redis.Redis):
    store = RedisLeases(spare_redis)
    assert store.acquire(Lease("r1", "a", 0.3), 1)
    assert not store.acquire(Lease("r1", "b", 30), 1)
    store.renew([Lease("r1", "a", 0.6), Lease("r9", "never-held", 30)])
    assert spare_redis.zcard("netraven:device-lease:r9") == 0, "renewal never creates a lease"
    store.renew([Lease("r1", "a", 0.01)])  # never earlier than it was
    time.sleep(0.4)
    assert store.held() == 1
    assert not store.acquire(Lease("r1", "b", 30), 1)
    time.sleep(0.3)
    assert store.held() == 0
    assert store.acquire(Lease("r1", "b", 30), 1)
    assert 29_000 < spare_redis.pttl("netraven:device-lease:r1") <= 31_001, "the key goes with its last lease"
    store.release("r1", "b")
    assert store.held() == 0 and spare_redis.zcard("netraven:device-lease:r1") == 0


def test_redis_leases_hold_the_limit_under_concurrent_takers(spare_redis: redis.Redis):
    assert _contend(RedisLeases(spare_redis), 2) == 2


def test_limits_follow_the_setting_the_job_type_and_its_time_limit(settings):
    limits = DeviceLimits(store=DatabaseLeases(session_factory(settings)), settings=settings)
    stamped, pairs, counted = (
        get_job_type(name) for name in ("test_stamped", "test_stamped_pairs", "test_counted")
    )
    assert stamped is not None and pairs is not None and counted is not None
    assert limits.limit(stamped) == settings.device_concurrency
    assert limits.limit(pairs) == 2, "the job type's device_concurrency wins"
    assert limits.lease_seconds(counted) == settings.deadline_seconds, "no time limit: the deadline"
    short = replace(stamped, time_limit=5.0)
    assert limits.lease_seconds(short) == 5.0 + settings.heartbeat_seconds, "a little above the limit"
    waits = [limits.wait_seconds(n) for n in range(1, 12)]
    assert all(0 <= wait <= settings.device_wait_max_seconds for wait in waits)
    assert waits[-1] > waits[0]


def test_metrics_count_leases_held_and_deferrals(spare_redis: redis.Redis):
    from netraven_tasks.metrics import device_lease_families

    store = RedisLeases(spare_redis)
    assert store.acquire(Lease("r1", "a", 30), 2) and store.acquire(Lease("r2", "b", 30), 2)
    store.count_deferral()
    families = {family.name: family.samples[0].value for family in device_lease_families(store)}
    assert families == {"netraven_device_leases_held": 2, "netraven_device_deferrals": 1}
