"""Reading backup histories for people: who reads which history, a page of versions with the run
and the launcher of each, and the users who keep a history of a device (SQL only here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from netraven_tasks.backups.models import ConfigBackup, ConfigBlob
from netraven_tasks.backups.store import in_namespace
from netraven_tasks.models import JobLog, User


class HistoryForbidden(PermissionError):
    """A user who is not an admin asked for a history other than their own."""


def readable_history(reader_id: int, is_admin: bool, owner: int | None) -> int | None:
    """The history a reader reads (its ``namespace_owner_id``): admins the shared one (None) or,
    with ``owner``, that user's; everyone else their own, the one their runs wrote."""
    if is_admin:
        return owner
    if owner is not None and owner != reader_id:
        raise HistoryForbidden("only admins may read other users' backups")
    return reader_id


@dataclass(frozen=True)
class VersionRow:
    """One stored version as a page shows it."""

    sha256: str
    size_bytes: int
    changed: bool
    lines_added: int | None
    lines_removed: int | None
    driver: str
    created_at: datetime
    job_log_id: int | None  # the run that stored it, when its job log is still kept
    launched_by: str | None  # the launcher's username
    previous_sha256: str | None  # the version before it in the same history; None for the first


def _versions(device: str, namespace: int | None) -> Select[Any]:
    """The history's versions, newest first, each with its size, run and launcher: one query
    (``task_id`` is unique in ``job_logs``, so the outer joins add no row)."""
    return (
        in_namespace(device, namespace)
        .add_columns(ConfigBlob.size_bytes, JobLog.id.label("job_log_id"), User.username)
        .join(ConfigBlob, ConfigBlob.sha256 == ConfigBackup.sha256)
        .outerjoin(JobLog, JobLog.task_id == ConfigBackup.task_id)
        .outerjoin(User, User.id == ConfigBackup.launched_by_id)
        .order_by(ConfigBackup.id.desc())
    )


def _with_previous(rows: Sequence[Row[Any]]) -> list[VersionRow]:
    """Each row with the sha256 of the row after it (the older version): the caller reads one
    row more than it shows, so the last one shown has its predecessor too."""
    older = [row.ConfigBackup.sha256 for row in rows[1:]] + [None] if rows else []
    return [
        VersionRow(
            sha256=row.ConfigBackup.sha256,
            size_bytes=row.size_bytes,
            changed=row.ConfigBackup.changed,
            lines_added=row.ConfigBackup.lines_added,
            lines_removed=row.ConfigBackup.lines_removed,
            driver=row.ConfigBackup.driver,
            created_at=row.ConfigBackup.created_at,
            job_log_id=row.job_log_id,
            launched_by=row.username,
            previous_sha256=previous,
        )
        for row, previous in zip(rows, older, strict=True)
    ]


def version_page(
    session: Session, device: str, namespace: int | None, limit: int, offset: int
) -> tuple[list[VersionRow], int]:
    """A page of the history, newest first, and how many versions it holds."""
    rows = session.execute(_versions(device, namespace).limit(limit + 1).offset(offset)).all()
    total = session.scalar(select(func.count()).select_from(in_namespace(device, namespace).subquery()))
    return _with_previous(rows)[:limit], total or 0


def newest_version(session: Session, device: str, namespace: int | None, sha256: str) -> VersionRow | None:
    """The newest version of the history with this content (a content can be stored again later),
    or None when the history has none."""
    newest_id = (
        in_namespace(device, namespace)
        .where(ConfigBackup.sha256 == sha256)
        .with_only_columns(func.max(ConfigBackup.id))
        .correlate(None)  # its own scan of the history, not the outer query's row
        .scalar_subquery()
    )
    rows = session.execute(_versions(device, namespace).where(ConfigBackup.id <= newest_id).limit(2)).all()
    return _with_previous(rows)[0] if rows else None


def history_owners(session: Session, device: str) -> list[tuple[int, str]]:
    """The users who keep a history of their own of ``device``, by name (an admin's choice)."""
    owners = select(ConfigBackup.namespace_owner_id).where(
        ConfigBackup.device == device, ConfigBackup.namespace_owner_id.is_not(None)
    )
    rows = session.execute(select(User.id, User.username).where(User.id.in_(owners)).order_by(User.username))
    return [(user_id, username) for user_id, username in rows]
