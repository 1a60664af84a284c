"""The local spool and the fallback chain of the signal handlers (no server: files and fakes)."""

from __future__ import annotations

import json
import os
import stat
from itertools import pairwise
from pathlib import Path

import pytest

from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.fallback import FallbackRecorder, SpoolReplay
from netraven_tasks.tracking.spool import Spool


def event(task: str, kind: EventKind = EventKind.SUCCEEDED) -> TrackingEvent:
    return TrackingEvent(kind=kind, task_id=task, job_type="reachability_check", result={"task": task})


class Taker:
    """A recorder that takes events while ``up``, and refuses them like a server that is down."""

    def __init__(self, up: bool = True, refuse_after: int | None = None):
        self.up = up
        self.refuse_after = refuse_after
        self.taken: list[TrackingEvent] = []

    def record(self, event: TrackingEvent) -> None:
        if not self.up or (self.refuse_after is not None and len(self.taken) >= self.refuse_after):
            raise ConnectionError("refused")
        self.taken.append(event)


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "var" / "tracking-spool")


def tasks(events: list[TrackingEvent]) -> list[str]:
    return [e.task_id for e in events]


def test_replay_delivers_in_append_order_and_empties_the_spool(spool: Spool):
    for name in ("a", "b", "c"):
        spool.append(event(name))
    assert spool.depth() == 3 and spool.holds_events()
    taker = Taker()
    assert spool.replay(taker.record) == 3
    assert tasks(taker.taken) == ["a", "b", "c"]
    assert taker.taken[0] == event("a").__class__.from_dict(taker.taken[0].to_dict())
    assert spool.depth() == 0 and not spool.holds_events()


def test_replay_removes_only_what_it_delivered(spool: Spool):
    for name in ("a", "b", "c", "d"):
        spool.append(event(name))
    taker = Taker(refuse_after=2)
    assert spool.replay(taker.record) == 2
    assert tasks(taker.taken) == ["a", "b"]
    assert spool.depth() == 2
    spool.append(event("e"))  # new events queue behind what waits
    later = Taker()
    assert spool.replay(later.record) == 3
    assert tasks(later.taken) == ["c", "d", "e"]


def test_a_truncated_last_line_is_skipped_not_fatal(spool: Spool):
    spool.append(event("a"))
    spool.append(event("b"))
    whole = spool.path.read_bytes()
    spool.path.write_bytes(whole[: len(whole) - 20])  # a crash in the middle of writing "b"
    taker = Taker()
    assert spool.replay(taker.record) == 1
    assert tasks(taker.taken) == ["a"]
    assert not spool.holds_events(), "the broken remains are gone too"


def test_an_append_after_a_crash_mid_write_stays_readable(spool: Spool):
    spool.append(event("a"))
    with spool.path.open("ab") as handle:
        handle.write(b'{"kind": "succeeded", "task_')  # the crash
    spool.append(event("b"))
    taker = Taker()
    assert spool.replay(taker.record) == 2
    assert tasks(taker.taken) == ["a", "b"]


def test_files_are_private_and_each_append_is_fsynced(spool: Spool, monkeypatch: pytest.MonkeyPatch):
    synced: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((os.fstat(fd).st_ino, os.fstat(fd).st_size))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    spool.append(event("a"))
    info = spool.path.stat()
    assert (info.st_ino, info.st_size) in synced, "the file's bytes are on disk before append returns"
    assert spool.folder.stat().st_ino in [ino for ino, _ in synced], "and its new name too"
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(spool.folder.stat().st_mode) == 0o700
    spool.append(event("b"))
    spool.replay(Taker(refuse_after=1).record)  # the rest is rewritten: still private
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o600 and spool.depth() == 1


def test_the_chain_falls_back_to_the_database_then_the_spool(spool: Spool):
    stream, database = Taker(), Taker()
    recorder = FallbackRecorder([stream, database], spool)
    recorder.record(event("a"))
    stream.up = False
    recorder.record(event("b"))
    database.up = False
    recorder.record(event("c"))
    assert (tasks(stream.taken), tasks(database.taken)) == (["a"], ["b"])
    assert spool.depth() == 1


def test_events_after_a_spooled_one_queue_behind_it_until_the_replay(spool: Spool):
    stream = Taker(up=False)
    recorder = FallbackRecorder([stream], spool)
    recorder.record(event("job-1", EventKind.STARTED))
    stream.up = True  # Redis is back before the replay ran
    recorder.record(event("job-1", EventKind.SUCCEEDED))
    assert stream.taken == [] and spool.depth() == 2, "the outcome waits behind its start"
    assert recorder.replay() == 2
    assert [e.kind for e in stream.taken] == [EventKind.STARTED, EventKind.SUCCEEDED]
    recorder.record(event("job-2"))
    assert tasks(stream.taken)[-1] == "job-2" and spool.depth() == 0, "then straight to the stream"


def test_replays_back_off_while_nothing_takes_the_events(monkeypatch: pytest.MonkeyPatch):
    clock = [100.0]
    monkeypatch.setattr("netraven_tasks.tracking.fallback.time.monotonic", lambda: clock[0])
    tries: list[float] = []
    drained = [False]

    def replay() -> bool:
        tries.append(clock[0])
        return drained[0]

    replays = SpoolReplay(replay)
    for _ in range(40):  # the worker's timer: every 0.5 s for 20 s
        replays.tick()
        clock[0] += 0.5
    gaps = [b - a for a, b in pairwise(tries)]
    assert gaps[:4] == [0.5, 1.0, 2.0, 4.0] and max(gaps) <= 5.0
    drained[0] = True
    clock[0] += 5.0
    replays.tick()
    replays.tick()
    assert tries[-2:] == [clock[0], clock[0]], "once drained, every tick looks again"


def test_a_huge_or_odd_event_is_spooled_storable_on_one_line(spool: Spool):
    odd = TrackingEvent(
        kind=EventKind.SUCCEEDED, task_id="odd", job_type="x", result={"text": "a\nb\x00\ud800" * 50_000}
    )
    spool.append(odd)
    assert spool.depth() == 1 and spool.path.stat().st_size < 40_000, "made storable, newlines escaped"
    taker = Taker()
    assert spool.replay(taker.record) == 1
    [replayed] = taker.taken
    assert "\x00" not in json.dumps(replayed.result) and len(json.dumps(replayed.result)) < 40_000
