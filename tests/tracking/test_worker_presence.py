"""Worker presence: a stamped worker is alive until its deadline, a forgotten one at once."""

from __future__ import annotations

from netraven_tasks.tracking.workers import WORKERS_KEY, WorkerPresence


def test_a_worker_is_alive_until_its_stamp_expires(spare_redis):  # type: ignore[no-untyped-def]
    presence = WorkerPresence(spare_redis)
    presence.stamp("w1@host", 60, now=1000.0)
    presence.stamp("w2@host", 60, now=1030.0)

    assert presence.alive(now=1000.0) == 2
    assert presence.alive(now=1059.0) == 2
    assert presence.alive(now=1061.0) == 1  # w1's deadline passed: killed, it stamps no more
    assert presence.alive(now=1091.0) == 0


def test_a_restamped_worker_counts_once_and_the_long_dead_are_swept(spare_redis):  # type: ignore[no-untyped-def]
    presence = WorkerPresence(spare_redis)
    presence.stamp("gone@host", 60, now=1000.0)
    presence.stamp("w1@host", 60, now=1000.0)
    presence.stamp("w1@host", 60, now=1100.0)  # gone@host expired at 1060: not alive, not swept yet

    assert presence.alive(now=1100.0) == 1
    presence.stamp("w1@host", 60, now=1130.0)  # 1130 - 60 > 1060: gone@host is swept
    assert spare_redis.zrange(WORKERS_KEY, 0, -1) == [b"w1@host"]


def test_a_forgotten_worker_leaves_at_once(spare_redis):  # type: ignore[no-untyped-def]
    presence = WorkerPresence(spare_redis)
    presence.stamp("w1@host", 60, now=1000.0)

    presence.forget("w1@host")

    assert presence.alive(now=1000.0) == 0
