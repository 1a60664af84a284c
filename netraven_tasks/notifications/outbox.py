"""The outbox: every notification is a row, claimed before it is sent and marked sent after.

A row's unique key ((recipient, channel, job, event) or (recipient, channel, period, start)) makes
enqueueing idempotent. A claim is a compare-and-set UPDATE that only one sender can win; it
holds for ``CLAIM_LEASE`` so a sender killed mid-send leaves a claim that expires and the row is
sent by the next run. Transient failures are retried with exponential backoff, permanent ones
are recorded and left alone.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.backoff import delay as backoff_delay
from netraven_tasks.models import utcnow
from netraven_tasks.notifications.channels.base import Channel, OutgoingMessage, TransportError
from netraven_tasks.notifications.models import MessageKind, OutboxMessage, OutboxState

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)  # far longer than one send may take (SMTP timeouts are 30 s)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 20  # about 15 hours of retries before a message is given up
ERROR_LIMIT = 2_000
WRITE_RETRY_BASE = 0.5  # seconds before retrying a failed bookkeeping transaction: 0.5, 1, 2, 4
WRITE_RETRY_MAX = 4.0


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: 30 s, 1 min, 2 min, … capped at 1 h."""
    seconds = backoff_delay(attempts, BACKOFF_BASE.total_seconds(), BACKOFF_MAX.total_seconds())
    return timedelta(seconds=seconds)


def new_message_id(mail_from: str) -> str:
    """An RFC 5322 Message-ID, fixed when the row is made so every retry carries the same one."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "netraven.localhost"
    return f"<netraven.{uuid.uuid4().hex}@{domain}>"


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _new_row(values: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    return {
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        **values,
    }


def enqueue(session: Session, **values: Any) -> int | None:
    """Insert one outbox row unless its unique key exists; returns the new id or None."""
    statement = (
        _insert(session)(OutboxMessage)
        .values(**_new_row(values))
        .on_conflict_do_nothing()
        .returning(OutboxMessage.id)
    )
    return session.scalar(statement)


def enqueue_many(session: Session, rows: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Insert many outbox rows in one statement, skipping those whose unique key exists;
    returns ``{user_id: new id}`` of the rows inserted (digests: one row per user)."""
    if not rows:
        return {}
    statement = (
        _insert(session)(OutboxMessage)
        .values([_new_row(row) for row in rows])
        .on_conflict_do_nothing()
        .returning(OutboxMessage.user_id, OutboxMessage.id)
    )
    return {int(user_id): int(outbox_id) for user_id, outbox_id in session.execute(statement)}


def enqueue_job_message(
    session: Session,
    *,
    user_id: int,
    channel: str,
    job_log_id: int,
    event: str,
    address: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    payload: dict[str, Any] | None,
    message_id: str,
    next_attempt_at: datetime | None = None,  # quiet hours: not before the window's end
) -> int | None:
    """The one message about (recipient, channel, job, event); None if it was enqueued before."""
    return enqueue(
        session,
        next_attempt_at=next_attempt_at or utcnow(),
        user_id=user_id,
        channel=channel,
        kind=MessageKind.JOB.value,
        job_log_id=job_log_id,
        event=event,
        address=address,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        payload=payload,
        message_id=message_id,
    )


def digest_message_row(
    *,
    user_id: int,
    period: str,
    period_start: datetime,
    address: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    message_id: str,
) -> dict[str, Any]:
    """The outbox row of the one digest of (recipient, period, start), for ``enqueue_many``."""
    return {
        "user_id": user_id,
        "channel": "email",
        "kind": MessageKind.DIGEST.value,
        "period": period,
        "period_start": period_start,
        "address": address,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "message_id": message_id,
    }


def enqueue_digest_message(session: Session, **values: Any) -> int | None:
    """The one digest of (recipient, period, start); None if that digest exists already."""
    return enqueue(session, **digest_message_row(**values))


def _message_columns() -> list[Any]:
    """The outbox columns of an ``OutgoingMessage``, labelled as its fields."""
    row = OutboxMessage
    return [row.channel, row.address, row.subject, row.body_text.label("text"),
            row.body_html.label("html"), row.payload, row.message_id, row.user_id]  # fmt: skip


def _claimable(now: datetime) -> Any:
    return or_(
        and_(OutboxMessage.state == OutboxState.PENDING.value, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.state == OutboxState.SENDING.value, OutboxMessage.claimed_until < now),
    )


def due_ids(
    session: Session, now: datetime, limit: int = 200, only: Sequence[int] | None = None
) -> list[int]:
    """Ids of rows a sender may claim now, oldest first."""
    query = select(OutboxMessage.id).where(_claimable(now), OutboxMessage.attempts < MAX_ATTEMPTS)
    if only is not None:
        query = query.where(OutboxMessage.id.in_(list(only)))
    return list(session.scalars(query.order_by(OutboxMessage.id).limit(limit)))


def claim_message(
    session: Session, message_id: int, now: datetime, lease: timedelta = CLAIM_LEASE
) -> tuple[str, OutgoingMessage] | None:
    """Take the row for sending (compare-and-set) and read what to send in the same statement;
    returns the claim token and the message, or None if the row is not ours to send."""
    token = str(uuid.uuid4())
    row = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _claimable(now), OutboxMessage.attempts < MAX_ATTEMPTS)
        .values(
            state=OutboxState.SENDING.value,
            claim_token=token,
            claimed_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(*_message_columns())
        .execution_options(synchronize_session=False)
    ).one_or_none()
    return None if row is None else (token, OutgoingMessage(**row._asdict()))


def claim(session: Session, message_id: int, now: datetime, lease: timedelta = CLAIM_LEASE) -> str | None:
    """Take the row for sending (compare-and-set); returns the claim token, or None if not ours."""
    claimed = claim_message(session, message_id, now, lease)
    return None if claimed is None else claimed[0]


def mark_sent(session: Session, message_id: int, token: str, provider_message_id: str, now: datetime) -> bool:
    """Record the provider's id; False if our claim was lost (it expired and someone else took it)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
        .values(
            state=OutboxState.SENT.value,
            provider_message_id=provider_message_id[:255],
            sent_at=now,
            claimed_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_failed(
    session: Session, message_id: int, token: str, error: str, *, permanent: bool, now: datetime
) -> str | None:
    """Record a failed try: retry later with backoff, or give up. Returns the new state."""
    attempts = session.scalar(
        select(OutboxMessage.attempts).where(
            OutboxMessage.id == message_id, OutboxMessage.claim_token == token
        )
    )
    if attempts is None:
        return None
    give_up = permanent or attempts >= MAX_ATTEMPTS
    state = OutboxState.FAILED if give_up else OutboxState.PENDING
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
        .values(
            state=state.value,
            last_error=error[:ERROR_LIMIT],
            next_attempt_at=now + backoff(attempts),
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return state.value


def give_up_abandoned(session: Session, now: datetime) -> int:
    """Rows whose every attempt died with its sender (a message that kills workers) are failed."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.state == OutboxState.SENDING.value,
            OutboxMessage.claimed_until < now,
            OutboxMessage.attempts >= MAX_ATTEMPTS,
        )
        .values(state=OutboxState.FAILED.value, last_error="gave up: every attempt was interrupted")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined,no-any-return]


def sent_to(
    session: Session, user_id: int, limit: int = 50, offset: int = 0
) -> tuple[list[OutboxMessage], int]:
    """A page of what was sent to one user, newest first, and how many there are in all
    (for ``GET /users/{user_id}/notifications``)."""
    sent = (OutboxMessage.user_id == user_id) & (OutboxMessage.state == OutboxState.SENT.value)
    query = (
        select(OutboxMessage)
        .where(sent)
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(select(func.count()).select_from(OutboxMessage).where(sent)) or 0
    return list(session.scalars(query)), total


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # claimed by another sender meanwhile

    def as_dict(self) -> dict[str, int]:
        return {k: len(v) for k, v in vars(self).items()}


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """A clock starting at ``now`` (a test's fixed time) and moving with real time."""
    if now is None:
        return utcnow
    start = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - start)


def _write(session: Session, what: Callable[[Session], Any], attempts: int = 5) -> Any:
    """Run a small bookkeeping transaction, retrying a short database hiccup: losing the record
    of a sent message would send it again once its claim expires."""
    for attempt in range(attempts):
        try:
            with session.begin():
                return what(session)
        except Exception:
            if attempt == attempts - 1:
                raise
            log.warning("outbox bookkeeping failed, retrying", exc_info=True)
            time.sleep(backoff_delay(attempt + 1, WRITE_RETRY_BASE, WRITE_RETRY_MAX))
    return None


@dataclass
class _Outcome:
    """How one send went, to be recorded on its row (with the next row's claim, in one transaction)."""

    message_id: int
    token: str
    channel: str
    provider_id: str = ""
    failure: TransportError | None = None

    def record(self, session: Session, now: datetime) -> bool | str | None:
        if self.failure is None:
            return mark_sent(session, self.message_id, self.token, self.provider_id, now)
        failure = self.failure
        return mark_failed(
            session, self.message_id, self.token, failure.message, permanent=failure.permanent, now=now
        )

    def report(self, recorded: bool | str | None, report: DeliveryReport) -> None:
        if self.failure is None:
            if not recorded:
                log.error(
                    "outbox %s was sent but its claim had expired; it may be sent twice", self.message_id
                )
            report.sent.append(self.message_id)
            return
        log.warning("outbox %s via %s failed (%s): %s", self.message_id, self.channel, recorded,
                    self.failure.message)  # fmt: skip
        (report.failed if recorded == OutboxState.FAILED.value else report.retrying).append(self.message_id)


def deliver_due(
    sessions: sessionmaker[Session],
    channels: Mapping[str, Channel],
    *,
    now: datetime | None = None,
    limit: int = 200,
    only: Sequence[int] | None = None,
    lease: timedelta = CLAIM_LEASE,
) -> DeliveryReport:
    """Send every due row (or the due ones among ``only``), one claim at a time, one batch per channel.

    One database connection serves the run, and one transaction per message records how the
    previous send went and claims the next row: a sent message is marked before the next one is
    claimed, so a sender killed at any point leaves at most one row in ``sending``."""
    clock = _clock(now)
    report = DeliveryReport()
    with _sender_session(sessions) as session:
        with session.begin():
            give_up_abandoned(session, clock())
            ids = due_ids(session, clock(), limit, only)
        try:
            outcome: _Outcome | None = None
            for message_id in ids:
                outcome = _deliver_next(session, channels, outcome, message_id, clock, lease, report)
            if outcome is not None:
                last = outcome
                last.report(_write(session, lambda s: last.record(s, clock())), report)
        finally:
            for channel in channels.values():
                try:
                    channel.close()
                except Exception:
                    log.warning("closing channel %s failed", channel.name, exc_info=True)
    return report


@contextmanager
def _sender_session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session on one connection for the whole run, whose commits do not wait for the WAL flush
    on PostgreSQL (``synchronous_commit = off``): a killed sender loses nothing, since the server
    has the commit; only a database crash could lose the last fraction of a second of records
    (those messages would be sent again), the same window a crash between send and record has."""
    engine = sessions.kw["bind"]
    with engine.connect() as connection:
        fast = connection.dialect.name == "postgresql"
        if fast:
            connection.exec_driver_sql("SET synchronous_commit = off")
            connection.commit()
        try:
            with sessions(bind=connection) as session:
                yield session
        finally:
            if fast:
                try:  # the connection goes back to the pool: the next user gets durable commits
                    connection.rollback()
                    connection.exec_driver_sql("RESET synchronous_commit")
                    connection.commit()
                except Exception:
                    connection.invalidate()
                    log.warning("could not reset synchronous_commit; connection discarded", exc_info=True)


def _deliver_next(
    session: Session,
    channels: Mapping[str, Channel],
    previous: _Outcome | None,
    message_id: int,
    clock: Callable[[], datetime],
    lease: timedelta,
    report: DeliveryReport,
) -> _Outcome | None:
    """Record ``previous`` and claim ``message_id`` in one transaction, then send it."""

    def record_and_claim(s: Session) -> tuple[Any, tuple[str, OutgoingMessage] | None]:
        recorded = previous.record(s, clock()) if previous is not None else None
        return recorded, claim_message(s, message_id, clock(), lease)

    recorded, claimed = _write(session, record_and_claim)
    if previous is not None:
        previous.report(recorded, report)
    if claimed is None:
        report.skipped.append(message_id)
        return None
    token, message = claimed
    channel = channels.get(message.channel)
    outcome = _Outcome(message_id, token, message.channel)
    try:
        if channel is None:
            raise TransportError(f"no channel {message.channel!r} is configured", permanent=True)
        outcome.provider_id = channel.send(message).provider_message_id
    except TransportError as error:
        outcome.failure = error
    except Exception as error:  # a bug or an unexpected library error: keep the message, retry it
        log.exception("outbox %s via %s raised", message_id, message.channel)
        outcome.failure = TransportError(f"{type(error).__name__}: {error}", permanent=False)
    return outcome
