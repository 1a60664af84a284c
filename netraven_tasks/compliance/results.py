"""Keeping and reading compliance results (SQL only here; the job, the API and the CLI call these).

``latest_compliance`` is the one query for "the latest result of a device" (the device page will
call it too); ``compliance_view`` is the one JSON shape of a result, for the API and the CLI.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from netraven_tasks.compliance.checking import ComplianceReport, RuleResult
from netraven_tasks.compliance.models import ComplianceResult
from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.tracking.storable import MESSAGE_LIMIT, storable_json, storable_text


def _in_history(device: str, namespace_owner_id: int | None):  # type: ignore[no-untyped-def]
    owner = ComplianceResult.namespace_owner_id
    return (
        ComplianceResult.device == device,
        owner.is_(None) if namespace_owner_id is None else owner == namespace_owner_id,
    )


def record_result(
    session: Session,
    *,
    device: str,
    namespace_owner_id: int | None,
    task_id: str | None,
    backup_sha256: str,
    report: ComplianceReport,
    keep_days: int,
) -> ComplianceResult:
    """Add a run's result to the device's history and drop that history's results older than
    ``keep_days`` (NETRAVEN_RETENTION_DAYS, like job logs): a bounded delete per run, no sweep."""
    now = utcnow()
    row = ComplianceResult(
        device=device,
        namespace_owner_id=namespace_owner_id,
        task_id=task_id,
        checked_at=now,
        platform=report.platform,
        backup_sha256=backup_sha256,
        passed=report.passed,
        # Quotes of device output: NUL and lone surrogates made storable, as tracking does.
        summary=storable_text(report.summary(), MESSAGE_LIMIT),
        rules=storable_json([rule.as_dict() for rule in report.rules]),
    )
    expired = ComplianceResult.checked_at < now - timedelta(days=keep_days)
    session.execute(delete(ComplianceResult).where(*_in_history(device, namespace_owner_id), expired))
    session.add(row)
    session.flush()
    return row


def latest_compliance(
    session: Session, device: str, namespace_owner_id: int | None = None
) -> ComplianceResult | None:
    """The newest result of ``device`` in a history (default: the shared one), or None."""
    query = (
        select(ComplianceResult)
        .where(*_in_history(device, namespace_owner_id))
        .order_by(ComplianceResult.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def stored_report(result: ComplianceResult) -> ComplianceReport:
    return ComplianceReport(result.platform, tuple(RuleResult.from_dict(rule) for rule in result.rules))


def compliance_view(session: Session, result: ComplianceResult, *, quotes: bool) -> dict[str, Any]:
    """A result as the API and the CLI show it. Without ``quotes`` (a reader who may not see the
    configuration that was checked) findings keep their line numbers but not the device's text,
    and the summary is worded again without it."""
    report = stored_report(result)
    if not quotes:
        report = report.without_quotes()
    job_log_id = (
        session.scalar(select(JobLog.id).where(JobLog.task_id == result.task_id)) if result.task_id else None
    )
    return {
        **unchecked_view(result.device, result.namespace_owner_id),
        "checked_at": result.checked_at,
        "passed": result.passed,
        "summary": result.summary if quotes else report.summary(),
        "platform": result.platform,
        "backup_sha256": result.backup_sha256,
        "task_id": result.task_id,
        "job_log_id": job_log_id,
        "quotes_withheld": not quotes,
        "rules": [rule.as_dict() for rule in report.rules],
    }


def unchecked_view(device: str, namespace_owner_id: int | None) -> dict[str, Any]:
    """The view of a device never checked in this history: every key, nothing known."""
    unknown = ("checked_at", "passed", "summary", "platform", "backup_sha256", "task_id", "job_log_id")
    return {
        "device": device,
        "history": "shared" if namespace_owner_id is None else "owner",
        **dict.fromkeys(unknown),
        "quotes_withheld": False,
        "rules": [],
    }
