"""The local spool: tracking events neither the stream nor the database could take, on disk.

One append-only file of JSON lines per var folder (``<var>/tracking-spool/events.jsonl``), shared
by every process of the machine through a lock file (``flock``): appends come from the pool
children of any worker, the replay from a worker's main process. Each append is written and
fsynced while the lock is held, so a line is either whole or (after a crash mid-write) the
file's last, unterminated bytes: a replay skips that, an append first ends it with a newline.
A replay delivers lines in order and rewrites the file with what it could not deliver (a new
file renamed over the old, under the lock): it removes only what it delivered.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from netraven_tasks.private_files import FILE_MODE, make_private_dir
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.dead_letters import encode_event
from netraven_tasks.tracking.events import TrackingEvent
from netraven_tasks.tracking.storable import storable_event

log = logging.getLogger(__name__)

SPOOL_FOLDER = "tracking-spool"


class Spool:
    """Events appended by any process of this machine, replayed in order by one at a time."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "events.jsonl"
        self._lock_path = folder / "spool.lock"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        make_private_dir(self.folder)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def append(self, event: TrackingEvent) -> None:
        """Add ``event`` at the end, on disk (fsynced) before this returns."""
        # As on the stream: made storable first (a 10 MB result must not fill the disk either), as
        # ASCII JSON, so no byte of a line is a newline but its last.
        line = (encode_event(storable_event(event)) + "\n").encode()
        with self._locked():
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # a crash cut the last line: ours must not join it
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_folder(self.folder)

    def holds_events(self) -> bool:
        """Whether anything waits (one stat, no lock: the appender's cheap check)."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def depth(self) -> int:
        """How many events wait (complete lines)."""
        try:
            return self.path.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    def replay(self, deliver: Callable[[TrackingEvent], None]) -> int:
        """Hand each event to ``deliver`` in order until it raises; returns how many it took.

        Delivered lines (and unreadable ones, the remains of a crash mid-write) leave the file;
        the first event ``deliver`` refuses and all after it stay, in order, for the next replay.
        """
        if not self.holds_events():
            return 0
        with self._locked():
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return 0
            done = 0  # bytes of the file handled so far
            delivered = 0
            *lines, tail = data.split(b"\n")
            for raw in [line + b"\n" for line in lines] + ([tail] if tail else []):
                if raw.endswith(b"\n"):
                    event = _decode(raw)
                    if event is not None:
                        try:
                            deliver(event)
                        except Exception:
                            log.warning("spool replay stopped after %d events; the rest waits", delivered)
                            break
                        delivered += 1
                else:  # the unterminated tail a crash left: never whole, never delivered
                    log.warning("tracking spool: skipped an incomplete last line (%d bytes)", len(raw))
                done += len(raw)
            if done:
                self._keep(data[done:])
        return delivered

    def _keep(self, rest: bytes) -> None:
        """Replace the file by ``rest`` atomically (what a crash leaves is the old or the new)."""
        if not rest:
            self.path.unlink(missing_ok=True)
        else:
            partial = self.path.with_suffix(".partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
            try:
                os.write(fd, rest)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(partial, self.path)
        _fsync_folder(self.folder)


def _decode(raw: bytes) -> TrackingEvent | None:
    try:
        return TrackingEvent.from_dict(json.loads(raw))
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        # Only a crash mid-write makes such a line (appends are whole under the lock).
        log.warning("tracking spool: skipped an unreadable line (%s)", error)
        return None


def _fsync_folder(folder: Path) -> None:
    """Make a created, renamed or removed file's name durable, not only its bytes."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def spool_for(settings: Settings) -> Spool:
    """This machine's spool: under the var folder, shared by every process that uses it."""
    return Spool(settings.var_dir / SPOOL_FOLDER)
