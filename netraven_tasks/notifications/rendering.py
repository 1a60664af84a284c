"""Turning job outcomes and finished fleet runs into messages: subjects, Jinja2 text and HTML parts
(payloads: channels/*).

Job data is only ever passed to templates as values, never used as template source; HTML parts are
autoescaped; header values lose every line break; huge results and errors are cut short.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from netraven_tasks.text import truncate

if TYPE_CHECKING:  # the channels import this module, and the models import the channels' defaults
    from netraven_tasks.models import JobLog

BUILTIN_TEMPLATES = Path(__file__).resolve().parent / "templates"
SUBJECT_LIMIT = 200
FIELD_LIMIT = 120
ERROR_LIMIT = 2_000
RESULT_LIMIT = 2_000
DIGEST_ERROR_LIMIT = 300
BATCH_FAILED_SHOWN = 50  # failed devices a batch's mail lists (the webhook carries more)
DIGEST_BATCH_FAILED_SHOWN = 10

# Every character that can end a header line or confuse a mail reader.
_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_SPACES = re.compile(r"\s{2,}")

OUTCOME_WORDS = {"completed": "completed", "failed": "failed", "canceled": "was canceled"}


@dataclass(frozen=True)
class JobSummary:
    """What a message says about one job run (a plain copy of its job-log row)."""

    job_log_id: int
    job_type: str
    device: str | None
    status: str
    attempts: int
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    result: Any
    error_type: str | None
    error_message: str | None

    @classmethod
    def of(cls, job: JobLog) -> JobSummary:
        return cls(job.id, *(getattr(job, name) for name in JOB_LOG_FIELDS))


# The job-log attributes a summary copies after its id (``job_log_id`` is ``JobLog.id``), in order.
JOB_LOG_FIELDS = tuple(field.name for field in dataclass_fields(JobSummary))[1:]


@dataclass(frozen=True)
class DeviceOutcome:
    """One child of a fleet run as its summary lists it: a failed device, or one of the slowest."""

    job_log_id: int
    device: str
    status: str
    duration_seconds: float | None = None
    error_type: str | None = None
    error_line: str | None = None  # the first line of its error message


@dataclass(frozen=True)
class DeviceChange:
    """A device whose configuration a fleet run found changed, with its +/- line counts."""

    device: str
    added: int
    removed: int
    sha256: str


@dataclass(frozen=True)
class BatchReport:
    """What a message says about one finished fleet run (``notifications/batch_summary.py`` reads it)."""

    batch_id: int
    job_type: str
    status: str
    total: int
    counts: Mapping[str, int]
    created_at: datetime | None
    finished_at: datetime | None
    schedule_id: int | None = None
    failed: Sequence[DeviceOutcome] = ()  # by device name, at most ``batch_summary.FAILED_LISTED``
    slowest: Sequence[DeviceOutcome] = ()
    changes: Sequence[DeviceChange] = ()  # configurations its backups found changed, by device name

    @property
    def failed_not_listed(self) -> int:
        return max(0, self.counts.get("failed", 0) - len(self.failed))


@dataclass(frozen=True)
class ConfigChange:
    """What a message says about one changed configuration: the versions, the diff as people may
    read it (normalised, masked, trimmed), and what made the backup."""

    device: str
    sha256: str
    previous_sha256: str
    added: int
    removed: int
    diff_lines: Sequence[str]
    diff_omitted: int
    created_at: datetime | None
    launched_by: str | None = None  # the user's name
    job_log_id: int | None = None
    batch_id: int | None = None
    schedule_id: int | None = None


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


def header_value(value: str, limit: int = SUBJECT_LIMIT) -> str:
    """One safe header line: control characters and line breaks become spaces, length is capped."""
    cleaned = _SPACES.sub(" ", _HEADER_BREAKS.sub(" ", value)).strip()
    return truncate(cleaned, limit)


def human_duration(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``2 min 5 s``, ``3 h 1 min``, ``2 d 4 h``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def result_text(result: Any, limit: int = RESULT_LIMIT) -> str:
    if result is None:
        return ""
    try:
        encoded = json.dumps(result, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError):
        encoded = repr(result)
    return truncate(encoded, limit)


# Links open the dashboard (sign-in first, then back to the page), never the JSON API.
def job_link(public_url: str, job_log_id: int) -> str:
    return f"{public_url.rstrip('/')}/ui/job-logs/{job_log_id}"


def batch_link(public_url: str, batch_id: int) -> str:
    return f"{public_url.rstrip('/')}/ui/batches/{batch_id}"


def config_diff_link(public_url: str, device: str, sha256: str, previous: str) -> str:
    """The dashboard's diff page of a version against the previous one."""
    return f"{public_url.rstrip('/')}/ui/devices/{quote(device, safe='')}/backups/{sha256}?diff={previous}"


def device_backups_link(public_url: str, device: str) -> str:
    return f"{public_url.rstrip('/')}/ui/devices/{quote(device, safe='')}/backups"


def job_list_link(public_url: str) -> str:
    return f"{public_url.rstrip('/')}/ui/job-logs"


def job_subject(job: JobSummary) -> str:
    """``NetRaven job failed: config_backup on core-sw-01``, safe to put in a header."""
    target = f" on {header_value(job.device, FIELD_LIMIT)}" if job.device else ""
    word = job.status if job.status in OUTCOME_WORDS else header_value(job.status, 16)
    return header_value(f"NetRaven job {word}: {header_value(job.job_type, FIELD_LIMIT)}{target}")


def job_context(job: JobSummary, public_url: str) -> dict[str, Any]:
    """The values a job template sees: display-ready strings, already truncated."""
    return {
        "job_log_id": job.job_log_id,
        "job_type": job.job_type,
        "device": job.device or "",
        "status": job.status,
        "outcome": OUTCOME_WORDS.get(job.status, job.status),
        "succeeded": job.status == "completed",
        "attempts": job.attempts,
        "queued_at": format_time(job.queued_at),
        "started_at": format_time(job.started_at),
        "finished_at": format_time(job.finished_at),
        "duration": human_duration(job.duration_seconds),
        "result": result_text(job.result),
        "error_type": job.error_type or "",
        "error_message": truncate(job.error_message, ERROR_LIMIT),
        "link": job_link(public_url, job.job_log_id),
    }


def batch_counts_text(batch: BatchReport) -> str:
    """``17 completed, 3 failed``: the outcomes that happened, completed first, then by name."""
    shown = [(status, batch.counts.get(status, 0)) for status in ("completed", "failed", "canceled")]
    shown += sorted((s, n) for s, n in batch.counts.items() if s not in dict(shown))
    words = [f"{count} {status}" for status, count in shown if count]
    return ", ".join(words) or "nothing ran"


def batch_subject(batch: BatchReport) -> str:
    """``NetRaven: config_backup on 20 devices: 17 completed, 3 failed``, safe for a header."""
    devices = f"{batch.total} device{'s' if batch.total != 1 else ''}"
    job_type = header_value(batch.job_type, FIELD_LIMIT)
    return header_value(f"NetRaven: {job_type} on {devices}: {batch_counts_text(batch)}")


def batch_context(batch: BatchReport, public_url: str, failed_shown: int) -> dict[str, Any]:
    """The values the batch templates see: display-ready strings, already truncated."""
    failed = [
        {
            "device": header_value(item.device, FIELD_LIMIT),
            "error_type": item.error_type or "Error",
            "error_line": truncate(item.error_line, DIGEST_ERROR_LIMIT),
            "link": job_link(public_url, item.job_log_id),
        }
        for item in batch.failed[:failed_shown]
    ]
    slowest = [
        {
            "device": header_value(item.device, FIELD_LIMIT),
            "duration": human_duration(item.duration_seconds),
            "status": item.status,
            "link": job_link(public_url, item.job_log_id),
        }
        for item in batch.slowest
    ]
    return {
        "batch_id": batch.batch_id,
        "job_type": batch.job_type,
        "status": batch.status,
        "succeeded": batch.status == "completed",
        "total": batch.total,
        "summary": batch_counts_text(batch),
        "counts": sorted((s, n) for s, n in batch.counts.items() if n),
        "created_at": format_time(batch.created_at),
        "finished_at": format_time(batch.finished_at),
        "scheduled": batch.schedule_id is not None,
        "failed": failed,
        "failed_more": batch.counts.get("failed", 0) - len(failed),
        "slowest": slowest,
        "changes": [
            {
                "device": header_value(change.device, FIELD_LIMIT),
                "added": change.added,
                "removed": change.removed,
                "link": device_backups_link(public_url, change.device),
            }
            for change in batch.changes[:failed_shown]
        ],
        "changes_more": max(0, len(batch.changes) - failed_shown),
        "link": batch_link(public_url, batch.batch_id),
    }


def config_change_subject(change: ConfigChange) -> str:
    """``NetRaven: configuration of r1 changed (+3 \u22121)`` (a minus sign), safe for a header."""
    device = header_value(change.device, FIELD_LIMIT)
    return header_value(
        f"NetRaven: configuration of {device} changed (+{change.added} \u2212{change.removed})"
    )


def config_change_context(change: ConfigChange, public_url: str) -> dict[str, Any]:
    """The values the configuration-change templates see."""
    if change.batch_id is not None:
        origin = f"fleet run {change.batch_id}" + (
            f" of schedule {change.schedule_id}" if change.schedule_id else ""
        )
    elif change.schedule_id is not None:
        origin = f"schedule {change.schedule_id}"
    else:
        origin = "a run launched by hand"
    return {
        "device": change.device,
        "added": change.added,
        "removed": change.removed,
        "diff": [line.rstrip("\n") for line in change.diff_lines],
        "omitted": change.diff_omitted,
        "sha256": change.sha256,
        "previous_sha256": change.previous_sha256,
        "created_at": format_time(change.created_at),
        "launched_by": change.launched_by or "no one (an ownerless run)",
        "origin": origin,
        "run_link": job_link(public_url, change.job_log_id) if change.job_log_id else None,
        "link": config_diff_link(public_url, change.device, change.sha256, change.previous_sha256),
    }


class Renderer:
    """Renders the templates: the operator's folder (NETRAVEN_TEMPLATES_DIR) first, then ours."""

    def __init__(self, public_url: str, templates_dir: Path | None = None):
        self.public_url = public_url.rstrip("/")
        folders = [str(templates_dir)] if templates_dir else []
        self._env = Environment(
            loader=ChoiceLoader([FileSystemLoader([*folders, str(BUILTIN_TEMPLATES)])]),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        return self._env.get_template(name).render(**context)

    def job_outcome(self, job: JobSummary) -> RenderedMessage:
        context = job_context(job, self.public_url)
        return RenderedMessage(
            subject=job_subject(job),
            text=self._render("job_outcome.txt", context),
            html=self._render("job_outcome.html", context),
        )

    def batch_finished(self, batch: BatchReport) -> RenderedMessage:
        """The one summary of a finished fleet run: counts, failed devices, the slowest ones."""
        context = batch_context(batch, self.public_url, BATCH_FAILED_SHOWN)
        return RenderedMessage(
            subject=batch_subject(batch),
            text=self._render("batch_finished.txt", context),
            html=self._render("batch_finished.html", context),
        )

    def config_changed(self, change: ConfigChange) -> RenderedMessage:
        """A device's configuration changed: the normalised, masked diff and what made the backup."""
        context = config_change_context(change, self.public_url)
        return RenderedMessage(
            subject=config_change_subject(change),
            text=self._render("config_changed.txt", context),
            html=self._render("config_changed.html", context),
        )

    def alert(self, headline: str, lines: Sequence[str], link: str) -> RenderedMessage:
        """A short alert (schedules: missed, recovered, still failing); values only, never source."""
        context = {
            "headline": header_value(headline),
            "lines": [truncate(x, ERROR_LIMIT) for x in lines],
            "link": link,
        }
        return RenderedMessage(
            subject=header_value(f"NetRaven: {headline}"),
            text=self._render("alert.txt", context),
            html=self._render("alert.html", context),
        )

    def digest(
        self,
        username: str,
        period: str,
        start: datetime,
        end: datetime,
        jobs: Sequence[JobSummary],
        batches: Sequence[BatchReport] = (),
    ) -> RenderedMessage:
        """One summary of a period: counts by outcome, failures first with their errors; each
        fleet run is one line (its counts and first failed devices)."""
        ordered = sorted(jobs, key=lambda j: (j.status == "completed", j.finished_at or start, j.job_log_id))
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job.status] = counts.get(job.status, 0) + 1
        items = [
            {
                **job_context(job, self.public_url),
                "error_message": truncate(job.error_message, DIGEST_ERROR_LIMIT),
            }
            for job in ordered
        ]
        failures = [i for i in items if not i["succeeded"]]
        label = "Hourly" if period == "hourly" else "Daily"
        problem = counts.get("failed", 0) + counts.get("canceled", 0)
        summary = f"{len(items)} job{'s' if len(items) != 1 else ''}"
        if problem:
            summary += f", {problem} not completed"
        if batches:
            summary += f", {len(batches)} fleet run{'s' if len(batches) != 1 else ''}"
        fleet = [
            batch_context(batch, self.public_url, DIGEST_BATCH_FAILED_SHOWN)
            for batch in sorted(batches, key=lambda b: (b.status == "completed", b.batch_id))
        ]
        context = {
            "username": username,
            "period": period,
            "label": label,
            "start": format_time(start),
            "end": format_time(end),
            "counts": sorted(counts.items(), key=lambda kv: (kv[0] == "completed", kv[0])),
            "failures": failures,
            "completions": [i for i in items if i["succeeded"]],
            "total": len(items),
            "batches": fleet,
            "dashboard": job_list_link(self.public_url),
        }
        return RenderedMessage(
            subject=header_value(f"NetRaven {period} digest: {summary} ({start:%Y-%m-%d %H:%M} UTC)"),
            text=self._render("digest.txt", context),
            html=self._render("digest.html", context),
        )
