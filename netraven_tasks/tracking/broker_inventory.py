"""Which runs still have a message somewhere: in a queue, delivered but unacknowledged, or an event
waiting in the tracking stream. The reaper settles a ``queued`` row only when none of them does.

Only the Redis broker can be asked (its queues are lists, its unacknowledged messages a hash);
with another broker every run counts as held, so no queued row is ever settled by guesswork.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import redis

# kombu's Redis transport: priority queues are "<queue>\x06\x16<priority>" (steps 0, 3, 6, 9),
# and delivered-but-unacknowledged messages are kept in one hash.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)
UNACKED_HASH = "unacked"
CHUNK = 1000


class BrokerInventory(Protocol):
    def held(self, task_ids: set[str]) -> set[str]: ...


class EverythingHeld:
    """For brokers we cannot look into: assume every message may still be there."""

    def held(self, task_ids: set[str]) -> set[str]:
        return set(task_ids)


class RedisInventory:
    """Looks for the task ids in the queues, the unacked hash and the tracking streams."""

    def __init__(self, client: redis.Redis, queues: Iterable[str], streams: Iterable[str]):
        self._client = client
        self._queues = list(queues)
        self._streams = list(streams)

    def _messages(self) -> Iterator[bytes]:
        for queue in self._queues:
            for key in (queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)):
                start = 0
                while True:
                    chunk: Any = self._client.lrange(key, start, start + CHUNK - 1)
                    yield from chunk
                    if len(chunk) < CHUNK:
                        break
                    start += CHUNK
        for _, value in self._client.hscan_iter(UNACKED_HASH, count=CHUNK):
            yield value
        for stream in self._streams:
            last = "-"
            while True:
                entries: Any = self._client.xrange(stream, min=last, count=CHUNK)
                for _, fields in entries:
                    yield fields.get(b"event", b"")
                if len(entries) < CHUNK:
                    break
                last = "(" + entries[-1][0].decode()

    def held(self, task_ids: set[str]) -> set[str]:
        wanted = {task_id: task_id.encode() for task_id in task_ids}
        found: set[str] = set()
        for raw in self._messages():
            # Task ids are UUIDs: a substring test is exact enough and needs no JSON parsing.
            for task_id, needle in wanted.items():
                if needle in raw:
                    found.add(task_id)
            if len(found) == len(wanted):
                break
        return found
