"""``compliance_check``: check a device's latest stored configuration against the compliance rules.

The rules come from NETRAVEN_COMPLIANCE_RULES_FILE (docs/compliance.md). The configuration is the
newest backup of the device in the launcher's history (shared for admins and operator runs, a
non-admin's own otherwise, as ``config_backup`` stores them); nothing connects to the device. Every
run's result is kept (``compliance_results``) before a non-compliant run fails, so the existing
state-change alerts say when a device becomes non-compliant and when it recovers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy.exc import OperationalError

from netraven_tasks.backups.store import list_versions, namespace_of, read_content
from netraven_tasks.compliance.checking import MAX_CONFIG_BYTES, ComplianceReport, check_config
from netraven_tasks.compliance.results import record_result
from netraven_tasks.compliance.rules import Rule, current_rules
from netraven_tasks.db import session_factory
from netraven_tasks.devices.inventory import find_device
from netraven_tasks.devices.platforms import DEFAULT_PLATFORM
from netraven_tasks.jobs.current_run import current_task_id, device_name, launching_owner
from netraven_tasks.jobs.hosts import validate_host
from netraven_tasks.jobs.registry import job_type
from netraven_tasks.jobs.retry_policy import RetryPolicy
from netraven_tasks.runtime import runtime_of
from netraven_tasks.settings import Settings


class NoRulesFile(RuntimeError):
    """NETRAVEN_COMPLIANCE_RULES_FILE is not set: there is nothing to check against."""


class NoBackup(LookupError):
    """The device has no stored configuration in the launcher's history."""


class ConfigTooLarge(ValueError):
    """The stored configuration is larger than the checker reads (``MAX_CONFIG_BYTES``)."""


class NonCompliant(Exception):
    """At least one rule failed; the message's first line says which, and where."""


class ComplianceCheckArguments(Schema):
    host = fields.String(required=True, validate=validate_host)


def _rules(settings: Settings) -> tuple[Rule, ...]:
    path: Path | None = settings.compliance_rules_file
    if path is None:
        raise NoRulesFile(
            "NETRAVEN_COMPLIANCE_RULES_FILE is not set: name the rules file (docs/compliance.md)"
        )
    return current_rules(path)  # read again only when the file changed


@dataclass(frozen=True)
class LatestConfig:
    """What a run checks: the device's newest backup in the launcher's history."""

    device: str  # the inventory name (a fleet run's host is its address)
    namespace_owner_id: int | None  # the history: None is the shared one
    platform: str
    sha256: str
    content: bytes


def _latest_config(settings: Settings, host: str) -> LatestConfig:
    with session_factory(settings)() as session:
        namespace = namespace_of(session, launching_owner())
        device = device_name(session, host)
        known = find_device(session, device)
        platform = known.platform if known is not None else DEFAULT_PLATFORM
        history = "the shared" if namespace is None else "your own"
        newest = list_versions(session, device, namespace, limit=1)
        if not newest:
            raise NoBackup(
                f"no stored configuration of {device} in {history} history: run config_backup first"
            )
        version, size = newest[0]
        if size > MAX_CONFIG_BYTES:
            raise ConfigTooLarge(
                f"the configuration {version.sha256[:12]} of {device} has {size} bytes; "
                f"compliance checks read at most {MAX_CONFIG_BYTES // 2**20} MiB"
            )
        content = read_content(session, device, namespace, version.sha256)
        if content is None:  # checking nothing would pass every must_not_match rule
            raise NoBackup(f"the configuration {version.sha256[:12]} of {device} has no stored content")
    return LatestConfig(device, namespace, platform, version.sha256, content)


def failure_message(device: str, report: ComplianceReport) -> str:
    """First line: the summary (a mail's subject line reads it); then every failing rule."""
    details = [f"{rule.name}: {finding.describe()}" for rule in report.failed for finding in rule.findings]
    return "\n".join([report.summary(), *details, f"Every rule: GET /devices/{device}/compliance"])


@job_type(
    "compliance_check",
    arguments=ComplianceCheckArguments,
    # A database that blinked deserves another try; a non-compliant device does not.
    policy=RetryPolicy(max_attempts=3, backoff_base=5, backoff_max=60, retry_on=(OperationalError,)),
    time_limit=300,
    criticality="warning",  # a drift to fix, not an outage
)
def compliance_check(host: str) -> dict[str, Any]:
    """Check the device's latest stored configuration against the compliance rules."""
    from celery import current_task

    settings = runtime_of(current_task.app if current_task else None).settings
    rules = _rules(settings)
    config = _latest_config(settings, host)
    report = check_config(rules, config.content.decode("utf-8", "replace"), config.platform)
    with session_factory(settings).begin() as session:  # kept before the run fails
        stored = record_result(
            session,
            device=config.device,
            namespace_owner_id=config.namespace_owner_id,
            task_id=current_task_id(),
            backup_sha256=config.sha256,
            report=report,
            keep_days=settings.retention_days,
        )
        result_id = stored.id
    if not report.passed:
        raise NonCompliant(failure_message(config.device, report))
    return {
        "host": host,
        "device": config.device,
        "platform": config.platform,
        "backup_sha256": config.sha256,
        "summary": report.summary(),
        "rules": len(report.rules),
        "checked": report.checked,
        "compliance_result_id": result_id,
    }
