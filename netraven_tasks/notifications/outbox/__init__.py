"""The outbox: every notification is a row, claimed before it is sent and marked sent after.

A row's unique key ((recipient, channel, job, event) or (recipient, channel, period, start)) makes
enqueueing idempotent. A claim is a compare-and-set UPDATE that only one sender can win; it
holds for ``CLAIM_LEASE`` so a sender killed mid-send leaves a claim that expires and the row is
sent by the next run. Transient failures are retried with exponential backoff, permanent ones
are recorded and left alone.

The package: ``rows`` (enqueue), ``claims`` (due rows, claims, sent/failed records, backoff) and
``delivery`` (``deliver_due``). The names others use are importable from here.
"""

from __future__ import annotations

from netraven_tasks.notifications.outbox.claims import (
    BACKOFF_BASE,
    BACKOFF_MAX,
    CLAIM_LEASE,
    ERROR_LIMIT,
    MAX_ATTEMPTS,
    backoff,
    claim,
    claim_message,
    due_ids,
    give_up_abandoned,
    mark_failed,
    mark_sent,
    sent_to,
)
from netraven_tasks.notifications.outbox.delivery import DeliveryReport, deliver_due
from netraven_tasks.notifications.outbox.rows import (
    digest_message_row,
    enqueue,
    enqueue_digest_message,
    enqueue_job_message,
    enqueue_many,
    new_message_id,
)

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "CLAIM_LEASE",
    "ERROR_LIMIT",
    "MAX_ATTEMPTS",
    "DeliveryReport",
    "backoff",
    "claim",
    "claim_message",
    "deliver_due",
    "digest_message_row",
    "due_ids",
    "enqueue",
    "enqueue_digest_message",
    "enqueue_job_message",
    "enqueue_many",
    "give_up_abandoned",
    "mark_failed",
    "mark_sent",
    "new_message_id",
    "sent_to",
]
