"""Recording audit events: in the same transaction as the change they describe.

A request that may change state opens a *draft* (``auditing``): who, from where, which action.
Every SQLAlchemy session of the process reports to the draft of its context (a ``ContextVar``,
so threads and requests never mix): before a flush, the ORM objects it creates, changes or
deletes (their changed columns, before and after, secrets masked); and the first session that
commits a change while the draft is open writes the ``audit_events`` row in that same commit.
So the row exists exactly when the change does: a request refused or rolled back writes none,
and a launch that commits its queued row in a session of its own carries the row with it.
Changes made with Core statements (``INSERT``/``UPDATE`` without objects) count as a change; the
draft then records the request's body instead of columns.

Sign-ins change nothing, so they are written on their own (``record_event``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from netraven_tasks.audit.models import AuditEvent
from netraven_tasks.models import utcnow

MAX_TEXT = 500  # characters of one value kept in ``changes``
# ``target``: a route's webhook URL or routing/API key.
_SECRET = re.compile(r"password|secret|token|hash|sha256|key$|api_key|routing_key|^target$", re.IGNORECASE)
_URL = re.compile(r"url|webhook", re.IGNORECASE)
_PHONE = re.compile(r"sms|phone", re.IGNORECASE)
MASK = "***"
WROTE = "netraven_audit_wrote"  # session.info: this session ran a change while a draft was open


@dataclass
class AuditDraft:
    """What one request will record, once a change of it commits."""

    action: str
    actor_id: int | None = None
    actor: str = "-"
    address: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    request_body: Any = None
    written: bool = False
    noted: bool = False  # the target was named by ``note_change``: it wins over the path's
    # Who acted, asked when the row is made (a request authenticates after its draft opens).
    actor_of: Callable[[], tuple[int | None, str]] | None = None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _created: list[Any] = field(default_factory=list)

    def event(self, at: datetime) -> AuditEvent:
        target_type, target_id = self.target_type, self.target_id
        if self._created and not self.noted:  # the first object the request made is what it was about
            first = self._created[0]
            target_type = inspect(first).mapper.local_table.name
            target_id = _identity(first) or target_id
        changes: dict[str, Any] = {key: value for key, value in self.changes.items() if value}
        for obj in self._created:
            changes.setdefault(f"{inspect(obj).mapper.local_table.name}:{_identity(obj)}", {}).update(
                {"after": _columns(obj)}
            )
        if not changes and self.request_body is not None:
            changes = {"request": masked(self.request_body)}
        if self.actor_of is not None:
            self.actor_id, self.actor = self.actor_of()
        return AuditEvent(
            at=at,
            actor_id=self.actor_id,
            actor=self.actor[:150],
            action=self.action[:200],
            target_type=(target_type or "")[:64] or None,
            target_id=(target_id or "")[:255] or None,
            changes=changes,
            address=(self.address or "")[:64] or None,
        )


_current: ContextVar[AuditDraft | None] = ContextVar("netraven_audit_draft", default=None)


@contextmanager
def auditing(draft: AuditDraft) -> Iterator[AuditDraft]:
    """Open ``draft`` for the changes made inside the block (``install`` must have run)."""
    token = _current.set(draft)
    try:
        yield draft
    finally:
        _current.reset(token)


def open_draft(draft: AuditDraft) -> object:
    """``auditing`` for frameworks with separate begin and end hooks: returns what ``close_draft``
    takes."""
    return _current.set(draft)


def close_draft(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def current_draft() -> AuditDraft | None:
    return _current.get()


@contextmanager
def paused() -> Iterator[None]:
    """Writes inside the block are not the request's change (e.g. a token's last use)."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def note_change(session: Session, target_type: str, target_id: object) -> None:
    """Say that ``session`` changes ``target_type`` ``target_id`` by means the ORM does not see
    (bulk SQL on the DBAPI cursor): its commit then carries the open draft's row, about it."""
    draft = _current.get()
    if draft is None or draft.written:
        return
    session.info[WROTE] = True
    if not draft.noted:
        draft.target_type, draft.target_id, draft.noted = target_type, str(target_id), True


def record_event(sessions: sessionmaker[Session], draft: AuditDraft) -> None:
    """Write ``draft`` now, in a transaction of its own (a sign-in: nothing else changes)."""
    with sessions.begin() as session:
        session.add(draft.event(utcnow()))
    draft.written = True


def masked(value: Any, key: str = "") -> Any:
    """``value`` as it may be stored in the audit log: secrets hidden, URLs cut to their host,
    phone numbers to their last two digits, long text cut, anything else as text."""
    if value is None or isinstance(value, bool | int | float):
        return MASK if _SECRET.search(key) and value is not None and not isinstance(value, bool) else value
    if isinstance(value, dict):
        return {str(k): masked(v, str(k)) for k, v in list(value.items())[:100]}
    if isinstance(value, list | tuple | set):
        return [masked(v, key) for v in list(value)[:100]]
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if _SECRET.search(key):
        return MASK
    if _URL.search(key):
        parts = urlsplit(text)
        return f"{parts.scheme}://{parts.hostname}/…" if parts.scheme and parts.hostname else MASK
    if _PHONE.search(key):
        return "…" + text[-2:]
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _identity(obj: Any) -> str | None:
    identity = inspect(obj).identity
    return ",".join(str(part) for part in identity) if identity else None


def _columns(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    columns = state.mapper.columns
    return {attr.key: masked(attr.value, attr.key) for attr in state.attrs if attr.key in columns}


def _changed_columns(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.attrs:
        if attr.key not in state.mapper.columns:
            continue
        history = attr.load_history()
        if not history.has_changes():
            continue
        before[attr.key] = masked(history.deleted[0] if history.deleted else None, attr.key)
        after[attr.key] = masked(history.added[0] if history.added else None, attr.key)
    return {"before": before, "after": after} if after else {}


def _capture(session: Session, _flush_context: Any, _instances: Any) -> None:
    draft = _current.get()
    if draft is None or draft.written:
        return
    for obj in session.new:
        if not isinstance(obj, AuditEvent) and obj not in draft._created:
            draft._created.append(obj)
            session.info[WROTE] = True
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) or not session.is_modified(obj):
            continue
        changed = _changed_columns(obj)
        if changed:
            key = f"{inspect(obj).mapper.local_table.name}:{_identity(obj)}"
            draft.changes.setdefault(key, {}).update(changed)
            session.info[WROTE] = True
    for obj in session.deleted:
        if not isinstance(obj, AuditEvent):
            key = f"{inspect(obj).mapper.local_table.name}:{_identity(obj)}"
            draft.changes[key] = {"before": _columns(obj), "after": None}
            session.info[WROTE] = True


def _note_statement(state: ORMExecuteState) -> None:
    if _current.get() is not None and (state.is_insert or state.is_update or state.is_delete):
        state.session.info[WROTE] = True


def _write(session: Session) -> None:
    draft = _current.get()
    if draft is None or draft.written:
        return
    session.flush()  # what is pending reports to the draft (``_capture``) before the row is made
    if not session.info.pop(WROTE, False):
        return
    session.add(draft.event(utcnow()))
    draft.written = True


def _forget(session: Session) -> None:
    session.info.pop(WROTE, None)


_installed = False


def install() -> None:
    """Listen on every session of the process (once); without an open draft they do nothing."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _capture)
    event.listen(Session, "do_orm_execute", _note_statement)
    event.listen(Session, "before_commit", _write)
    event.listen(Session, "after_rollback", _forget)
    _installed = True
