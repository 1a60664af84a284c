"""Reads a configuration from a local file under NETRAVEN_BACKUP_FILE_ROOTS (exports, lab devices)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from netraven_tasks.jobs.drivers import FetchRequest, TooLarge, substitute_host
from netraven_tasks.settings import Settings

OUTSIDE_ROOTS = "source must name a file under NETRAVEN_BACKUP_FILE_ROOTS"


def _under_roots(path: str, roots: tuple[Path, ...]) -> bool:
    return any(Path(path).is_relative_to(root) for root in roots)


def resolve_source(source: str, roots: tuple[Path, ...]) -> str:
    """The real path (symlinks and ``..`` resolved) of ``source``, if it lies under one of ``roots``.

    Refused paths get one message whether they exist or not: no oracle for the server's files.
    """
    if not roots:
        raise PermissionError("the file driver is off here: NETRAVEN_BACKUP_FILE_ROOTS is not set")
    candidate = Path(source)
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    real = os.path.realpath(candidate)
    if not _under_roots(real, roots):
        raise PermissionError(OUTSIDE_ROOTS)
    return real


class FileDriver:
    name = "file"

    def fetch(self, request: FetchRequest, settings: Settings) -> bytes:
        if not request.source:
            raise ValueError("the file driver needs source, the path of the configuration file")
        roots = settings.backup_file_roots
        real = resolve_source(substitute_host(request.source, request.host), roots)
        try:
            # O_NOFOLLOW and O_NONBLOCK: a symlink swapped in since the check, or a FIFO, is no hang.
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise FileNotFoundError(f"no configuration file at {request.source}") from None
        except OSError:
            raise PermissionError(f"cannot read {request.source}") from None
        with os.fdopen(fd, "rb") as handle:
            # A directory on the way may have been swapped since realpath: check what was opened.
            opened = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else real
            if not _under_roots(opened, roots):
                raise PermissionError(OUTSIDE_ROOTS)
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{request.source} is not a regular file")
            if info.st_size > settings.backup_max_bytes:
                raise TooLarge(request.source, settings.backup_max_bytes)
            content = handle.read(settings.backup_max_bytes + 1)
        if len(content) > settings.backup_max_bytes:
            raise TooLarge(request.source, settings.backup_max_bytes)
        return content
