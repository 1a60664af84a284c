"""Dead letters: tracking events the database refused even once made storable, kept with the error.

With Redis (the stream path) they go to their own Redis Stream, beside the events they left;
on the embedded default (no Redis) to one JSON file each under ``<var>/dead-letters/``. Either
way ``netraven-tasks tracking dead-letters`` lists them and replays or drops one, and
``/metrics`` counts them. The event is kept as ASCII JSON, so storing it can never fail the way
writing it did.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis

from netraven_tasks.settings import Settings
from netraven_tasks.tracking.events import TrackingEvent

DEAD_LETTER_STREAM = "netraven:tracking:dead-letters"


def encode_event(event: TrackingEvent) -> str:
    """The event as ASCII JSON (``ensure_ascii``: no NUL or surrogate can survive as such)."""
    return json.dumps(event.to_dict(), default=str)


@dataclass(frozen=True)
class DeadLetter:
    id: str
    event: str  # the event as JSON, as it was refused
    error: str
    at: str  # ISO time it was dead-lettered
    source: str  # which stream (or "sync") it came from

    def fields(self) -> dict[str, Any]:
        """The event's fields, or {} when it is not even JSON."""
        try:
            decoded = json.loads(self.event)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}


class DeadLetters(Protocol):
    def add(self, event: str, error: str, source: str) -> str: ...

    def list(self, limit: int = 100) -> list[DeadLetter]: ...

    def get(self, letter_id: str) -> DeadLetter | None: ...

    def remove(self, letter_id: str) -> bool: ...

    def count(self) -> int: ...


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _text(value: bytes | None) -> str:
    return (value or b"").decode("utf-8", "backslashreplace")


class RedisDeadLetters:
    """Dead letters in a Redis Stream; the stream id is the letter's id."""

    def __init__(self, client: redis.Redis, stream: str = DEAD_LETTER_STREAM):
        self._client = client
        self._stream = stream

    def add(self, event: str, error: str, source: str) -> str:
        letter_id: Any = self._client.xadd(
            self._stream, {"event": event, "error": error, "at": _now_iso(), "source": source}
        )
        return letter_id.decode() if isinstance(letter_id, bytes) else str(letter_id)

    @staticmethod
    def _letter(entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
        return DeadLetter(
            id=entry_id.decode(),
            event=_text(fields.get(b"event")),
            error=_text(fields.get(b"error")),
            at=_text(fields.get(b"at")),
            source=_text(fields.get(b"source")),
        )

    def list(self, limit: int = 100) -> list[DeadLetter]:
        entries: Any = self._client.xrange(self._stream, count=limit)
        return [self._letter(entry_id, fields) for entry_id, fields in entries if fields]

    def get(self, letter_id: str) -> DeadLetter | None:
        try:
            entries: Any = self._client.xrange(self._stream, min=letter_id, max=letter_id, count=1)
        except redis.ResponseError:  # not a stream id at all
            return None
        return self._letter(*entries[0]) if entries and entries[0][1] else None

    def remove(self, letter_id: str) -> bool:
        try:
            return bool(self._client.xdel(self._stream, letter_id))
        except redis.ResponseError:
            return False

    def count(self) -> int:
        return int(self._client.xlen(self._stream))


class DirectoryDeadLetters:
    """Dead letters as one JSON file each: the embedded default has no Redis to keep them."""

    def __init__(self, directory: Path):
        self._directory = directory

    def _path(self, letter_id: str) -> Path | None:
        # Ids are ours (time-uuid); anything else could name a file elsewhere.
        if not letter_id.replace("-", "").isalnum():
            return None
        return self._directory / f"{letter_id}.json"

    def add(self, event: str, error: str, source: str) -> str:
        self._directory.mkdir(parents=True, exist_ok=True)
        letter_id = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        record = {"event": event, "error": error, "at": _now_iso(), "source": source}
        # Write then rename: a reader never sees half a letter.
        with tempfile.NamedTemporaryFile("w", dir=self._directory, suffix=".tmp", delete=False) as handle:
            json.dump(record, handle)
        os.replace(handle.name, self._directory / f"{letter_id}.json")
        return letter_id

    def _read(self, path: Path) -> DeadLetter | None:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return DeadLetter(
            id=path.stem,
            event=str(record.get("event", "")),
            error=str(record.get("error", "")),
            at=str(record.get("at", "")),
            source=str(record.get("source", "")),
        )

    def _paths(self) -> list[Path]:
        if not self._directory.is_dir():
            return []
        return sorted(self._directory.glob("*.json"), key=lambda p: int(p.stem.split("-")[0]))

    def list(self, limit: int = 100) -> list[DeadLetter]:
        letters = (self._read(path) for path in self._paths()[:limit])
        return [letter for letter in letters if letter is not None]

    def get(self, letter_id: str) -> DeadLetter | None:
        path = self._path(letter_id)
        return self._read(path) if path is not None and path.exists() else None

    def remove(self, letter_id: str) -> bool:
        path = self._path(letter_id)
        if path is None:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def count(self) -> int:
        return len(self._paths())


def count(client: redis.Redis) -> int:
    """How many dead letters wait in Redis (for /metrics)."""
    return int(client.xlen(DEAD_LETTER_STREAM))


def dead_letters_for(settings: Settings, client: redis.Redis | None = None) -> DeadLetters:
    """Where this installation keeps its dead letters: Redis when the broker is Redis, else var/."""
    if (url := settings.redis_url_in_use) is not None:
        return RedisDeadLetters(client if client is not None else redis.Redis.from_url(url))
    return DirectoryDeadLetters(settings.var_dir / "dead-letters")
