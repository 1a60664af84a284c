"""``GET /batches/{id}`` at fleet size: the batch is one row, and its failed devices are read through
the children's ``(batch_id, status)`` index, as many rows as failed children, never a scan of all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from netraven_tasks.batches.models import Batch
from netraven_tasks.batches.queries import describe_batch
from netraven_tasks.models import JobLog, utcnow

CHILDREN = 10_000
FAILING_EVERY = 50


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_failed_devices_read_only_the_failed_children_through_the_index(clean_db, db_session):
    now = utcnow()
    batch = Batch(job_type="reachability_check", status="running", total=CHILDREN, arguments={},
                  targets={"site": "FRA"}, failed=CHILDREN // FAILING_EVERY,
                  completed=CHILDREN - CHILDREN // FAILING_EVERY)  # fmt: skip
    other = Batch(job_type="reachability_check", status="running", total=CHILDREN, arguments={},
                  targets={"site": "FRA"}, failed=CHILDREN // FAILING_EVERY)  # fmt: skip
    db_session.add_all([batch, other])
    db_session.flush()
    failed = lambda i: i % FAILING_EVERY == 0  # noqa: E731
    db_session.execute(
        sa.insert(JobLog),
        [{"task_id": f"{owner.id}-{i}", "job_type": "reachability_check", "device": f"dev-{i:05d}",
          "status": "failed" if failed(i) else "completed", "attempts": 1, "celery_retries": 0,
          "queued_at": now, "updated_at": now, "batch_id": owner.id}
         for owner in (batch, other) for i in range(CHILDREN)],
    )  # fmt: skip
    db_session.commit()
    db_session.execute(sa.text("ANALYZE job_logs"))

    statements: list[tuple[str, Any]] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    engine = db_session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        described = describe_batch(db_session, batch)
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)

    expected = [f"dev-{i:05d}" for i in range(CHILDREN) if failed(i)]
    assert described["failed_devices"] == expected
    [(statement, parameters)] = [(s, p) for s, p in statements if "job_logs" in s]
    raw = db_session.connection().exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)
    plan = raw.scalar_one()
    nodes = list(plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))
    scans = [node for node in nodes if node.get("Relation Name") == "job_logs"]
    assert [node["Node Type"] for node in scans] != ["Seq Scan"], nodes
    assert {node.get("Index Name") for node in scans} == {"ix_job_logs_batch_status"}, nodes
    assert sum(node["Actual Rows"] for node in scans) == len(expected)  # the failed ones, no other row
