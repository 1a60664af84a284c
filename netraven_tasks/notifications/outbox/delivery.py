"""Sending the due outbox rows: one claim at a time, one batch per channel, on one connection.

One transaction per message records how the previous send went and claims the next row, so a
sender killed at any point leaves at most one row in ``sending``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.backoff import delay as backoff_delay
from netraven_tasks.models import utcnow
from netraven_tasks.notifications.channels.base import Channel, OutgoingMessage, TransportError
from netraven_tasks.notifications.models import OutboxState
from netraven_tasks.notifications.outbox.claims import (
    CLAIM_LEASE,
    claim_message,
    due_ids,
    give_up_abandoned,
    mark_failed,
    mark_sent,
)

log = logging.getLogger(__name__)

WRITE_RETRY_BASE = 0.5  # seconds before retrying a failed bookkeeping transaction: 0.5, 1, 2, 4
WRITE_RETRY_MAX = 4.0


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
