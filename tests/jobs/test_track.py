"""``track()`` on another Celery app: job types read from its tasks, one event per signal, retries
by policy, nothing launched by NetRaven. No server: the app's broker is kombu's in-memory one and
each integration's recorder is a list."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

import netraven_tasks.celery_app as netraven_app
from netraven_tasks import track
from netraven_tasks.jobs import RetryPolicy, get_job_type
from netraven_tasks.jobs.launch_roles import LaunchForbidden
from netraven_tasks.tracking.events import EventKind, TrackingEvent


class Recorded(list[TrackingEvent]):
    """A recorder that keeps what it is given."""

    def record(self, event: TrackingEvent) -> None:
        self.append(event)

    def kinds(self, task_id: str) -> list[EventKind]:
        return [event.kind for event in self if event.task_id == task_id]


class LabApp:
    """A team's Celery app with a backup task, a flaky one and one nobody tracks; unique task names
    (the job types of a process are the process's)."""

    def __init__(self) -> None:
        self.prefix = f"lab{uuid.uuid4().hex[:8]}"
        self.app = Celery(self.prefix, broker="memory://", set_as_current=False)
        self.calls = 0

        @self.app.task(name=f"{self.prefix}.backup", bind=True)
        def backup(
            task: Any, host: str, port: int = 22, *extra: Any, verbose: bool = False
        ) -> dict[str, Any]:
            """Back up one device.

            More words that are not the description."""
            return {"host": host}

        @self.app.task(name=f"{self.prefix}.flaky")
        def flaky(device: str) -> str:
            self.calls += 1
            if self.calls < 3:
                raise TimeoutError(f"{device} is silent")
            return "ok"

        @self.app.task(name=f"{self.prefix}.housekeeping")
        def housekeeping() -> None:
            """Not a job run."""

        self.backup, self.flaky, self.housekeeping = backup, flaky, housekeeping


@pytest.fixture
def lab() -> LabApp:
    return LabApp()


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Recorded, Recorded]]:
    """(what the lab app's integration records, what NetRaven's own app's integration records);
    neither reaches Redis (no record of published messages in a unit test)."""
    lab_events, own_events = Recorded(), Recorded()
    monkeypatch.setitem(netraven_app.integration._made, "recorder", own_events)
    monkeypatch.setitem(netraven_app.integration._made, "redis", None)
    yield lab_events, own_events


def tracked(lab: LabApp, events: Recorded, **options: Any) -> None:
    track(lab.app, **options)
    lab.app.netraven._made.update(recorder=events, redis=None)  # type: ignore[attr-defined]


def test_a_tracked_task_is_a_job_type_read_from_its_signature_and_docstring(lab, recorded):
    [declared] = track(lab.app, tasks={lab.backup.name: f"{lab.prefix}_backup"}, device_arg="host")
    assert get_job_type(f"{lab.prefix}_backup") is declared
    assert declared.task_name == lab.backup.name and declared.tracked
    assert declared.description == "Back up one device."
    fields = declared.arguments().fields
    assert list(fields) == ["host", "port", "verbose"]  # *extra has no name to pass it by
    assert [type(field).__name__ for field in fields.values()] == ["String", "Integer", "Boolean"]
    assert [field.required for field in fields.values()] == [True, False, False]
    assert declared.named_arguments(["r1", 830], {"verbose": True}) == {
        "host": "r1",
        "port": 830,
        "verbose": True,
    }
    assert declared.device_of(declared.named_arguments(["r1"], {})) == "r1"
    assert declared.policy.max_attempts == 1  # no policy given: NetRaven decides no retry
    with pytest.raises(LaunchForbidden, match="launched by its own Celery app"):
        declared.authorize({"host": "r1"}, True, netraven_app.integration.settings)


def test_track_names_what_is_wrong(lab, recorded):
    with pytest.raises(ValueError, match="has no task 'nope'"):
        track(lab.app, tasks=["nope"])
    with pytest.raises(ValueError, match=r"no parameter 'host'.*its parameters: device"):
        track(lab.app, tasks=[lab.flaky.name])
    with pytest.raises(ValueError, match="NetRaven's own tasks"):
        track(lab.app, tasks=["netraven.jobs.reachability_check"])
    both = {lab.backup.name: f"{lab.prefix}_backup", lab.housekeeping.name: "reachability_check"}
    with pytest.raises(ValueError, match="job type 'reachability_check' is declared twice"):
        track(lab.app, tasks=both, device_arg=None)
    assert get_job_type(f"{lab.prefix}_backup") is None  # all or none
    with pytest.raises(ValueError, match="letters, digits"):
        track(lab.app, tasks={lab.backup.name: "a/b"})
    with pytest.raises(ValueError, match="NetRaven's own"):
        track(netraven_app.app, tasks=[lab.backup.name])


def test_each_signal_of_a_tracked_task_is_recorded_once_by_its_own_apps_integration(lab, recorded):
    lab_events, own_events = recorded
    tracked(lab, lab_events, tasks=[lab.backup.name])
    tracked(lab, lab_events, tasks=[lab.backup.name])  # twice: nothing connected twice

    published = lab.backup.delay("r1", port=830)
    lab.housekeeping.delay()
    [queued] = lab_events
    assert (queued.kind, queued.task_id, queued.job_type) == (EventKind.QUEUED, published.id, lab.backup.name)
    assert (queued.device, queued.args) == ("r1", {"host": "r1", "port": 830})

    ran = lab.backup.apply(("r2",))
    assert lab_events.kinds(ran.id) == [EventKind.STARTED, EventKind.SUCCEEDED]
    lab.housekeeping.apply()
    assert len(lab_events) == 3  # the housekeeping task is not named: not a single event
    assert own_events == []  # NetRaven's own app tracks its own job types only


def test_a_retry_policy_retries_the_errors_it_names(lab, recorded):
    lab_events, _ = recorded
    policy = RetryPolicy(max_attempts=3, backoff_base=0, jitter=0, retry_on=(TimeoutError,))
    tracked(lab, lab_events, tasks=[lab.flaky.name], device_arg="device", retry=policy)
    tracked(lab, lab_events, tasks=[lab.flaky.name], device_arg="device", retry=policy)  # not wrapped twice

    result = lab.flaky.apply(("r3",))  # eager: Celery runs each retry at once
    assert result.get() == "ok" and lab.calls == 3
    kinds = [event.kind for event in lab_events]
    assert kinds.count(EventKind.RETRY_SCHEDULED) == 2 and kinds[-1] is EventKind.SUCCEEDED
    assert {event.device for event in lab_events if event.kind is EventKind.STARTED} == {"r3"}
