"""Files under var/ are private to the service account: 0700 folders, 0600 files, from creation on.

The CLI narrows the process umask at start (``restrict_umask``), so everything it and the
processes it execs (Celery, gunicorn) create is private; the helpers below also say the mode
explicitly where a file is made, so no window exists in which a file is readable by others.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_umask() -> None:
    os.umask(PRIVATE_UMASK)


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; an existing folder is left as it is."""
    for folder in reversed([path, *path.parents]):
        if not folder.exists():
            with contextlib.suppress(FileExistsError):  # made meanwhile by another process
                folder.mkdir(mode=DIR_MODE)
    return path


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, created 0600 (an existing file keeps its mode)."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///…`` (or ``sqla+sqlite:///…``) URL; None for memory databases."""
    if "sqlite" not in url.split("://", 1)[0]:
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def ensure_private_sqlite(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does: its -wal and -shm files copy that mode."""
    path = sqlite_path(url)
    if path is None or path.exists():
        return
    make_private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE))
