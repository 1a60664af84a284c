"""Storing and reading configuration backups (SQL only here; the job and the API call these)."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.backups.diffs import ConfigDiff, config_diff
from netraven_tasks.backups.models import ConfigBackup, ConfigBlob
from netraven_tasks.backups.normalise import Rules
from netraven_tasks.db import insert
from netraven_tasks.models import User


@dataclass(frozen=True)
class StoredBackup:
    version: ConfigBackup
    previous_sha256: str | None
    diff: ConfigDiff | None = None  # against the previous version, when the content differs


@dataclass(frozen=True)
class Comparison:
    """How a new version is compared with the previous one: the device's platform and rules, and
    how its diff is shown (masked, trimmed)."""

    platform: str
    rules: Rules
    mask: bool = True
    max_lines: int | None = None


def namespace_of(session: Session, owner_id: int | None) -> int | None:
    """The namespace a run of ``owner_id`` writes to: the shared history (None) for admins and
    ownerless runs, the user's own history for everyone else."""
    if owner_id is None:
        return None
    user = session.get(User, owner_id)
    if user is None or user.is_admin:
        return None
    return owner_id


def in_namespace(device: str, namespace_owner_id: int | None):  # type: ignore[no-untyped-def]
    return select(ConfigBackup).where(
        ConfigBackup.device == device,
        ConfigBackup.namespace_owner_id.is_(None)
        if namespace_owner_id is None
        else ConfigBackup.namespace_owner_id == namespace_owner_id,
    )


def _insert_blob(session: Session, digest: str, content: bytes) -> None:
    values = {"sha256": digest, "size_bytes": len(content), "compressed": zlib.compress(content, 6)}
    # Two workers storing the same content at once: the second insert is a no-op, not an error.
    session.execute(
        insert(session, ConfigBlob).values(**values).on_conflict_do_nothing(index_elements=["sha256"])
    )


def store_backup(
    session: Session,
    *,
    device: str,
    content: bytes,
    namespace_owner_id: int | None,
    launched_by_id: int | None,
    driver: str,
    task_id: str | None,
    comparison: Comparison,
) -> StoredBackup:
    """Add a version of ``device`` in its namespace. ``changed`` and the +/- counts compare it with
    the latest one there after normalisation: a new timestamp line is not a change."""
    digest = hashlib.sha256(content).hexdigest()
    if session.get(ConfigBlob, digest) is None:
        _insert_blob(session, digest, content)
    latest = session.scalars(
        in_namespace(device, namespace_owner_id).order_by(ConfigBackup.id.desc()).limit(1)
    ).first()
    previous = latest.sha256 if latest else None
    diff = None
    if previous is not None and previous != digest:
        blob = session.get(ConfigBlob, previous)
        old = zlib.decompress(blob.compressed) if blob else b""
        diff = config_diff(
            old,
            content,
            platform=comparison.platform,
            rules=comparison.rules,
            names=(f"{device}@{previous[:12]}", f"{device}@{digest[:12]}"),
            mask=comparison.mask,
            max_lines=comparison.max_lines,
        )
    version = ConfigBackup(
        device=device,
        namespace_owner_id=namespace_owner_id,
        launched_by_id=launched_by_id,
        sha256=digest,
        changed=diff is not None and diff.changed,
        lines_added=None if previous is None else (diff.added if diff else 0),
        lines_removed=None if previous is None else (diff.removed if diff else 0),
        driver=driver,
        task_id=task_id,
    )
    session.add(version)
    session.flush()
    return StoredBackup(version=version, previous_sha256=previous, diff=diff)


def list_versions(
    session: Session, device: str, namespace_owner_id: int | None, limit: int = 100
) -> list[tuple[ConfigBackup, int]]:
    """The newest versions first, each with its content size."""
    rows = session.execute(
        in_namespace(device, namespace_owner_id)
        .add_columns(ConfigBlob.size_bytes)
        .join(ConfigBlob, ConfigBlob.sha256 == ConfigBackup.sha256)
        .order_by(ConfigBackup.id.desc())
        .limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows]


def read_content(session: Session, device: str, namespace_owner_id: int | None, sha256: str) -> bytes | None:
    """The content of a version of ``device`` in the namespace, or None if it has no such version."""
    known = session.scalars(
        in_namespace(device, namespace_owner_id).where(ConfigBackup.sha256 == sha256).limit(1)
    ).first()
    if known is None:
        return None
    blob = session.get(ConfigBlob, sha256)
    return zlib.decompress(blob.compressed) if blob else None
