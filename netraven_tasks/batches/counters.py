"""A batch's counters, kept by the recorder in the transaction that writes its children.

The deltas come from each child's status before and after the transaction (read under the
child's row lock), never from the events themselves: a duplicate, late or redelivered event that
changes no child changes no counter. One UPDATE per batch adds the deltas; one more UPDATE
settles every batch whose last active child just ended, guarded by ``status = 'running'`` under
the batch's row lock, so a batch settles exactly once whoever commits its last child.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, update
from sqlalchemy.orm import Session

from netraven_tasks.batches.models import ACTIVE_COUNTERS, COUNTED, Batch, BatchStatus
from netraven_tasks.models import utcnow

_TABLE: Table = Batch.__table__  # type: ignore[assignment]

# (batch id, the child's status before (None: the row is new), its status after)
Move = tuple[int, str | None, str]


@dataclass(frozen=True)
class BatchSettled:
    """A batch whose last child just ended, as committed: what a summary is planned from."""

    batch_id: int
    job_type: str
    status: str
    total: int
    counts: dict[str, int]
    owner_id: int | None
    schedule_id: int | None
    finished_at: datetime


def batch_row(row: Any) -> dict[str, Any]:
    """The batch as the API and the live feed show it (one row, no child read)."""
    counts = {status: int(getattr(row, status)) for status in COUNTED}
    done = row.total - sum(counts[status] for status in ACTIVE_COUNTERS)
    return {
        "id": row.id,
        "job_type": row.job_type,
        "status": row.status,
        "total": row.total,
        "counts": counts,
        "progress": round(done / row.total, 4) if row.total else 1.0,
        "owner": row.owner_id,
        "team_id": row.team_id,
        "schedule_id": row.schedule_id,
        "rerun_of": row.rerun_of,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def deltas(moves: Iterable[Move]) -> dict[int, Counter[str]]:
    """Per batch, how much each counter changes (zero deltas dropped)."""
    per_batch: dict[int, Counter[str]] = {}
    for batch_id, before, after in moves:
        if before == after:
            continue
        counter = per_batch.setdefault(batch_id, Counter())
        if before is not None:
            counter[before] -= 1
        counter[after] += 1
    return {batch_id: counter for batch_id, counter in per_batch.items() if any(counter.values())}


def _settled_status(counts: dict[str, Any]) -> Any:
    """How a batch ends, from its counters' values after this transaction's deltas."""
    completed, unsuccessful = counts["completed"], counts["failed"] + counts["canceled"]
    return case(
        (_TABLE.c.canceled_by.is_not(None), BatchStatus.CANCELED.value),
        ((completed > 0) & (unsuccessful == 0), BatchStatus.COMPLETED.value),
        (completed == 0, BatchStatus.FAILED.value),
        else_=BatchStatus.PARTIAL.value,
    )


def count_moves(session: Session, moves: Sequence[Move]) -> tuple[list[dict[str, Any]], list[BatchSettled]]:
    """Apply the children's moves to their batches' counters and settle the batches that are done;
    returns the changed batches' rows (for the live feed) and the batches settled now.

    One ``UPDATE … RETURNING`` per batch (in id order: no deadlock between recorders) adds the
    deltas and, when the batch was running and no child is left active after them, settles it in
    the same statement: its SET clauses read the row as it was, under the row's lock, so a batch
    settles exactly once whoever commits its last child. A batch settled by this statement is
    the one whose ``finished_at`` is this transaction's ``now``."""
    changes = deltas(moves)
    if not changes:
        return [], []
    now = utcnow()
    columns = _TABLE.c
    rows: list[Any] = []
    for batch_id in sorted(changes):
        counter = changes[batch_id]
        counts = {status: columns[status] + counter.get(status, 0) for status in COUNTED}
        ends = (columns.status == BatchStatus.RUNNING.value) & (sum(counts[s] for s in ACTIVE_COUNTERS) == 0)
        values: dict[str, Any] = {status: counts[status] for status in COUNTED if counter.get(status)}
        statement = (
            update(_TABLE)
            .where(columns.id == batch_id)
            .values(
                updated_at=now,
                status=case((ends, _settled_status(counts)), else_=columns.status),
                finished_at=case((ends, now), else_=columns.finished_at),
                **values,
            )
            .returning(*columns)
        )
        rows.extend(session.execute(statement))
    settled = [
        BatchSettled(
            batch_id=row.id,
            job_type=row.job_type,
            status=row.status,
            total=row.total,
            counts={status: int(getattr(row, status)) for status in COUNTED},
            owner_id=row.owner_id,
            schedule_id=row.schedule_id,
            finished_at=row.finished_at,
        )
        for row in rows
        if row.finished_at == now
    ]
    return [batch_row(row) for row in rows], settled
