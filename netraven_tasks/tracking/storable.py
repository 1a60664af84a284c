"""Making a tracking event storable: what a job, a device or a user hands us is data of any shape.

PostgreSQL refuses NUL characters in text and JSON, no UTF-8 codec accepts a lone surrogate,
``NaN`` is not JSON, a 10 MB result has no place in a row, and a result nested a thousand deep
overflows the JSON encoder. Every event is passed through ``storable_event`` before it is
written (and before it is appended to the stream), so one odd job cannot stop the recorder;
what still fails is isolated by ``tracking.isolation``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from netraven_tasks.text import truncate
from netraven_tasks.tracking.events import TrackingEvent

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
# Column sizes of job_logs (models.JobLog) and the caps of free text and JSON.
TASK_ID_LIMIT = 64
JOB_TYPE_LIMIT = 100
SHORT_TEXT_LIMIT = 255
MESSAGE_LIMIT = 2_000
TRACEBACK_LIMIT = 8_000
JSON_LIMIT = 16_000
JSON_DEPTH_LIMIT = 20
JSON_ITEMS_LIMIT = 1_000
INT_LIMIT = 2**31 - 1
JSON_INT_LIMIT = 2**63 - 1


def storable_text(value: str, limit: int | None = None) -> str:
    """``value`` without NUL or lone surrogates, cut to ``limit`` characters (a marker says so)."""
    if not value.isascii() or "\x00" in value:
        # "replace" turns every lone surrogate into "?": the rest of the text is kept as is.
        value = value.replace("\x00", REPLACEMENT).encode("utf-8", "replace").decode("utf-8")
    if limit is not None and len(value) > limit:
        value = truncate(value, limit)
    return value


def storable_json(value: Any, depth: int = 0) -> Any:
    """A JSON-able copy of ``value``: clean strings, finite numbers, bounded depth and width."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return storable_text(value, JSON_LIMIT)
    if isinstance(value, int):
        # Python's int has no bound; JSON columns and int() of a huge literal have one.
        return (
            value if -JSON_INT_LIMIT <= value <= JSON_INT_LIMIT else f"<integer of {value.bit_length()} bits>"
        )
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= JSON_DEPTH_LIMIT:
        return "[nested too deep]"
    if isinstance(value, dict):
        items = list(value.items())[:JSON_ITEMS_LIMIT]
        return {
            storable_text(str(key), SHORT_TEXT_LIMIT): storable_json(item, depth + 1) for key, item in items
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [storable_json(item, depth + 1) for item in list(value)[:JSON_ITEMS_LIMIT]]
    return storable_text(_safe_repr(value), SHORT_TEXT_LIMIT)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a hostile __repr__ must not stop the recorder either
        return f"<unrepresentable {type(value).__name__}>"


def storable_object(value: Any) -> dict[str, Any] | None:
    """A JSON object for a JSON column, at most ``JSON_LIMIT`` characters encoded."""
    if value is None:
        return None
    clean = storable_json(value)
    summary = clean if isinstance(clean, dict) else {"value": clean}
    encoded = json.dumps(summary)
    if len(encoded) > JSON_LIMIT:
        return {"truncated": True, "preview": encoded[:JSON_LIMIT]}
    return summary


def _text(value: str | None, limit: int) -> str | None:
    return None if value is None else storable_text(str(value), limit)


def _bounded_int(value: int | None, low: int, high: int) -> int | None:
    if value is None:
        return None
    return min(max(int(value), low), high)


def storable_event(event: TrackingEvent) -> TrackingEvent:
    """The event with every field made storable; the same object when nothing had to change."""
    changes: dict[str, Any] = {}
    for name, limit in (
        ("task_id", TASK_ID_LIMIT),
        ("job_type", JOB_TYPE_LIMIT),
        ("device", SHORT_TEXT_LIMIT),
        ("worker", SHORT_TEXT_LIMIT),
        ("error_type", SHORT_TEXT_LIMIT),
        ("error_message", MESSAGE_LIMIT),
    ):
        value = getattr(event, name)
        clean = _text(value, limit)
        if clean != value:
            changes[name] = clean
    if event.traceback is not None:
        # The innermost frames and the error are at the end: keep that part.
        tail = storable_text(str(event.traceback)[-TRACEBACK_LIMIT:])
        if tail != event.traceback:
            changes["traceback"] = tail
    for name in ("args", "result"):
        value = getattr(event, name)
        if value is not None:
            clean_object = storable_object(value)
            if clean_object != value:
                changes[name] = clean_object
    retries = _bounded_int(event.retries, 0, INT_LIMIT) or 0
    if retries != event.retries:
        changes["retries"] = retries
    owner = event.owner_id
    if owner is not None and not (isinstance(owner, int) and 0 < owner <= INT_LIMIT):
        changes["owner_id"] = None  # not a user id we could have issued
    return dataclasses.replace(event, **changes) if changes else event
